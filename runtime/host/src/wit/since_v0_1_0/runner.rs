//! The `runner` interface of `weft:plugin@0.1.0`: reads of the run state, and requests that
//! are checked when made and applied when the hook returns.

use wasmtime::component::Resource;
use weft_config::schema::Phase as CorePhase;
use weft_core::{Action, Level, SaveRequest, Scalar, Stage};

use super::weft::plugin::runner;
use super::weft::plugin::types::{HookPoint, LogLevel, ParamStat, Phase};
use crate::budget::{MAX_SCALAR_NAMES, MESSAGE_MAX, clip};
use crate::state::{HostState, RunState};

/// The WIT point of a hook point. `weft_core::Stage` is declared in the WIT enum's order,
/// so the two convert by position (checked by a test).
pub fn point_of(stage: Stage) -> HookPoint {
    POINTS[stage as usize]
}

/// The hook point of a WIT point.
pub fn stage_of(point: HookPoint) -> Stage {
    Stage::ALL[point as usize]
}

// @generated host-points: from wit/ by `make sdk-tables`; do not edit
const POINTS: [HookPoint; 15] = [
    HookPoint::BeforeRun,
    HookPoint::AfterRun,
    HookPoint::BeforeTrainEpoch,
    HookPoint::AfterTrainEpoch,
    HookPoint::BeforeValEpoch,
    HookPoint::AfterValEpoch,
    HookPoint::BeforeTrainIter,
    HookPoint::AfterTrainIter,
    HookPoint::BeforeValIter,
    HookPoint::AfterValIter,
    HookPoint::BeforeEpoch,
    HookPoint::AfterEpoch,
    HookPoint::AfterBackward,
    HookPoint::BeforeIter,
    HookPoint::AfterIter,
];
// @end host-points

/// The run-log level of a WIT level; `debug` lines are written at INFO and tagged.
pub fn level_of(level: LogLevel) -> (Level, bool) {
    match level {
        LogLevel::Debug => (Level::Info, true),
        LogLevel::Info => (Level::Info, false),
        LogLevel::Warning => (Level::Warning, false),
        LogLevel::Error => (Level::Error, false),
    }
}

impl runner::HostRunState for HostState {
    fn point(&mut self, _: Resource<RunState>) -> wasmtime::Result<HookPoint> {
        Ok(point_of(self.call()?.stage))
    }

    fn mode(&mut self, _: Resource<RunState>) -> wasmtime::Result<Phase> {
        Ok(match self.call()?.ctx().mode {
            None => Phase::None,
            Some(CorePhase::Train) => Phase::Train,
            Some(CorePhase::Val) => Phase::Val,
        })
    }

    fn epoch(&mut self, _: Resource<RunState>) -> wasmtime::Result<u64> {
        Ok(self.call()?.ctx().epoch)
    }

    fn iter(&mut self, _: Resource<RunState>) -> wasmtime::Result<u64> {
        Ok(self.call()?.ctx().iter)
    }

    fn inner_iter(&mut self, _: Resource<RunState>) -> wasmtime::Result<u64> {
        Ok(self.call()?.ctx().inner_iter)
    }

    fn max_epochs(&mut self, _: Resource<RunState>) -> wasmtime::Result<Option<u64>> {
        Ok(self.call()?.ctx().max_epochs)
    }

    fn max_iters(&mut self, _: Resource<RunState>) -> wasmtime::Result<u64> {
        Ok(self.call()?.ctx().max_iters)
    }

    fn data_loader_len(&mut self, _: Resource<RunState>) -> wasmtime::Result<u64> {
        Ok(self.call()?.ctx().data_loader_len as u64)
    }

    fn num_groups(&mut self, _: Resource<RunState>) -> wasmtime::Result<u32> {
        Ok(self.call()?.ctx().engine.param_groups().len() as u32)
    }

    fn lr(&mut self, _: Resource<RunState>) -> wasmtime::Result<Vec<f64>> {
        Ok(self.call()?.ctx().current_lr())
    }

    fn momentum(&mut self, _: Resource<RunState>) -> wasmtime::Result<Vec<f64>> {
        Ok(self.call()?.ctx().current_momentum())
    }

    fn output(&mut self, _: Resource<RunState>, name: String) -> wasmtime::Result<Option<f64>> {
        let ctx = self.call()?.ctx();
        Ok(ctx
            .outputs
            .as_ref()
            .and_then(|o| o.log_vars.iter().find(|(k, _)| *k == name))
            .map(|(_, v)| v.get()))
    }

