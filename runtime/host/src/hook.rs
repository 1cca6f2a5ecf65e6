//! A `custom_hooks` entry backed by a hook component: one instance in its own store, called
//! at the points it declared, with its requests validated and applied after each call.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::Resource;
use weft_core::{
    HookError, HookResult, RunContext, RunPoint, SaveRequest, Scalar, Stage, StageSet,
};

use crate::bindings::hook_world::exports::weft::plugin::hooks::Guest;
use crate::bindings::hook_world::weft::plugin::types::HookPoint;
use crate::bindings::hook_world::{self};
use crate::limits::OnError;
use crate::plugin::{Linked, Plugin};
use crate::run_state::{point_name, point_of};
use crate::state::{CallState, HostState, Request, RunState};

/// A live instance: its store, its exports, and the run-state resource lent to every call.
struct Live {
    store: Store<HostState>,
    bindings: hook_world::Hook,
    state: Resource<RunState>,
}

/// A hook whose code is a WebAssembly component.
pub struct WasmHook {
    plugin: Arc<Plugin>,
    live: Option<Live>,
    /// Which export serves each runner stage (MMCV's generic fallbacks resolved once).
    dispatch: [Option<HookPoint>; Stage::ALL.len()],
    stages: StageSet,
}

impl WasmHook {
    /// Instantiates the plugin and calls `init` with the hook's config (without `type` and
    /// `priority`).
    pub fn new(plugin: Arc<Plugin>, config: &serde_json::Value) -> Result<WasmHook, String> {
        let Linked::Hook(pre) = &plugin.linked else {
            return Err(format!("plugin {} is not a hook", plugin.info.path));
        };
        let (mut store, bindings) = plugin.instantiate(|s| pre.instantiate(s))?;
        let state = store
            .data_mut()
            .table
            .push(RunState)
            .map_err(|e| e.to_string())?;
        plugin.arm(&mut store)?;
        let result = bindings
            .weft_plugin_hooks()
            .call_init(&mut store, &config.to_string());
        let stderr = store.data().flush_output();
        let mut points = match result {
            Ok(Ok(points)) => points,
            Ok(Err(m)) => return Err(plugin.failure("init", &m, &stderr)),
            Err(e) => return Err(plugin.fault("init", &e, &stderr)),
        };
        if let Some(t) = &store.data().trace {
            // In the WIT enum's order: languages list their points in different orders.
            points.sort_by_key(|p| *p as u8);
            points.dedup();
            let names: Vec<&str> = points.iter().map(|p| point_name(*p)).collect();
            t.line(&format!(
                "{} init {} -> [{}]",
                plugin.info.type_name,
                config,
                names.join(", ")
            ));
        }
        let mut dispatch = [None; Stage::ALL.len()];
        let mut stages = StageSet::EMPTY;
        for stage in Stage::ALL {
            let exact = point_of(stage);
            let generic = match stage {
                Stage::BeforeTrainEpoch | Stage::BeforeValEpoch => Some(HookPoint::BeforeEpoch),
                Stage::AfterTrainEpoch | Stage::AfterValEpoch => Some(HookPoint::AfterEpoch),
                Stage::BeforeTrainIter | Stage::BeforeValIter => Some(HookPoint::BeforeIter),
                Stage::AfterTrainIter | Stage::AfterValIter => Some(HookPoint::AfterIter),
                _ => None,
            };
            let chosen = if points.contains(&exact) {
                Some(exact)
            } else {
                generic.filter(|g| points.contains(g))
            };
            if chosen.is_some() {
                stages = stages.with(stage);
            }
            dispatch[stage as usize] = chosen;
        }
        Ok(WasmHook {
            plugin,
            live: Some(Live {
                store,
                bindings,
                state,
            }),
            dispatch,
            stages,
        })
    }

    /// The plugin behind this hook.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// Whether the plugin was disabled after a failure.
    pub fn is_disabled(&self) -> bool {
        self.live.is_none()
    }

