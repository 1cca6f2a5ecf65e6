//! A gradient guard at `after_backward`: when any gradient holds a NaN or an infinity, skip
//! the optimizer step (the weights stay as they were) and count it; the count shows up in
//! the logs as `skipped_steps`. Optionally also skips steps whose gradient norm exceeds
//! `max_norm` (a spike guard, unlike clipping, which would still take the step).

use serde::{Deserialize, Serialize};
use weft_guest::hook::{Hook, HookPoint, RunState, log_scalar, register_hook, skip_step, warn};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Skip steps whose total gradient L2 norm exceeds this (default: only non-finite ones).
    max_norm: Option<f64>,
    /// Print a warning for the first N skips.
    #[serde(default = "default_warn")]
    warn_first: u64,
}

fn default_warn() -> u64 {
    3
}

#[derive(Serialize, Deserialize, Default)]
struct Saved {
    skipped: u64,
}

struct GradGuard {
    cfg: Config,
    saved: Saved,
}

impl Hook for GradGuard {
    const TYPE_NAME: &'static str = "GradGuardHook";

    fn new(config: serde_json::Value) -> Result<Self, String> {
        Ok(GradGuard {
            cfg: weft_guest::config(config)?,
            saved: Saved::default(),
        })
    }

    fn points(&self) -> Vec<HookPoint> {
        vec![HookPoint::AfterBackward, HookPoint::AfterTrainIter]
    }

    fn after_backward(&mut self, s: &RunState) -> Result<(), String> {
        // One joint norm is enough to detect a non-finite value anywhere (it propagates);
        // per-parameter statistics are read only to name the culprits.
        let norm = s.grad_norm(2.0).unwrap_or(0.0);
        let too_big = self.cfg.max_norm.is_some_and(|m| norm > m);
        if norm.is_finite() && !too_big {
            return Ok(());
        }
        skip_step();
        self.saved.skipped += 1;
        if self.saved.skipped <= self.cfg.warn_first {
            let bad: Vec<String> = s
                .param_stats()
                .into_iter()
                .filter(|p| !p.finite)
                .map(|p| p.name)
                .collect();
            warn(&format!(
                "iteration {}: gradient norm {norm}; step skipped{}",
                s.iter() + 1,
                if bad.is_empty() {
                    String::new()
                } else {
                    format!(" (non-finite: {})", bad.join(", "))
                }
            ));
        }
        Ok(())
    }

    fn after_train_iter(&mut self, _s: &RunState) -> Result<(), String> {
        log_scalar("skipped_steps", self.saved.skipped as f64);
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

register_hook!(GradGuard);