    fn outputs(&mut self, _: Resource<RunState>) -> wasmtime::Result<Vec<(String, f64)>> {
        let ctx = self.call()?.ctx();
        Ok(ctx
            .outputs
            .as_ref()
            .map(|o| {
                o.log_vars
                    .iter()
                    .map(|(k, v)| (k.clone(), v.get()))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn metric(&mut self, _: Resource<RunState>, name: String) -> wasmtime::Result<Option<f64>> {
        let ctx = self.call()?.ctx();
        Ok(ctx
            .last_eval
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v))
    }

    fn metrics(&mut self, _: Resource<RunState>) -> wasmtime::Result<Vec<(String, f64)>> {
        Ok(self.call()?.ctx().last_eval.clone())
    }

    fn grad_norm(
        &mut self,
        _: Resource<RunState>,
        norm_type: f64,
    ) -> wasmtime::Result<Option<f64>> {
        if !(norm_type.is_infinite() || norm_type > 0.0) {
            wasmtime::bail!("grad-norm: norm type must be positive or infinity, got {norm_type}");
        }
        match self.call()?.grads() {
            Some(g) => g
                .norm(norm_type)
                .map_err(|e| wasmtime::format_err!("grad-norm: {}", e.message)),
            None => Ok(None),
        }
    }

    fn param_stats(&mut self, _: Resource<RunState>) -> wasmtime::Result<Vec<ParamStat>> {
        let stats = match self.call()?.grads() {
            Some(g) => g
                .stats()
                .map_err(|e| wasmtime::format_err!("param-stats: {}", e.message))?,
            None => Vec::new(),
        };
        Ok(stats
            .into_iter()
            .map(|s| ParamStat {
                name: s.name,
                numel: s.numel,
                norm: s.norm,
                abs_max: s.abs_max,
                finite: s.finite,
            })
            .collect())
    }

    fn drop(&mut self, _: Resource<RunState>) -> wasmtime::Result<()> {
        // The run state is the host's, created once per instance; a guest never owns it.
        Ok(())
    }
}

impl runner::Host for HostState {
    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        let (level, debug) = level_of(level);
        self.log_line(level, debug, &message);
        Ok(())
    }

    fn log_scalar(&mut self, name: String, value: f64) -> wasmtime::Result<()> {
        // Every new name is a new column of every logger: a bounded set per plugin.
        if !self.scalar_names.contains(&name) {
            if self.scalar_names.len() >= MAX_SCALAR_NAMES {
                if let Some(call) = self.call.as_mut() {
                    call.reject(format!(
                        "log-scalar: more than {MAX_SCALAR_NAMES} distinct names (new: {})",
                        clip(&name, 64)
                    ));
                }
                return Ok(());
            }
            if name.len() <= weft_core::action::MAX_NAME_LEN {
                self.scalar_names.insert(name.clone());
            }
        }
        self.queue(Action::LogScalar {
            name: name.into(),
            value: Scalar::Host(value),
        })
    }

    fn set_lr(&mut self, group: u32, lr: f64) -> wasmtime::Result<()> {
        self.queue(Action::SetLr {
            group: group as usize,
            lr,
        })
    }

    fn set_momentum(&mut self, group: u32, momentum: f64) -> wasmtime::Result<()> {
        self.queue(Action::SetMomentum {
            group: group as usize,
            momentum,
        })
    }

    fn request_stop(&mut self, reason: String) -> wasmtime::Result<()> {
        self.queue(Action::Stop {
            reason: clip(&reason, MESSAGE_MAX),
        })
    }

    fn request_checkpoint(&mut self) -> wasmtime::Result<()> {
        self.queue(Action::Checkpoint(SaveRequest::requested()))
    }

    fn request_eval(&mut self) -> wasmtime::Result<()> {
        self.queue(Action::Evaluate)
    }

    fn scale_grads(&mut self, factor: f64) -> wasmtime::Result<()> {
        self.queue(Action::ScaleGrads { factor })
    }

    fn skip_step(&mut self) -> wasmtime::Result<()> {
        self.queue(Action::SkipStep)
    }
}

impl super::weft::plugin::types::Host for HostState {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_points_and_core_stages_convert_by_position_and_name() {
        for stage in Stage::ALL {
            let point = point_of(stage);
            assert_eq!(point as usize, stage as usize);
            assert_eq!(stage_of(point), stage);
            assert_eq!(format!("{point:?}"), format!("HookPoint::{stage:?}"));
        }
    }
}