    fn call(&mut self, stage: Stage, ctx: &mut RunContext) -> HookResult {
        let Some(point) = self.dispatch[stage as usize] else {
            return Ok(());
        };
        let Some(live) = self.live.as_mut() else {
            return Ok(());
        };
        // Named only when a trace or a failure needs it: no allocation on the hot path.
        let during = || {
            if point_of(stage) == point {
                point_name(point).to_string()
            } else {
                format!("{} (for {})", point_name(point), stage.name())
            }
        };
        if let Some(t) = &live.store.data().trace {
            t.line(&format!(
                "{} {} epoch={} iter={} inner_iter={}",
                self.plugin.info.type_name,
                during(),
                ctx.epoch,
                ctx.iter,
                ctx.inner_iter
            ));
        }
        self.plugin.arm(&mut live.store).map_err(HookError::new)?;
        // The context is lent to the store for the call and taken back right after it, on
        // every path (`CallState::new` states the contract).
        live.store.data_mut().call = Some(CallState::new(stage, ctx));
        let borrow = Resource::<RunState>::new_borrow(live.state.rep());
        let result = call_point(
            live.bindings.weft_plugin_hooks(),
            &mut live.store,
            point,
            borrow,
        );
        let call = live.store.data_mut().call.take();
        let stderr = live.store.data().flush_output();
        let plugin = &self.plugin;
        let failure = match (result, call) {
            (Err(e), _) => Some(plugin.fault(&during(), &e, &stderr)),
            (Ok(Err(m)), _) => Some(plugin.failure(&during(), &m, &stderr)),
            (Ok(Ok(())), None) => Some(plugin.failure(&during(), "lost its call state", &stderr)),
            (Ok(Ok(())), Some(call)) => match call.rejected {
                Some(m) => {
                    Some(plugin.failure(&during(), &format!("request rejected: {m}"), &stderr))
                }
                None => {
                    apply(&plugin.info.type_name, call.requests, stage, ctx)?;
                    None
                }
            },
        };
        if let (Some(t), Some(m)) = (&live.store.data().trace, &failure) {
            t.line(&format!("  failed {m:?}"));
        }
        match failure {
            None => Ok(()),
            Some(message) => self.fail(
                message,
                Some(RunPoint {
                    stage,
                    epoch: ctx.epoch,
                    iter: ctx.iter,
                }),
            ),
        }
    }

    /// A failed call: the store may be trapped, so it is never used again; the policy says
    /// whether the run goes on without the plugin.
    fn fail(&mut self, message: String, point: Option<RunPoint>) -> HookResult {
        self.live = None;
        match self.plugin.on_error {
            OnError::Abort => Err(HookError::new(message)),
            OnError::Disable => {
                let at = point.map(|p| format!(" {p}")).unwrap_or_default();
                self.plugin.log.warn(&format!(
                    "hook {} disabled{at} (on_error = \"disable\"); training goes on without it: {message}",
                    self.plugin.info.type_name
                ));
                Ok(())
            }
        }
    }

