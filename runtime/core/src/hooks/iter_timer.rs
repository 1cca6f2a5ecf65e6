//! MMCV's `IterTimerHook`: `data_time` and `time` per iteration (priority LOW).

use crate::action::Action;
use crate::context::RunContext;
use crate::engine::Scalar;
use crate::error::HookResult;
use crate::stage::{Stage, StageSet};

/// Measures time between iterations with the run's clock.
#[derive(Default)]
pub struct IterTimerHook {
    t: f64,
}

impl crate::Hook for IterTimerHook {
    fn name(&self) -> &str {
        "IterTimerHook"
    }

    fn points(&self) -> StageSet {
        [Stage::BeforeEpoch, Stage::BeforeIter, Stage::AfterIter]
            .into_iter()
            .collect()
    }

    fn before_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.t = ctx.clock.now();
        Ok(())
    }

    fn before_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        let now = ctx.clock.now();
        ctx.act(Action::LogScalar {
            name: "data_time".into(),
            value: Scalar::Host(now - self.t),
        });
        Ok(())
    }

    fn after_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        let now = ctx.clock.now();
        ctx.act(Action::LogScalar {
            name: "time".into(),
            value: Scalar::Host(now - self.t),
        });
        self.t = ctx.clock.now();
        Ok(())
    }
}
