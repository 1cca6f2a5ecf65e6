//! Early stopping on a validation metric: after each evaluation, compare the metric with the
//! best so far; after `patience` evaluations without an improvement of at least
//! `min_delta`, ask the runner to stop (MMEngine's `EarlyStoppingHook`, as a plugin).
//!
//! Give it a priority below the evaluation hook's (LOW), e.g. `priority = "VERY_LOW"`, so it
//! sees the metrics of the evaluation that ran at the end of the same epoch.

use serde::{Deserialize, Serialize};
use weft_guest::hook::{Hook, HookPoint, RunState, info, log_scalar, register_hook, request_stop};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The metric to watch (`top1_acc`, `mean_class_accuracy`, ...).
    monitor: String,
    /// `greater` (accuracy) or `less` (a loss); default from the name, as MMEngine guesses.
    rule: Option<String>,
    /// Evaluations without improvement before stopping.
    #[serde(default = "default_patience")]
    patience: u32,
    /// The least change that counts as an improvement.
    #[serde(default)]
    min_delta: f64,
}

fn default_patience() -> u32 {
    5
}

#[derive(Serialize, Deserialize, Default)]
struct Saved {
    best: Option<f64>,
    wait: u32,
    /// The epoch whose evaluation was last looked at, so each evaluation counts once.
    seen_epoch: Option<u64>,
}

struct EarlyStop {
    cfg: Config,
    greater: bool,
    saved: Saved,
}

impl Hook for EarlyStop {
    const TYPE_NAME: &'static str = "EarlyStopHook";

    fn new(config: serde_json::Value) -> Result<Self, String> {
        let cfg: Config = weft_guest::config(config)?;
        let greater = match cfg.rule.as_deref() {
            Some("greater") => true,
            Some("less") => false,
            Some(other) => {
                return Err(format!(
                    "rule must be \"greater\" or \"less\", not {other:?}"
                ));
            }
            None => !cfg.monitor.contains("loss"),
        };
        if cfg.min_delta < 0.0 {
            return Err("min_delta must be >= 0".into());
        }
        Ok(EarlyStop {
            cfg,
            greater,
            saved: Saved::default(),
        })
    }

    fn points(&self) -> Vec<HookPoint> {
        vec![HookPoint::AfterTrainEpoch]
    }

    fn after_train_epoch(&mut self, s: &RunState) -> Result<(), String> {
        let Some(value) = s.metric(&self.cfg.monitor) else {
            return Ok(());
        };
        if self.saved.seen_epoch == Some(s.epoch()) {
            return Ok(());
        }
        self.saved.seen_epoch = Some(s.epoch());
        let improved = match self.saved.best {
            None => true,
            Some(best) if self.greater => value > best + self.cfg.min_delta,
            Some(best) => value < best - self.cfg.min_delta,
        };
        if improved {
            self.saved.best = Some(value);
            self.saved.wait = 0;
        } else {
            self.saved.wait += 1;
        }
        log_scalar("early_stop_wait", self.saved.wait as f64);
        if self.saved.wait >= self.cfg.patience {
            let best = self.saved.best.unwrap_or(value);
            info(&format!(
                "{} has not improved for {} evaluations (best {best:.4}, last {value:.4}): stopping",
                self.cfg.monitor, self.saved.wait
            ));
            request_stop(&format!("{} stopped improving", self.cfg.monitor));
        }
        Ok(())
    }

    fn save_state(&self) -> Result<Option<String>, String> {
        weft_guest::save_json(&self.saved)
    }

    fn load_state(&mut self, state: &str) -> Result<(), String> {
        self.saved = weft_guest::load_json(state)?;
        Ok(())
    }
}

register_hook!(EarlyStop);