    fn state_call<T>(
        &mut self,
        during: &str,
        f: impl FnOnce(&Guest, &mut Store<HostState>) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<Option<T>, HookError> {
        let Some(live) = self.live.as_mut() else {
            return Ok(None);
        };
        self.plugin.arm(&mut live.store).map_err(HookError::new)?;
        let result = f(live.bindings.weft_plugin_hooks(), &mut live.store);
        let stderr = live.store.data().flush_output();
        if let Some(t) = &live.store.data().trace {
            let outcome = match &result {
                Ok(Ok(_)) => "ok".to_string(),
                Ok(Err(m)) => format!("failed {m:?}"),
                Err(e) => format!("failed {:?}", crate::component::root_message(e)),
            };
            t.line(&format!(
                "{} {during} {outcome}",
                self.plugin.info.type_name
            ));
        }
        let message = match result {
            Ok(Ok(v)) => return Ok(Some(v)),
            Ok(Err(m)) => self.plugin.failure(during, &m, &stderr),
            Err(e) => self.plugin.fault(during, &e, &stderr),
        };
        self.fail(message, None).map(|()| None)
    }
}

/// Applies a call's requests, in the order the hook made them.
fn apply(name: &str, requests: Vec<Request>, stage: Stage, ctx: &mut RunContext) -> HookResult {
    for r in requests {
        match r {
            Request::LogScalar(key, v) => ctx.log_buffer.update_one(&key, Scalar::Host(v), 1),
            Request::SetLr(g, v) => ctx.engine.param_groups_mut()[g as usize].lr = v,
            Request::SetMomentum(g, v) => ctx.engine.param_groups_mut()[g as usize].momentum.set(v),
            Request::Stop(reason) => {
                ctx.log
                    .info(&format!("[{name}] requested a stop: {reason}"));
                ctx.request_stop(format!("{name}: {reason}"));
            }
            Request::Checkpoint => {
                let done = ctx.iter + u64::from(stage == Stage::AfterTrainIter);
                ctx.request_save(SaveRequest {
                    path: ctx.work_dir.join(format!("iter_{done}.safetensors")),
                    with_optimizer: true,
                    link_latest: true,
                    record_as_last: false,
                    remove_after: Vec::new(),
                });
            }
            Request::Eval => ctx.request_eval(),
            Request::ScaleGrads(f) => ctx.engine.scale_grads(f)?,
            Request::SkipStep => ctx.request_skip_step(),
        }
    }
    Ok(())
}

fn call_point(
    g: &Guest,
    store: &mut Store<HostState>,
    point: HookPoint,
    s: Resource<RunState>,
) -> wasmtime::Result<Result<(), String>> {
    match point {
        HookPoint::BeforeRun => g.call_before_run(store, s),
        HookPoint::AfterRun => g.call_after_run(store, s),
        HookPoint::BeforeTrainEpoch => g.call_before_train_epoch(store, s),
        HookPoint::AfterTrainEpoch => g.call_after_train_epoch(store, s),
        HookPoint::BeforeValEpoch => g.call_before_val_epoch(store, s),
        HookPoint::AfterValEpoch => g.call_after_val_epoch(store, s),
        HookPoint::BeforeTrainIter => g.call_before_train_iter(store, s),
        HookPoint::AfterTrainIter => g.call_after_train_iter(store, s),
        HookPoint::BeforeValIter => g.call_before_val_iter(store, s),
        HookPoint::AfterValIter => g.call_after_val_iter(store, s),
        HookPoint::BeforeEpoch => g.call_before_epoch(store, s),
        HookPoint::AfterEpoch => g.call_after_epoch(store, s),
        HookPoint::AfterBackward => g.call_after_backward(store, s),
        HookPoint::BeforeIter => g.call_before_iter(store, s),
        HookPoint::AfterIter => g.call_after_iter(store, s),
    }
}

impl weft_core::Hook for WasmHook {
    fn name(&self) -> &str {
        &self.plugin.info.type_name
    }

    fn stages(&self) -> StageSet {
        self.stages
    }

    fn before_run(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::BeforeRun, ctx)
    }
    fn after_run(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::AfterRun, ctx)
    }
    fn before_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::BeforeEpoch, ctx)
    }
    fn after_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::AfterEpoch, ctx)
    }
    fn before_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::BeforeTrainEpoch, ctx)
    }
    fn after_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::AfterTrainEpoch, ctx)
    }
    fn before_val_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::BeforeValEpoch, ctx)
    }
    fn after_val_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::AfterValEpoch, ctx)
    }
    fn before_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::BeforeTrainIter, ctx)
    }
    fn after_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::AfterTrainIter, ctx)
    }
    fn before_val_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::BeforeValIter, ctx)
    }
    fn after_val_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::AfterValIter, ctx)
    }
    fn after_backward(&mut self, ctx: &mut RunContext) -> HookResult {
        self.call(Stage::AfterBackward, ctx)
    }

    fn save_state(&mut self) -> Result<Option<serde_json::Value>, HookError> {
        let state = self.state_call("save-state", |g, s| g.call_save_state(s))?;
        Ok(state.flatten().map(serde_json::Value::String))
    }

    fn load_state(&mut self, state: &serde_json::Value) -> HookResult {
        let Some(text) = state.as_str() else {
            return Err(HookError::new(format!(
                "the checkpoint holds state of another kind for plugin {}",
                self.plugin.info.type_name
            )));
        };
        self.state_call("load-state", |g, s| g.call_load_state(s, text))?;
        Ok(())
    }
}
