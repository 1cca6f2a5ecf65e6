//! A custom LR policy as a hook: linear warmup, then cosine annealing, per iteration. It
//! computes what MMCV's `CosineAnnealingLrUpdaterHook` with `warmup = "linear"` and
//! `by_epoch = false` computes, term by term, so the two curves agree at every iteration.

use serde::{Deserialize, Serialize};
use weft_guest::hook::{Hook, HookPoint, RunState, register_hook, set_lr};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Iterations of linear warmup (0: none).
    #[serde(default)]
    warmup_iters: u64,
    /// The warmup starts at `warmup_ratio * lr`.
    #[serde(default = "default_ratio")]
    warmup_ratio: f64,
    /// The final lr as a fraction of the base lr (MMCV's `min_lr_ratio`) ...
    min_lr_ratio: Option<f64>,
    /// ... or as a value (`min_lr`).
    min_lr: Option<f64>,
}

fn default_ratio() -> f64 {
    0.1
}

/// The state that must survive a resume: the base lr of every group (MMCV keeps it in the
/// optimizer as `initial_lr`).
#[derive(Serialize, Deserialize, Default)]
struct Saved {
    base_lr: Vec<f64>,
}

struct WarmupCosine {
    cfg: Config,
    saved: Saved,
}

impl WarmupCosine {
    fn target(&self, base: f64) -> f64 {
        match (self.cfg.min_lr, self.cfg.min_lr_ratio) {
            (Some(v), _) => v,
            (None, Some(r)) => base * r,
            (None, None) => 0.0,
        }
    }
}

/// MMCV's `annealing_cos(start, end, factor)`, with its operations in its order.
fn annealing_cos(start: f64, end: f64, factor: f64) -> f64 {
    let cos_out = portable_cos(std::f64::consts::PI * factor) + 1.0;
    end + 0.5 * (start - end) * cos_out
}

/// Cosine on [0, pi] from basic IEEE operations only, so that this plugin written in any
/// language computes the same bits: libm `cos` differs between Rust, Go, JavaScript engines
/// and Python builds in the last place. Within 2 ulp of the true cosine here.
///
/// Reflect into [0, pi/2] (cos x = -cos(pi - x)), then the Taylor series in x^2 to the
/// x^22 term by Horner's rule, its coefficients (-1)^k / (2k)! built by division.
fn portable_cos(x: f64) -> f64 {
    const PI: f64 = std::f64::consts::PI;
    let (y, sign) = if x > PI / 2.0 {
        (PI - x, -1.0)
    } else {
        (x, 1.0)
    };
    let mut coef = [0.0f64; 12];
    coef[0] = 1.0;
    for k in 1..12 {
        coef[k] = -coef[k - 1] / ((2 * k - 1) as f64 * (2 * k) as f64);
    }
    let y2 = y * y;
    let mut r = coef[11];
    for k in (0..11).rev() {
        r = r * y2 + coef[k];
    }
    sign * r
}

impl Hook for WarmupCosine {
    const TYPE_NAME: &'static str = "WarmupCosineLrHook";

    fn new(config: serde_json::Value) -> Result<Self, String> {
        let cfg: Config = weft_guest::config(config)?;
        if cfg.min_lr.is_some() && cfg.min_lr_ratio.is_some() {
            return Err("set only one of min_lr and min_lr_ratio".into());
        }
        if !(cfg.warmup_ratio > 0.0 && cfg.warmup_ratio <= 1.0) {
            return Err(format!(
                "warmup_ratio must be in (0, 1], got {}",
                cfg.warmup_ratio
            ));
        }
        Ok(WarmupCosine {
            cfg,
            saved: Saved::default(),
        })
    }

    fn points(&self) -> Vec<HookPoint> {
        vec![HookPoint::BeforeRun, HookPoint::BeforeTrainIter]
    }

    fn before_run(&mut self, s: &RunState) -> Result<(), String> {
        // A resumed run already has its base lr from the checkpoint.
        if self.saved.base_lr.is_empty() {
            self.saved.base_lr = s.lr();
        }
        Ok(())
    }

    fn before_train_iter(&mut self, s: &RunState) -> Result<(), String> {
        let (iter, max) = (s.iter(), s.max_iters());
        for (g, &base) in self.saved.base_lr.iter().enumerate() {
            let regular = annealing_cos(base, self.target(base), iter as f64 / max as f64);
            let lr = if iter >= self.cfg.warmup_iters {
                regular
            } else {
                let k = (1.0 - iter as f64 / self.cfg.warmup_iters as f64)
                    * (1.0 - self.cfg.warmup_ratio);
                regular * (1.0 - k)
            };
            set_lr(g as u32, lr);
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

register_hook!(WarmupCosine);
