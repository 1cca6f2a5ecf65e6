//! A `custom_hooks` entry backed by a hook component: one instance in its own store, called
//! at the points it declared, with its requests validated and applied after each call.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::Resource;
use weft_core::{HookError, HookResult, RunContext, RunPoint, Stage, StageSet};

use crate::budget::MAX_STATE_BYTES;
use crate::limits::OnError;
use crate::plugin::{Linked, Plugin};
use crate::state::{CallState, HostState, RunState};
use crate::wit::HookInstance;

/// A live instance: its store, its exports, and the run-state resource lent to every call.
struct Live {
    store: Store<HostState>,
    bindings: HookInstance,
    state: Resource<RunState>,
}

/// A hook whose code is a WebAssembly component.
pub struct WasmHook {
    plugin: Arc<Plugin>,
    live: Option<Live>,
    /// The points `init` named; the runner resolves MMCV's fallbacks over them.
    points: StageSet,
}

impl WasmHook {
    /// Instantiates the plugin and calls `init` with the hook's config (without `type` and
    /// `priority`).
    pub fn new(plugin: Arc<Plugin>, config: &serde_json::Value) -> Result<WasmHook, String> {
        let Linked::Hook(pre) = &plugin.linked else {
            return Err(format!("plugin {} is not a hook", plugin.info.path));
        };
        let (mut store, bindings) = match plugin.instantiate(|s| pre.instantiate(s)) {
            Ok(live) => live,
            Err(message) => return Self::failed_init(plugin.clone(), message),
        };
        let state = store
            .data_mut()
            .table
            .push(RunState)
            .map_err(|e| e.to_string())?;
        let _call = plugin.arm(&mut store)?;
        let result = bindings.init(&mut store, &config.to_string());
        let stderr = store.data_mut().flush_output();
        let points = match result {
            Ok(Ok(points)) => points,
            Ok(Err(m)) => {
                let message = plugin.failure("init", &m, &stderr);
                return Self::failed_init(plugin, message);
            }
            Err(e) => {
                let message = plugin.fault("init", &e, &stderr);
                return Self::failed_init(plugin, message);
            }
        };
        let points: StageSet = points.into_iter().collect();
        if let Some(t) = &store.data().trace {
            // In the WIT enum's order: languages list their points in different orders.
            let names: Vec<&str> = points.iter().map(Stage::name).collect();
            t.line(&format!(
                "{} init {} -> [{}]",
                plugin.info.type_name,
                config,
                names.join(", ")
            ));
        }
        Ok(WasmHook {
            plugin,
            live: Some(Live {
                store,
                bindings,
                state,
            }),
            points,
        })
    }

    /// A hook whose `init` failed: an error, or with `on_error = "disable"` a hook that does
    /// nothing (the run goes on without it, as after any other failure).
    fn failed_init(plugin: Arc<Plugin>, message: String) -> Result<WasmHook, String> {
        match plugin.on_error {
            OnError::Abort => Err(message),
            OnError::Disable => {
                plugin.log.warn(&format!(
                    "hook {} disabled before the run (on_error = \"disable\"); training goes on without it: {message}",
                    plugin.info.type_name
                ));
                Ok(WasmHook {
                    plugin,
                    live: None,
                    points: StageSet::EMPTY,
                })
            }
        }
    }

    /// The plugin behind this hook.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// Whether the plugin was disabled after a failure.
    pub fn is_disabled(&self) -> bool {
        self.live.is_none()
    }

    fn call_point(&mut self, point: Stage, ctx: &mut RunContext) -> HookResult {
        let Some(live) = self.live.as_mut() else {
            return Ok(());
        };
        let stage = ctx.stage();
        // Named only when a trace or a failure needs it: no allocation on the hot path.
        let during = || {
            if stage == point {
                point.name().to_string()
            } else {
                format!("{point} (for {stage})")
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
        let _call = self.plugin.arm(&mut live.store).map_err(HookError::new)?;
        // The context is lent to the store for the call and taken back right after it, on
        // every path (`CallState::new` states the contract).
        live.store.data_mut().call = Some(CallState::new(stage, ctx));
        let borrow = Resource::<RunState>::new_borrow(live.state.rep());
        let result = live.bindings.call(&mut live.store, point, borrow);
        let call = live.store.data_mut().call.take();
        let stderr = live.store.data_mut().flush_output();
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
                    // The runner checks them again and applies them, as it does for every
                    // hook's actions.
                    for action in call.actions {
                        ctx.act(action);
                    }
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

    /// Nanoseconds per call of the hook's export through its bindings alone, as a bare
    /// wasmtime embedding would make it: the same guest, export and borrowed run state, but
    /// none of weft's work around the call (limits armed once, the context lent once, no
    /// output collected, no requests applied). `weft_host::profile` sets it beside
    /// [`weft_core::Hook::call`] to measure weft's share end to end.
    pub fn bindings_only_ns(&mut self, point: Stage, ctx: &RunContext, n: usize) -> Option<f64> {
        let live = self.live.as_mut()?;
        let _call = self.plugin.arm(&mut live.store).ok()?;
        live.store.data_mut().call = Some(CallState::new(ctx.stage(), ctx));
        let rep = live.state.rep();
        let mut failed = false;
        let mut once = || {
            if !failed {
                let borrow = Resource::<RunState>::new_borrow(rep);
                let result = live.bindings.call(&mut live.store, point, borrow);
                failed = !matches!(result, Ok(Ok(())));
            }
        };
        let ns = crate::profile::per_call(n, &mut once);
        live.store.data_mut().call = None;
        (!failed).then_some(ns)
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
        f: impl FnOnce(&HookInstance, &mut Store<HostState>) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<Option<T>, HookError> {
        let Some(live) = self.live.as_mut() else {
            return Ok(None);
        };
        let _call = self.plugin.arm(&mut live.store).map_err(HookError::new)?;
        let result = f(&live.bindings, &mut live.store);
        let stderr = live.store.data_mut().flush_output();
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

impl weft_core::Hook for WasmHook {
    fn name(&self) -> &str {
        &self.plugin.info.type_name
    }

    fn points(&self) -> StageSet {
        self.points
    }

    fn call(&mut self, point: Stage, ctx: &mut RunContext) -> HookResult {
        self.call_point(point, ctx)
    }

    fn save_state(&mut self) -> Result<Option<serde_json::Value>, HookError> {
        let state = self.state_call("save-state", |g, s| g.save_state(s))?;
        match state.flatten() {
            Some(text) if text.len() > MAX_STATE_BYTES => {
                let message = self.plugin.failure(
                    "save-state",
                    &format!(
                        "its state is {} MiB; a plugin may keep at most {} MiB in a checkpoint",
                        text.len() >> 20,
                        MAX_STATE_BYTES >> 20
                    ),
                    "",
                );
                self.fail(message, None).map(|()| None)
            }
            state => Ok(state.map(serde_json::Value::String)),
        }
    }

    fn load_state(&mut self, state: &serde_json::Value) -> HookResult {
        let Some(text) = state.as_str() else {
            return Err(HookError::new(format!(
                "the checkpoint holds state of another kind for plugin {}",
                self.plugin.info.type_name
            )));
        };
        self.state_call("load-state", |g, s| g.load_state(s, text))?;
        Ok(())
    }
}
