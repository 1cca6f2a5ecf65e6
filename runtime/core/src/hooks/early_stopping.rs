//! MMEngine's `EarlyStoppingHook` (priority LOWEST), for MMCV-style runs: after each
//! evaluation, compare the monitored metric with the best so far; stop the run when it has
//! not improved by `min_delta` for `patience` evaluations, when it is not finite, or when it
//! crosses `stopping_threshold`.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::action::Action;
use crate::context::RunContext;
use crate::error::{HookError, HookResult};
use crate::hooks::eval::{DEFAULT_GREATER, DEFAULT_LESS, Rule, infer_rule};
use crate::stage::{Stage, StageSet};

/// `custom_hooks` entry `{ type = "EarlyStoppingHook", monitor = "top1_acc", ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStoppingConfig {
    /// The evaluation metric to watch (`top1_acc`, `mean_class_accuracy`, ...).
    pub monitor: String,
    /// `greater` or `less`; inferred from the name as the evaluation hook infers it.
    pub rule: Option<String>,
    /// The least change that counts as an improvement. Default 0.1 (MMEngine's).
    #[serde(default = "min_delta")]
    pub min_delta: f64,
    /// Fail when an evaluation lacks the metric (default: warn).
    #[serde(default)]
    pub strict: bool,
    /// Stop when the metric is NaN or infinite. Default true.
    #[serde(default = "yes")]
    pub check_finite: bool,
    /// Evaluations without improvement before stopping. Default 5.
    #[serde(default = "five")]
    pub patience: u64,
    /// Stop as soon as the metric is better than this.
    pub stopping_threshold: Option<f64>,
}

fn min_delta() -> f64 {
    0.1
}

fn yes() -> bool {
    true
}

fn five() -> u64 {
    5
}

/// Stops training when a metric stops improving.
pub struct EarlyStoppingHook {
    config: EarlyStoppingConfig,
    rule: Rule,
    best: f64,
    wait: u64,
    seen: u64,
}

impl EarlyStoppingHook {
    /// A hook from its config; fails when the rule is neither given nor inferable.
    pub fn new(config: EarlyStoppingConfig) -> Result<Self, String> {
        let rule = match config.rule.as_deref() {
            Some("greater") => Rule::Greater,
            Some("less") => Rule::Less,
            Some(other) => {
                return Err(format!(
                    "rule must be \"greater\" or \"less\", not \"{other}\""
                ));
            }
            None => {
                let greater: Vec<String> = DEFAULT_GREATER.iter().map(|k| k.to_string()).collect();
                let less: Vec<String> = DEFAULT_LESS.iter().map(|k| k.to_string()).collect();
                infer_rule(&config.monitor, &greater, &less).ok_or_else(|| {
                    format!(
                        "cannot infer the rule for {}; set `rule = \"greater\"` or `\"less\"`",
                        config.monitor
                    )
                })?
            }
        };
        if !(config.min_delta >= 0.0 && config.min_delta.is_finite()) {
            return Err(format!(
                "min_delta must be finite and >= 0, got {}",
                config.min_delta
            ));
        }
        if config.patience == 0 {
            return Err("patience must be at least 1".into());
        }
        Ok(EarlyStoppingHook {
            config,
            rule,
            best: match rule {
                Rule::Greater => f64::NEG_INFINITY,
                Rule::Less => f64::INFINITY,
            },
            wait: 0,
            seen: 0,
        })
    }

    fn better(&self, a: f64, b: f64) -> bool {
        match self.rule {
            Rule::Greater => a > b,
            Rule::Less => a < b,
        }
    }

    /// MMEngine's `_check_stop_condition`: why to stop, if at all.
    fn check(&mut self, score: f64) -> Option<String> {
        let monitor = &self.config.monitor;
        let delta = match self.rule {
            Rule::Greater => self.config.min_delta,
            Rule::Less => -self.config.min_delta,
        };
        if self.config.check_finite && !score.is_finite() {
            return Some(format!(
                "monitored metric {monitor} = {score} is infinite; previous best value was {:.3}",
                self.best
            ));
        }
        if let Some(t) = self.config.stopping_threshold
            && self.better(score, t)
        {
            self.best = score;
            let rule = match self.rule {
                Rule::Greater => "greater",
                Rule::Less => "less",
            };
            return Some(format!(
                "stopping threshold reached: {monitor} = {score} is {rule} than {t}"
            ));
        }
        if self.better(self.best + delta, score) {
            self.wait += 1;
            if self.wait >= self.config.patience {
                return Some(format!(
                    "{monitor} did not improve in the last {} evaluations; best score: {:.3}",
                    self.wait, self.best
                ));
            }
        } else {
            self.best = score;
            self.wait = 0;
        }
        None
    }

    fn after_evaluation(&mut self, ctx: &mut RunContext) -> HookResult {
        if ctx.evaluations == self.seen {
            return Ok(());
        }
        self.seen = ctx.evaluations;
        let score = ctx
            .last_eval
            .iter()
            .find(|(k, _)| *k == self.config.monitor)
            .map(|(_, v)| *v);
        let Some(score) = score else {
            let message = format!(
                "EarlyStoppingHook: the evaluation has no `{}`; it has {}",
                self.config.monitor,
                ctx.last_eval
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if self.config.strict {
                return Err(HookError::new(message));
            }
            ctx.log.warn(&message);
            return Ok(());
        };
        if let Some(reason) = self.check(score) {
            ctx.log.info(&format!("EarlyStoppingHook: {reason}"));
            ctx.act(Action::Stop { reason });
        }
        Ok(())
    }
}

impl crate::Hook for EarlyStoppingHook {
    fn name(&self) -> &str {
        "EarlyStoppingHook"
    }

    fn points(&self) -> StageSet {
        [
            Stage::BeforeRun,
            Stage::AfterTrainIter,
            Stage::AfterTrainEpoch,
            Stage::AfterValEpoch,
        ]
        .into_iter()
        .collect()
    }

    fn default_priority(&self) -> crate::Priority {
        crate::Priority::LOWEST
    }

    fn before_run(&mut self, ctx: &mut RunContext) -> HookResult {
        // Evaluations before this run (restored metadata of a resumed run) are not new.
        self.seen = ctx.evaluations;
        Ok(())
    }

    fn after_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        self.after_evaluation(ctx)
    }

    fn after_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.after_evaluation(ctx)
    }

    fn after_val_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.after_evaluation(ctx)
    }

    fn save_state(&mut self) -> Result<Option<Value>, HookError> {
        Ok(Some(json!({ "best": self.best, "wait": self.wait })))
    }

    fn load_state(&mut self, state: &Value) -> HookResult {
        if let Some(best) = state.get("best").and_then(Value::as_f64) {
            self.best = best;
        }
        if let Some(wait) = state.get("wait").and_then(Value::as_u64) {
            self.wait = wait;
        }
        Ok(())
    }
}
