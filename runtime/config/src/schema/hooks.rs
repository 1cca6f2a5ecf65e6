//! Arguments of MMCV's built-in hooks that are configured by top-level keys.

use serde::{Deserialize, Deserializer};

use crate::{Located, RawNode};

/// `optimizer_config`: MMCV's `OptimizerHook` (or `GradientCumulativeOptimizerHook`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerHookConfig {
    /// `OptimizerHook` (default) or `GradientCumulativeOptimizerHook`.
    #[serde(rename = "type")]
    pub kind: Option<Located<String>>,
    /// Clip the joint gradient norm of all parameters before the step.
    pub grad_clip: Option<GradClipConfig>,
    /// Log parameters that did not take part in the loss.
    #[serde(default)]
    pub detect_anomalous_params: bool,
    /// Steps accumulate gradients over this many iterations (cumulative hook only).
    pub cumulative_iters: Option<Located<u64>>,
}

/// `grad_clip = { max_norm = 35, norm_type = 2 }`, as `torch.nn.utils.clip_grad_norm_`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradClipConfig {
    /// Largest allowed total norm.
    pub max_norm: Located<f64>,
    /// The p of the norm: a positive number or `inf` (TOML `inf` or the string `"inf"`). Default 2.
    #[serde(default = "two", deserialize_with = "deserialize_norm_type")]
    pub norm_type: f64,
    /// Fail when the total norm is not finite (torch's `error_if_nonfinite`).
    #[serde(default)]
    pub error_if_nonfinite: bool,
}

fn two() -> f64 {
    2.0
}

/// A norm order: a number, TOML `inf`, or the string `"inf"` (JSON-minded configs).
pub fn deserialize_norm_type<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NormType {
        Number(f64),
        Text(String),
    }
    let value = match NormType::deserialize(d)? {
        NormType::Number(n) => n,
        NormType::Text(t) if t.eq_ignore_ascii_case("inf") => f64::INFINITY,
        NormType::Text(t) => {
            return Err(serde::de::Error::custom(format!(
                "norm_type must be a positive number or \"inf\", not \"{t}\""
            )));
        }
    };
    if value.is_nan() || value <= 0.0 {
        return Err(serde::de::Error::custom(format!(
            "norm_type must be a positive number or inf, not {value}"
        )));
    }
    Ok(value)
}

/// `checkpoint_config`: MMCV's `CheckpointHook`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// `CheckpointHook` (the only type).
    #[serde(rename = "type")]
    pub kind: Option<Located<String>>,
    /// Save every `interval` epochs (or iterations); `-1`: only the last (with `save_last`).
    #[serde(default = "minus_one")]
    pub interval: Located<i64>,
    /// Count `interval` in epochs (default for the epoch runner) or iterations.
    pub by_epoch: Option<bool>,
    /// Store optimizer state too (needed to resume exactly). Default true.
    #[serde(default = "yes")]
    pub save_optimizer: bool,
    /// Save into `out_dir/<work_dir name>` instead of the work dir.
    pub out_dir: Option<String>,
    /// Keep only the newest N interval checkpoints; `-1` keeps all.
    #[serde(default = "minus_one")]
    pub max_keep_ckpts: Located<i64>,
    /// Always save after the last epoch/iteration. Default true.
    #[serde(default = "yes")]
    pub save_last: bool,
    /// File name pattern with one `{}` for the epoch/iteration number.
    pub filename_tmpl: Option<Located<String>>,
    /// Point `latest.safetensors` at the newest checkpoint. Default true.
    #[serde(default = "yes")]
    pub create_symlink: bool,
    /// Accepted for MMCV compatibility (single process: nothing to sync).
    #[serde(default)]
    pub sync_buffer: bool,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig {
            kind: None,
            interval: minus_one(),
            by_epoch: None,
            save_optimizer: true,
            out_dir: None,
            max_keep_ckpts: minus_one(),
            save_last: true,
            filename_tmpl: None,
            create_symlink: true,
            sync_buffer: false,
        }
    }
}

fn minus_one() -> Located<i64> {
    Located::builtin(-1)
}

fn yes() -> bool {
    true
}

/// `log_config = { interval = 50, hooks = [{ type = "TextLoggerHook" }] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Default `interval` of every logger hook (at least 1). Default 10.
    #[serde(default = "ten")]
    pub interval: Located<u64>,
    /// Logger hooks, each `{ type = ..., ... }`.
    #[serde(default)]
    pub hooks: Vec<RawNode>,
}

fn ten() -> Located<u64> {
    Located::builtin(10)
}

/// `evaluation`: the evaluation hook (MMAction2 registers it at priority LOW).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Evaluate every `interval` epochs (or iterations with `by_epoch = false`). Default 1.
    #[serde(default = "one")]
    pub interval: Located<u64>,
    /// First epoch/iteration to evaluate at; with `start`, also once before training if
    /// the run is already there.
    pub start: Option<u64>,
    /// Count in epochs (default) or iterations.
    #[serde(default = "yes")]
    pub by_epoch: bool,
    /// Keep the checkpoint with the best value of this metric (`"auto"`: the first metric).
    pub save_best: Option<Located<String>>,
    /// `greater` or `less`; inferred from the metric name when absent.
    pub rule: Option<Located<String>>,
    /// Metric names: `top_k_accuracy`, `mean_class_accuracy`.
    #[serde(default = "default_metrics", deserialize_with = "one_or_many")]
    pub metrics: Vec<Located<String>>,
    /// The k of `top_k_accuracy`. Default `[1, 5]`.
    pub topk: Option<Located<Vec<u32>>>,
    /// Extra metric keys for which greater is better (rule inference).
    pub greater_keys: Option<Vec<String>>,
    /// Extra metric keys for which less is better (rule inference).
    pub less_keys: Option<Vec<String>>,
    /// MMAction2's per-metric options: `{ top_k_accuracy = { topk = [1, 5] } }`.
    pub metric_options: Option<RawNode>,
    /// Which split to evaluate on: `val` (default) or `test`.
    pub dataset: Option<Located<String>>,
}

fn one() -> Located<u64> {
    Located::builtin(1)
}

fn default_metrics() -> Vec<Located<String>> {
    vec![Located::builtin("top_k_accuracy".to_string())]
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Located<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    // Untagged enums lose the location, so read the located form first.
    let located = Located::<OneOrMany>::deserialize(d)?;
    let origin = located.origin.clone();
    let names = match located.value {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    };
    Ok(names
        .into_iter()
        .map(|value| Located {
            value,
            origin: origin.clone(),
        })
        .collect())
}
