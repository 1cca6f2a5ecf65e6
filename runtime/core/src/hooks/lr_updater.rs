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

/// What an updater sets before a train iteration, as MMCV's `LrUpdaterHook` and
/// `MomentumUpdaterHook` decide it (one rule for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IterValue {
    /// The schedule's regular value.
    Regular,
    /// The warmup value of this iteration.
    Warmup,
    /// Nothing: the value set at the epoch's start stands.
    Keep,
}

/// By iteration: the regular value, or the warmup value while warming up. By epoch: the
/// warmup value while warming up, the regular one at the iteration warmup ends, then nothing.
pub(crate) fn iter_value(by_epoch: bool, warming: bool, iter: u64, warmup_iters: u64) -> IterValue {
    match (by_epoch, warming) {
        (false, true) if iter < warmup_iters => IterValue::Warmup,
        (false, _) => IterValue::Regular,
        (true, true) if iter < warmup_iters => IterValue::Warmup,
        (true, true) if iter == warmup_iters => IterValue::Regular,
        (true, _) => IterValue::Keep,
    }
}

/// The values an updater sets before a train iteration ([`iter_value`]'s choice): `regular`,
/// the `warmup` values, or none.
pub(crate) fn iter_values(
    choice: IterValue,
    regular: &[f64],
    warmup: impl FnOnce() -> Vec<f64>,
) -> Option<Vec<f64>> {
    match choice {
        IterValue::Regular => Some(regular.to_vec()),
        IterValue::Warmup => Some(warmup()),
        IterValue::Keep => None,
    }
}

/// A schedule's base values (MMCV's `initial_lr` / `initial_momentum`) as hook state.
pub(crate) fn save_bases(key: &str, bases: &[f64]) -> Result<Option<serde_json::Value>, HookError> {
    Ok(Some(serde_json::json!({ key: bases })))
}

/// Restores [`save_bases`]'s record into `bases`.
pub(crate) fn load_bases(state: &serde_json::Value, key: &str, bases: &mut Vec<f64>) -> HookResult {
    if let Some(saved) = state.get(key) {
        *bases = serde_json::from_value(saved.clone())
            .map_err(|e| HookError::new(format!("bad saved {key}: {e}")))?;
    }
    Ok(())
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

/// The points both updaters run at (MMCV's `LrUpdaterHook` and `MomentumUpdaterHook`).
pub(crate) fn updater_points() -> StageSet {
    [
        Stage::BeforeRun,
        Stage::BeforeTrainEpoch,
        Stage::BeforeTrainIter,
    ]
    .into_iter()
    .collect()
}

impl crate::Hook for LrUpdaterHook {
    fn name(&self) -> &str {
        &self.schedule.class_name
    }

    fn points(&self) -> StageSet {
        updater_points()
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
        if !self.schedule.by_epoch {
            self.regular_lr = self.regular(ctx)?;
        }
        let warming = self.schedule.warmup.is_some();
        let w = self.warmup_iters.unwrap_or(0);
        let (by_epoch, iter) = (self.schedule.by_epoch, ctx.iter);
        let choice = iter_value(by_epoch, warming, iter, w);
        if let Some(v) = iter_values(choice, &self.regular_lr, || self.warmup_lr(iter)) {
            set_lr(ctx, &v);
        }
        Ok(())
    }

    fn save_state(&mut self) -> Result<Option<serde_json::Value>, HookError> {
        save_bases("initial_lr", &self.base_lr)
    }

    fn load_state(&mut self, state: &serde_json::Value) -> HookResult {
        load_bases(state, "initial_lr", &mut self.base_lr)
    }
}
