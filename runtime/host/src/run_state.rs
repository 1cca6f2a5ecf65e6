//! The `runner` interface a hook imports: reads of the run state, and requests that are
//! validated when made and applied when the hook returns.

use wasmtime::component::Resource;
use weft_config::schema::Phase as CorePhase;
use weft_core::{Level, Stage};

use crate::bindings::hook_world::weft::plugin::runner;
use crate::bindings::hook_world::weft::plugin::types::{HookPoint, LogLevel, ParamStat, Phase};
use crate::state::{CallState, HostState, Request, RunState};

/// The WIT point of a runner stage.
pub fn point_of(stage: Stage) -> HookPoint {
    match stage {
        Stage::BeforeRun => HookPoint::BeforeRun,
        Stage::AfterRun => HookPoint::AfterRun,
        Stage::BeforeTrainEpoch => HookPoint::BeforeTrainEpoch,
        Stage::AfterTrainEpoch => HookPoint::AfterTrainEpoch,
        Stage::BeforeValEpoch => HookPoint::BeforeValEpoch,
        Stage::AfterValEpoch => HookPoint::AfterValEpoch,
        Stage::BeforeTrainIter => HookPoint::BeforeTrainIter,
        Stage::AfterTrainIter => HookPoint::AfterTrainIter,
        Stage::BeforeValIter => HookPoint::BeforeValIter,
        Stage::AfterValIter => HookPoint::AfterValIter,
        Stage::BeforeEpoch => HookPoint::BeforeEpoch,
        Stage::AfterEpoch => HookPoint::AfterEpoch,
        Stage::AfterBackward => HookPoint::AfterBackward,
    }
}

/// The snake_case name of a WIT point, as configs and messages spell hook points.
pub fn point_name(p: HookPoint) -> &'static str {
    match p {
        HookPoint::BeforeIter => "before_iter",
        HookPoint::AfterIter => "after_iter",
        HookPoint::BeforeRun => "before_run",
        HookPoint::AfterRun => "after_run",
        HookPoint::BeforeTrainEpoch => "before_train_epoch",
        HookPoint::AfterTrainEpoch => "after_train_epoch",
        HookPoint::BeforeValEpoch => "before_val_epoch",
        HookPoint::AfterValEpoch => "after_val_epoch",
        HookPoint::BeforeTrainIter => "before_train_iter",
        HookPoint::AfterTrainIter => "after_train_iter",
        HookPoint::BeforeValIter => "before_val_iter",
        HookPoint::AfterValIter => "after_val_iter",
        HookPoint::BeforeEpoch => "before_epoch",
        HookPoint::AfterEpoch => "after_epoch",
        HookPoint::AfterBackward => "after_backward",
    }
}

/// The run-log level of a WIT level; `debug` lines are written at INFO and tagged.
pub fn level_of(level: LogLevel) -> (Level, bool) {
    match level {
        LogLevel::Debug => (Level::Info, true),
        LogLevel::Info => (Level::Info, false),
        LogLevel::Warning => (Level::Warning, false),
        LogLevel::Error => (Level::Error, false),
    }
}

impl HostState {
    fn call(&mut self) -> wasmtime::Result<&mut CallState> {
        match self.call.as_mut() {
            Some(c) => Ok(c),
            None => wasmtime::bail!("the run state was used outside a hook call"),
        }
    }

    /// Queues a request, or records why it is rejected.
    fn queue(
        &mut self,
        check: impl FnOnce(&CallState) -> Result<Request, String>,
    ) -> wasmtime::Result<()> {
        let call = self
            .call
            .as_mut()
            .ok_or_else(|| wasmtime::format_err!("the run state was used outside a hook call"))?;
        let checked = check(call);
        if let Some(t) = &self.trace {
            match &checked {
                Ok(r) => t.line(&format!("  {}", r.traced())),
                Err(m) => t.line(&format!("  rejected {m:?}")),
            }
        }
        match checked {
            Ok(r) => call.requests.push(r),
            Err(m) => call.reject(m),
        }
        Ok(())
    }
}

fn check_value(what: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!("{what} must be finite and >= 0, got {v}"))
    }
}

fn check_group(call: &CallState, what: &str, group: u32) -> Result<usize, String> {
    let n = call.ctx().engine.param_groups().len();
    if (group as usize) < n {
        Ok(group as usize)
    } else {
        Err(format!(
            "{what}: group {group} is out of range (the optimizer has {n} group{})",
            if n == 1 { "" } else { "s" }
        ))
    }
}

fn only_after_backward(call: &CallState, what: &str) -> Result<(), String> {
    if call.stage == Stage::AfterBackward {
        Ok(())
    } else {
        Err(format!(
            "{what} is only allowed at after_backward, not at {}",
            call.stage.name()
        ))
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
        self.queue(|_| {
            if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
                return Err(format!(
                    "log-scalar: name {name:?} must be 1-128 printable characters"
                ));
            }
            if !value.is_finite() {
                return Err(format!(
                    "log-scalar({name}): value must be finite, got {value}"
                ));
            }
            Ok(Request::LogScalar(name, value))
        })
    }

    fn set_lr(&mut self, group: u32, lr: f64) -> wasmtime::Result<()> {
        self.queue(|call| {
            check_group(call, "set-lr", group)?;
            check_value(&format!("set-lr(group {group})"), lr)?;
            Ok(Request::SetLr(group, lr))
        })
    }

    fn set_momentum(&mut self, group: u32, momentum: f64) -> wasmtime::Result<()> {
        self.queue(|call| {
            let g = check_group(call, "set-momentum", group)?;
            check_value(&format!("set-momentum(group {group})"), momentum)?;
            if !call.ctx().engine.param_groups()[g].momentum.is_some() {
                return Err(format!(
                    "set-momentum: group {group}'s optimizer has no momentum"
                ));
            }
            Ok(Request::SetMomentum(group, momentum))
        })
    }

    fn request_stop(&mut self, reason: String) -> wasmtime::Result<()> {
        self.queue(|_| Ok(Request::Stop(reason)))
    }

    fn request_checkpoint(&mut self) -> wasmtime::Result<()> {
        self.queue(|_| Ok(Request::Checkpoint))
    }

    fn request_eval(&mut self) -> wasmtime::Result<()> {
        self.queue(|call| {
            if matches!(
                call.stage,
                Stage::BeforeValEpoch
                    | Stage::AfterValEpoch
                    | Stage::BeforeValIter
                    | Stage::AfterValIter
            ) {
                return Err(format!(
                    "request-eval is not allowed during validation ({})",
                    call.stage.name()
                ));
            }
            Ok(Request::Eval)
        })
    }

    fn scale_grads(&mut self, factor: f64) -> wasmtime::Result<()> {
        self.queue(|call| {
            only_after_backward(call, "scale-grads")?;
            if !factor.is_finite() {
                return Err(format!("scale-grads: factor must be finite, got {factor}"));
            }
            Ok(Request::ScaleGrads(factor))
        })
    }

    fn skip_step(&mut self) -> wasmtime::Result<()> {
        self.queue(|call| {
            only_after_backward(call, "skip-step")?;
            Ok(Request::SkipStep)
        })
    }
}

impl crate::bindings::hook_world::weft::plugin::types::Host for HostState {}
