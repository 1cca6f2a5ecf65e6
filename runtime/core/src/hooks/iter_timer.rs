//! MMCV's `IterTimerHook`: `data_time` and `time` per iteration (priority LOW).

use crate::context::RunContext;
use crate::engine::Scalar;
use crate::error::HookResult;
use crate::stage::StageSet;

/// Measures time between iterations with the run's clock.
#[derive(Default)]
pub struct IterTimerHook {
    t: f64,
}

impl crate::Hook for IterTimerHook {
    fn name(&self) -> &str {
        "IterTimerHook"
    }

    fn stages(&self) -> StageSet {
        StageSet::before_epoch()
            .union(StageSet::before_iter())
            .union(StageSet::after_iter())
    }

    fn before_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.t = ctx.clock.now();
        Ok(())
    }

    fn before_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        let now = ctx.clock.now();
        ctx.log_buffer
            .update_one("data_time", Scalar::Host(now - self.t), 1);
        Ok(())
    }

    fn after_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        let now = ctx.clock.now();
        ctx.log_buffer
            .update_one("time", Scalar::Host(now - self.t), 1);
        self.t = ctx.clock.now();
        Ok(())
    }
}
