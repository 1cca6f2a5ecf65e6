//! MMCV's `MomentumUpdaterHook` family: momentum (or Adam's beta1) per group.

use crate::action::Action;
use crate::context::RunContext;
use crate::error::{HookError, HookResult};
use crate::hooks::lr_updater::{
    iter_value, iter_values, load_bases, progress, save_bases, updater_points,
};
use crate::schedule::{Policy, Schedule};
use crate::stage::StageSet;

/// Applies a momentum [`Schedule`] (priority HIGH).
pub struct MomentumUpdaterHook {
    schedule: Schedule,
    base: Vec<f64>,
    regular: Vec<f64>,
}

impl MomentumUpdaterHook {
    /// A hook for a parsed `momentum_config`.
    pub fn new(schedule: Schedule) -> Self {
        MomentumUpdaterHook {
            schedule,
            base: Vec::new(),
            regular: Vec::new(),
        }
    }

    fn regular(&self, ctx: &RunContext) -> Result<Vec<f64>, HookError> {
        if let Policy::OneCycle(oc) = &self.schedule.policy {
            return Ok((0..self.base.len())
                .map(|g| oc.momentum(g, ctx.iter, ctx.max_iters))
                .collect());
        }
        let at = progress(&self.schedule, ctx);
        self.base
            .iter()
            .map(|b| self.schedule.policy.regular(*b, at).map_err(HookError::new))
            .collect()
    }

    fn warmup(&self, iter: u64) -> Vec<f64> {
        let warmup = self.schedule.warmup.expect("called only with a warmup");
        self.regular
            .iter()
            .map(|r| warmup.momentum(*r, iter, warmup.iters))
            .collect()
    }
}

fn set_momentum(ctx: &mut RunContext, values: &[f64]) {
    for (group, m) in values.iter().enumerate() {
        ctx.act(Action::SetMomentum {
            group,
            momentum: *m,
        });
    }
}

impl crate::Hook for MomentumUpdaterHook {
    fn name(&self) -> &str {
        &self.schedule.class_name
    }

    fn points(&self) -> StageSet {
        updater_points()
    }

    fn before_run(&mut self, ctx: &mut RunContext) -> HookResult {
        let groups = ctx.engine.param_groups();
        if groups.iter().any(|g| !g.momentum.is_some()) {
            return Err(HookError::new(
                "momentum_config needs an optimizer with `momentum` or `betas`; this one has neither",
            ));
        }
        if let Policy::OneCycle(oc) = &self.schedule.policy {
            for (key, values) in [("base_momentum", &oc.base), ("max_momentum", &oc.max)] {
                if values.len() != 1 && values.len() != groups.len() {
                    return Err(HookError::new(format!(
                        "OneCycle: {key} has {} values but the optimizer has {} parameter groups",
                        values.len(),
                        groups.len()
                    )));
                }
            }
        }
        // MMCV's `initial_momentum` (set once, restored with the hook's state on resume).
        if self.base.len() != groups.len() {
            self.base = groups.iter().map(|g| g.momentum.value()).collect();
        }
        if let Policy::OneCycle(oc) = &self.schedule.policy {
            let start: Vec<f64> = (0..groups.len())
                .map(|g| crate::schedule::OneCycle::per_group(&oc.max, g))
                .collect();
            set_momentum(ctx, &start);
        }
        self.regular = self.base.clone();
        Ok(())
    }

    fn before_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        if !self.schedule.by_epoch {
            return Ok(());
        }
        self.regular = self.regular(ctx)?;
        let values = self.regular.clone();
        set_momentum(ctx, &values);
        Ok(())
    }

    fn before_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        if !self.schedule.by_epoch {
            self.regular = self.regular(ctx)?;
        }
        // MMCV's momentum warmup counts iterations even when the schedule is by epoch.
        let (warming, w) = match self.schedule.warmup {
            Some(w) => (true, w.iters),
            None => (false, 0),
        };
        let (by_epoch, iter) = (self.schedule.by_epoch, ctx.iter);
        let choice = iter_value(by_epoch, warming, iter, w);
        if let Some(v) = iter_values(choice, &self.regular, || self.warmup(iter)) {
            set_momentum(ctx, &v);
        }
        Ok(())
    }

    fn save_state(&mut self) -> Result<Option<serde_json::Value>, HookError> {
        save_bases("initial_momentum", &self.base)
    }

    fn load_state(&mut self, state: &serde_json::Value) -> HookResult {
        load_bases(state, "initial_momentum", &mut self.base)
    }
}
