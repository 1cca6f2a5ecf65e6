//! `evaluation`: the metrics, the split and the evaluation hook they configure.

use weft_config::schema::EvalConfig;
use weft_config::{Config, ConfigError, ErrorKind, Origin, unknown_name_error};

use crate::engine::Split;
use crate::hooks::{EvalHook, EvalSettings, METRIC_NAMES, Metric, Rule};

/// The metrics `evaluation` asks for (`metrics`, with `topk` or `metric_options`), checked.
pub fn evaluation_metrics(cfg: &Config, ec: &EvalConfig) -> Result<Vec<Metric>, ConfigError> {
    metrics_named(
        cfg,
        ec,
        ec.metrics.iter().map(|m| (m.value.as_str(), &m.origin)),
    )
}

/// The metrics of these names with `evaluation`'s `topk` (what `weft test --eval` asks for).
pub fn metrics_named<'a>(
    cfg: &Config,
    ec: &EvalConfig,
    names: impl Iterator<Item = (&'a str, &'a Origin)>,
) -> Result<Vec<Metric>, ConfigError> {
    let mut topk: Option<Vec<u32>> = ec.topk.as_ref().map(|t| t.value.clone());
    if let Some(opts) = &ec.metric_options
        && let Some(t) = opts.0.get_path("top_k_accuracy.topk")
    {
        topk = Some(cfg.read(t)?);
    }
    let topk = topk.unwrap_or_else(|| vec![1, 5]);
    if topk.is_empty() || topk.contains(&0) {
        let origin = ec
            .topk
            .as_ref()
            .map(|t| t.origin.clone())
            .unwrap_or(Origin::Builtin);
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "topk must list positive integers",
            &origin,
        ));
    }
    let mut metrics = Vec::new();
    for (name, origin) in names {
        metrics.push(match name {
            "top_k_accuracy" => Metric::TopK(topk.clone()),
            "mean_class_accuracy" => Metric::MeanClass,
            other => {
                return Err(unknown_name_error("metric", other, METRIC_NAMES)
                    .with_location(cfg.sources().locate(origin)));
            }
        });
    }
    Ok(metrics)
}

pub(crate) fn eval_hook(cfg: &Config, ec: &EvalConfig) -> Result<EvalHook, ConfigError> {
    let metrics = evaluation_metrics(cfg, ec)?;
    if ec.interval.value == 0 {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "evaluation.interval must be at least 1",
            &ec.interval.origin,
        ));
    }
    let rule = match &ec.rule {
        None => None,
        Some(r) => Some(match r.value.as_str() {
            "greater" => Rule::Greater,
            "less" => Rule::Less,
            other => {
                return Err(cfg.error_at(
                    ErrorKind::InvalidValue,
                    format!("rule must be \"greater\" or \"less\", not \"{other}\""),
                    &r.origin,
                ));
            }
        }),
    };
    let split = evaluation_split(cfg, ec)?;
    let save_best = ec.save_best.as_ref().map(|s| s.value.clone());
    EvalHook::new(EvalSettings {
        metrics,
        split,
        interval: ec.interval.value,
        start: ec.start,
        by_epoch: ec.by_epoch,
        save_best,
        rule,
        greater_keys: ec.greater_keys.clone(),
        less_keys: ec.less_keys.clone(),
    })
    .map_err(|msg| {
        let origin = ec
            .save_best
            .as_ref()
            .map(|s| s.origin.clone())
            .unwrap_or(Origin::Builtin);
        cfg.error_at(ErrorKind::InvalidValue, msg, &origin)
    })
}

/// The split `evaluation.dataset` names: `val` (the default) or `test`.
pub fn evaluation_split(cfg: &Config, ec: &EvalConfig) -> Result<Split, ConfigError> {
    match ec.dataset.as_ref().map(|d| d.value.as_str()) {
        None | Some("val") => Ok(Split::Val),
        Some("test") => Ok(Split::Test),
        Some(other) => {
            let origin = ec
                .dataset
                .as_ref()
                .map(|d| d.origin.clone())
                .unwrap_or(Origin::Builtin);
            Err(cfg.error_at(
                ErrorKind::InvalidValue,
                format!("evaluation.dataset must be \"val\" or \"test\", not \"{other}\""),
                &origin,
            ))
        }
    }
}
