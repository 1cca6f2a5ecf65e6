//! MMCV's `EvalHook` as MMAction2 uses it (priority LOW): when to evaluate, the metrics, and
//! the best-checkpoint bookkeeping.

use std::path::PathBuf;

use serde_json::Value;

use crate::action::{Action, SaveRequest};
use crate::context::RunContext;
use crate::engine::{Predictions, Split};
use crate::error::{HookError, HookResult};
use crate::hook::builtin::{Role, Sealed};
use crate::log_buffer::LogValue;
use crate::metrics;
use crate::stage::{Stage, StageSet};

/// A metric the hook computes.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// `top{k}_acc` for each k.
    TopK(Vec<u32>),
    /// `mean_class_accuracy`.
    MeanClass,
}

/// The metric names the hook knows.
pub const METRIC_NAMES: [&str; 2] = ["top_k_accuracy", "mean_class_accuracy"];

pub(crate) const DEFAULT_GREATER: [&str; 10] = [
    "acc",
    "top",
    "AR@",
    "auc",
    "precision",
    "mAP",
    "mDice",
    "mIoU",
    "mAcc",
    "aAcc",
];
pub(crate) const DEFAULT_LESS: [&str; 1] = ["loss"];

/// Whether greater or smaller values of a metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Higher is better.
    Greater,
    /// Lower is better.
    Less,
}

/// MMCV's rule inference for `save_best`: exact key (case-insensitive) in the greater or less
/// keys, then substring, else `None` (the user must give `rule`).
pub fn infer_rule(key: &str, greater: &[String], less: &[String]) -> Option<Rule> {
    let key = key.to_lowercase();
    let greater: Vec<String> = greater.iter().map(|k| k.to_lowercase()).collect();
    let less: Vec<String> = less.iter().map(|k| k.to_lowercase()).collect();
    if greater.contains(&key) {
        Some(Rule::Greater)
    } else if less.contains(&key) {
        Some(Rule::Less)
    } else if greater.iter().any(|k| key.contains(k.as_str())) {
        Some(Rule::Greater)
    } else if less.iter().any(|k| key.contains(k.as_str())) {
        Some(Rule::Less)
    } else {
        None
    }
}

/// The results of one evaluation: metric values in order, and how many batches it ran
/// (MMCV's `eval_iter_num`, the `iter` of the logged line).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// `(name, value)` in the order the metrics were asked for.
    pub results: Vec<(String, f64)>,
    /// Batches evaluated.
    pub batches: usize,
}

/// What computes an evaluation: by default the engine's predictions scored with the
/// configured metrics (MMAction2's `dataset.evaluate`); tests and tools may substitute their
/// own, as MMCV's `test_fn` and dataset allow.
pub type Evaluator = Box<dyn FnMut(&mut RunContext) -> Result<Evaluation, HookError> + Send>;

/// MMAction2's `dataset.evaluate`: each metric's values over a split's predictions, in the
/// order asked (`top{k}_acc` for each k, then `mean_class_accuracy`).
pub fn score(predictions: &Predictions, metrics: &[Metric]) -> Vec<(String, f64)> {
    let mut results = Vec::new();
    for metric in metrics {
        match metric {
            Metric::TopK(ks) => {
                for k in ks {
                    let acc = metrics::top_k_accuracy(
                        &predictions.scores,
                        predictions.num_classes,
                        &predictions.labels,
                        *k as usize,
                    );
                    results.push((format!("top{k}_acc"), acc));
                }
            }
            Metric::MeanClass => {
                let acc = metrics::mean_class_accuracy(
                    &predictions.scores,
                    predictions.num_classes,
                    &predictions.labels,
                );
                results.push(("mean_class_accuracy".into(), acc));
            }
        }
    }
    results
}

