//! The call of a hook point in 0.1.0 and 0.2.0: one export per point, lent the run state as a
//! borrowed `run-state`, returning `result<_, string>`. `since_v0_2_0` compiles this same file
//! against its own bindings.

use wasmtime::Store;
use wasmtime::component::Resource;
use weft_core::Stage;

use super::hook_world::Hook;
use super::hook_world::exports::weft::plugin::hooks::Guest;
use super::{HookPoint, point_of};
use crate::state::{HostState, RunState};

/// The hook's function for `stage`.
pub fn hook_call(
    b: &Hook,
    store: &mut Store<HostState>,
    stage: Stage,
    s: Resource<RunState>,
) -> wasmtime::Result<Result<(), String>> {
    let g: &Guest = b.weft_plugin_hooks();
    match point_of(stage) {
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
