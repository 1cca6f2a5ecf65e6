//! MMCV's `LrUpdaterHook` family: sets every group's lr at the stages MMCV does.

use crate::action::Action;
use crate::context::RunContext;
use crate::error::{HookError, HookResult};
use crate::schedule::{Policy, Progress, Schedule};
use crate::stage::{Stage, StageSet};

/// Applies an lr [`Schedule`] (priority VERY_HIGH).
pub struct LrUpdaterHook {
    schedule: Schedule,
    base_lr: Vec<f64>,
    regular_lr: Vec<f64>,
    warmup_iters: Option<u64>,
}

impl LrUpdaterHook {
    /// A hook for a parsed `lr_config`.
    pub fn new(schedule: Schedule) -> Self {
        LrUpdaterHook {
            schedule,
            base_lr: Vec::new(),
            regular_lr: Vec::new(),
            warmup_iters: None,
        }
    }

    fn regular(&self, ctx: &RunContext) -> Result<Vec<f64>, HookError> {
        let at = progress(&self.schedule, ctx);
        self.base_lr
            .iter()
            .map(|base| {
                self.schedule
                    .policy
                    .regular(*base, at)
                    .map_err(HookError::new)
            })
            .collect()
    }

    fn warmup_lr(&self, iter: u64) -> Vec<f64> {
        let warmup = self.schedule.warmup.expect("called only with a warmup");
        let w = self.warmup_iters.unwrap_or(warmup.iters);
        self.regular_lr
            .iter()
            .map(|r| warmup.lr(*r, iter, w))
            .collect()
    }
}

/// The counters a policy reads: epochs when `by_epoch`, else iterations.
pub(crate) fn progress(schedule: &Schedule, ctx: &RunContext) -> Progress {
    if schedule.by_epoch {
        Progress {
            progress: ctx.epoch,
            max_progress: ctx.max_epochs.unwrap_or(0),
            iter: ctx.iter,
            max_iters: ctx.max_iters,
        }
    } else {
        Progress {
            progress: ctx.iter,
            max_progress: ctx.max_iters,
            iter: ctx.iter,
            max_iters: ctx.max_iters,
        }
    }
}

fn set_lr(ctx: &mut RunContext, values: &[f64]) {
    for (group, lr) in values.iter().enumerate() {
        ctx.act(Action::SetLr { group, lr: *lr });
    }
}

impl crate::Hook for LrUpdaterHook {
    fn name(&self) -> &str {
        &self.schedule.class_name
    }

    fn points(&self) -> StageSet {
        [
            Stage::BeforeRun,
            Stage::BeforeTrainEpoch,
            Stage::BeforeTrainIter,
        ]
        .into_iter()
        .collect()
    }

    fn before_run(&mut self, ctx: &mut RunContext) -> HookResult {
        let groups = ctx.engine.param_groups();
        if let Policy::OneCycle(oc) = &self.schedule.policy {
            let total = oc.total_steps.unwrap_or(ctx.max_iters);
            if total < ctx.max_iters {
                return Err(HookError::new(format!(
                    "OneCycle: total_steps ({total}) must be at least the run's iterations ({})",
                    ctx.max_iters
                )));
            }
            if oc.max.len() != 1 && oc.max.len() != groups.len() {
                return Err(HookError::new(format!(
                    "OneCycle: max_lr has {} values but the optimizer has {} parameter groups",
                    oc.max.len(),
                    groups.len()
                )));
            }
        }
        // MMCV's `initial_lr`, kept in the optimizer's groups by `setdefault`: set once, and
        // restored from a checkpoint (here, the hook's state) on resume.
        if self.base_lr.len() != groups.len() {
            self.base_lr = match &self.schedule.policy {
                // MMCV's OneCycle ignores the groups' lr: every group starts at max_lr / div_factor.
                Policy::OneCycle(oc) => (0..groups.len())
                    .map(|g| crate::schedule::OneCycle::per_group(&oc.max, g) / oc.div_factor)
                    .collect(),
                _ => groups.iter().map(|g| g.lr).collect(),
            };
        }
        self.regular_lr = self.base_lr.clone();
        self.warmup_iters = match self.schedule.warmup {
            Some(w) if w.by_epoch => None,
            Some(w) => Some(w.iters),
            None => Some(0),
        };
        Ok(())
    }

    fn before_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        if self.warmup_iters.is_none()
            && let Some(w) = self.schedule.warmup
        {
            self.warmup_iters = Some(w.iters * ctx.data_loader_len as u64);
        }
        if !self.schedule.by_epoch {
            return Ok(());
        }
        self.regular_lr = self.regular(ctx)?;
        let values = self.regular_lr.clone();
        set_lr(ctx, &values);
        Ok(())
    }

    fn before_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        let cur = ctx.iter;
        let w = self.warmup_iters.unwrap_or(0);
        let warming = self.schedule.warmup.is_some();
        if !self.schedule.by_epoch {
            self.regular_lr = self.regular(ctx)?;
            let values = if !warming || cur >= w {
                self.regular_lr.clone()
            } else {
                self.warmup_lr(cur)
            };
            set_lr(ctx, &values);
        } else if warming && cur <= w {
            let values = if cur == w {
                self.regular_lr.clone()
            } else {
                self.warmup_lr(cur)
            };
            set_lr(ctx, &values);
        }
        Ok(())
    }

    fn save_state(&mut self) -> Result<Option<serde_json::Value>, HookError> {
        Ok(Some(serde_json::json!({ "initial_lr": self.base_lr })))
    }

    fn load_state(&mut self, state: &serde_json::Value) -> HookResult {
        if let Some(base) = state.get("initial_lr") {
            self.base_lr = serde_json::from_value(base.clone())
                .map_err(|e| HookError::new(format!("bad saved initial_lr: {e}")))?;
        }
        Ok(())
    }
}