/// The lines MMAction2 logs while it evaluates (`Evaluating top_k_accuracy ...` and a
/// `\ntop1_acc\t0.8986` block per metric).
pub fn evaluation_messages(metrics: &[Metric], results: &[(String, f64)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = results.iter();
    for metric in metrics {
        match metric {
            Metric::TopK(ks) => {
                out.push("Evaluating top_k_accuracy ...".into());
                let mut msg = String::new();
                for (name, acc) in rest.by_ref().take(ks.len()) {
                    msg += &format!("\n{name}\t{acc:.4}");
                }
                out.push(msg);
            }
            Metric::MeanClass => {
                out.push("Evaluating mean_class_accuracy ...".into());
                if let Some((_, acc)) = rest.next() {
                    out.push(format!("\nmean_acc\t{acc:.4}"));
                }
            }
        }
    }
    out
}

/// Scores the engine's predictions on `split` with `metrics`, logging as MMAction2 does.
pub fn metric_evaluator(metrics: Vec<Metric>, split: Split) -> Evaluator {
    Box::new(move |ctx: &mut RunContext| {
        let predictions = ctx.engine.predict(split)?;
        let results = score(&predictions, &metrics);
        for line in evaluation_messages(&metrics, &results) {
            ctx.log.info(&line);
        }
        Ok(Evaluation {
            results,
            batches: predictions.batches,
        })
    })
}

/// Evaluates the model on a split every `interval` epochs or iterations.
pub struct EvalHook {
    evaluator: Evaluator,
    interval: u64,
    start: Option<u64>,
    by_epoch: bool,
    save_best: Option<String>,
    rule: Option<Rule>,
    greater_keys: Vec<String>,
    less_keys: Vec<String>,
    initial_flag: bool,
    best_ckpt_path: Option<PathBuf>,
    due: bool,
}

/// Settings of an [`EvalHook`].
#[derive(Debug, Clone)]
pub struct EvalSettings {
    /// Metrics to compute.
    pub metrics: Vec<Metric>,
    /// Split to evaluate.
    pub split: Split,
    /// Every this many epochs/iterations.
    pub interval: u64,
    /// First epoch/iteration (1-based, MMCV's `start`).
    pub start: Option<u64>,
    /// Count in epochs.
    pub by_epoch: bool,
    /// Metric key whose best value keeps a checkpoint (`auto`: the first).
    pub save_best: Option<String>,
    /// Explicit rule.
    pub rule: Option<Rule>,
    /// Keys for which greater is better (replace the defaults when given).
    pub greater_keys: Option<Vec<String>>,
    /// Keys for which less is better (replace the defaults when given).
    pub less_keys: Option<Vec<String>>,
}

impl EvalHook {
    /// A hook with validated settings, scoring the engine's predictions. Fails when
    /// `save_best` names a key whose rule cannot be inferred and none is given.
    pub fn new(s: EvalSettings) -> Result<Self, String> {
        let evaluator = metric_evaluator(s.metrics.clone(), s.split);
        Self::with_evaluator(s, evaluator)
    }

    /// A hook whose evaluations come from `evaluator` (the settings' metrics and split are
    /// then unused).
    pub fn with_evaluator(s: EvalSettings, evaluator: Evaluator) -> Result<Self, String> {
        let greater_keys = s
            .greater_keys
            .unwrap_or_else(|| DEFAULT_GREATER.iter().map(|k| k.to_string()).collect());
        let less_keys = s
            .less_keys
            .unwrap_or_else(|| DEFAULT_LESS.iter().map(|k| k.to_string()).collect());
        let mut rule = s.rule;
        if let Some(key) = &s.save_best
            && key != "auto"
            && rule.is_none()
        {
            rule = Some(infer_rule(key, &greater_keys, &less_keys).ok_or_else(|| {
                format!(
                    "cannot infer the rule for key {key}; set `rule = \"greater\"` or `\"less\"`"
                )
            })?);
        }
        Ok(EvalHook {
            evaluator,
            interval: s.interval,
            start: s.start,
            by_epoch: s.by_epoch,
            save_best: s.save_best,
            rule,
            greater_keys,
            less_keys,
            initial_flag: true,
            best_ckpt_path: None,
            due: false,
        })
    }

    fn should_evaluate(&self, ctx: &RunContext) -> bool {
        let current = if self.by_epoch { ctx.epoch } else { ctx.iter };
        match self.start {
            None => {
                if self.by_epoch {
                    ctx.every_n_epochs(self.interval as i64)
                } else {
                    ctx.every_n_iters(self.interval as i64)
                }
            }
            Some(start) if current + 1 < start => false,
            Some(start) => (current + 1 - start) % self.interval == 0,
        }
    }

    /// Evaluates now: the results go to the log buffer (for the loggers), `meta.last_eval`
    /// and the best-checkpoint bookkeeping.
    pub(crate) fn evaluate(&mut self, ctx: &mut RunContext) -> HookResult {
        let Evaluation { results, batches } = (self.evaluator)(ctx)?;
        ctx.evaluations += 1;
        ctx.last_eval.clone_from(&results);
        ctx.log_buffer
            .output
            .insert("eval_iter_num".into(), LogValue::Int(batches as i64));
        for (name, value) in &results {
            ctx.log_buffer
                .output
                .insert(name.clone(), LogValue::Float(*value));
        }
        ctx.log_buffer.ready = true;
        ctx.meta.insert(
            "last_eval".into(),
            Value::Object(
                results
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(*v)))
                    .collect(),
            ),
        );
        if let Some(save_best) = self.save_best.clone() {
            let Some((first, _)) = results.first() else {
                ctx.log.warn("Since `eval_res` is an empty dict, the behavior to save the best checkpoint will be skipped in this evaluation.");
                return Ok(());
            };
            let key = if save_best == "auto" {
                first.clone()
            } else {
                save_best
            };
            if self.rule.is_none() {
                self.rule = Some(
                    infer_rule(&key, &self.greater_keys, &self.less_keys).ok_or_else(|| {
                        HookError::new(format!(
                            "cannot infer the rule for key {key}; set `rule` in `evaluation`"
                        ))
                    })?,
                );
            }
            self.save_best = Some(key.clone());
            let Some((_, score)) = results.iter().find(|(k, _)| *k == key) else {
                return Err(HookError::new(format!(
                    "save_best = \"{key}\" but the evaluation produced only: {}",
                    results
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            self.save_if_best(ctx, &key, *score);
        }
        Ok(())
    }

    /// MMCV compares strictly against `meta.hook_msgs.best_score`. Unlike MMCV, a score of
    /// exactly 0 is considered too (MMCV skips it because it tests the score's truthiness).
    fn save_if_best(&mut self, ctx: &mut RunContext, key: &str, score: f64) {
        let rule = self.rule.unwrap_or(Rule::Greater);
        let best = ctx
            .hook_msgs()
            .get("best_score")
            .and_then(Value::as_f64)
            .unwrap_or(match rule {
                Rule::Greater => f64::NEG_INFINITY,
                Rule::Less => f64::INFINITY,
            });
        let better = match rule {
            Rule::Greater => score > best,
            Rule::Less => score < best,
        };
        if !better {
            return;
        }
        let (current, unit) = if self.by_epoch {
            (ctx.epoch + 1, "epoch")
        } else {
            (ctx.iter + 1, "iter")
        };
        let name = format!("best_{key}_{unit}_{current}.safetensors");
        let path = ctx.work_dir.join(&name);
        let msgs = ctx.hook_msgs();
        msgs.insert("best_score".into(), Value::from(score));
        msgs.insert("best_ckpt".into(), Value::from(path.display().to_string()));
        let remove_after: Vec<PathBuf> = self
            .best_ckpt_path
            .take()
            .into_iter()
            .filter(|p| *p != path)
            .collect();
        for old in &remove_after {
            // MMCV removes the old file first and says so; weft removes it once the new one
            // is safely written, but keeps MMCV's message and its place in the log.
            ctx.log.info(&format!(
                "The previous best checkpoint {} was removed",
                old.display()
            ));
        }
        ctx.act(Action::Checkpoint(SaveRequest {
            path: Some(path.clone()),
            with_optimizer: true,
            link_latest: false,
            record_as_last: false,
            remove_after,
        }));
        self.best_ckpt_path = Some(path);
        ctx.log
            .info(&format!("Now best checkpoint is saved as {name}."));
        ctx.log
            .info(&format!("Best {key} is {score:.4} at {current} {unit}."));
    }
}

impl EvalHook {
    /// Whether a by-iteration evaluation is due (and forgets it). The runner then lets every
    /// logger log the iteration, clears the log buffer and calls [`EvalHook::evaluate`], as
    /// MMCV's `EvalHook.after_train_iter` does itself.
    pub(crate) fn take_due(&mut self) -> bool {
        std::mem::take(&mut self.due)
    }
}

impl crate::Hook for EvalHook {
    fn name(&self) -> &str {
        "EvalHook"
    }

    fn points(&self) -> StageSet {
        [
            Stage::BeforeRun,
            Stage::BeforeTrainEpoch,
            Stage::BeforeTrainIter,
            Stage::AfterTrainIter,
            Stage::AfterTrainEpoch,
        ]
        .into_iter()
        .collect()
    }

    fn role(&mut self, _: Sealed) -> Role<'_> {
        Role::Eval(self)
    }

    fn before_run(&mut self, ctx: &mut RunContext) -> HookResult {
        if self.save_best.is_some() {
            self.best_ckpt_path = ctx
                .hook_msgs()
                .get("best_ckpt")
                .and_then(Value::as_str)
                .map(PathBuf::from);
        }
        Ok(())
    }

    fn before_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        if !self.by_epoch || !self.initial_flag {
            return Ok(());
        }
        if self.start.is_some_and(|s| ctx.epoch >= s) {
            self.after_train_epoch(ctx)?;
        }
        self.initial_flag = false;
        Ok(())
    }

    fn before_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        if self.by_epoch || !self.initial_flag {
            return Ok(());
        }
        if self.start.is_some_and(|s| ctx.iter >= s) {
            self.after_train_iter(ctx)?;
        }
        self.initial_flag = false;
        Ok(())
    }

    fn after_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        self.due = !self.by_epoch && self.should_evaluate(ctx);
        Ok(())
    }

    fn after_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        if self.by_epoch && self.should_evaluate(ctx) {
            self.evaluate(ctx)?;
        }
        Ok(())
    }

    fn save_state(&mut self) -> Result<Option<Value>, HookError> {
        Ok(Some(
            serde_json::json!({ "initial_flag": self.initial_flag }),
        ))
    }

    fn load_state(&mut self, state: &Value) -> HookResult {
        if let Some(flag) = state.get("initial_flag").and_then(Value::as_bool) {
            self.initial_flag = flag;
        }
        Ok(())
    }
}
