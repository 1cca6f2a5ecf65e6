//! The call of a hook point in 0.3.0: one export per point, taking and returning nothing. A
//! failure arrives as the trap `runner.fail` raises (`Plugin::fault` reads its message), so
//! the outcome is `Ok(Ok(()))` or an error.

use wasmtime::Store;
use wasmtime::component::Resource;
use weft_core::Stage;

use super::hook_world::Hook;
use super::hook_world::exports::weft::plugin::hooks::Guest;
use super::{HookPoint, point_of};
use crate::state::{HostState, RunState};

/// The hook's function for `stage`. The borrowed run state the older versions lend is not
/// passed: a 0.3.0 hook reads the call's state through `runner`'s functions.
pub fn hook_call(
    b: &Hook,
    store: &mut Store<HostState>,
    stage: Stage,
    _: Resource<RunState>,
) -> wasmtime::Result<Result<(), String>> {
    let g: &Guest = b.weft_plugin_hooks();
    match point_of(stage) {
        HookPoint::BeforeRun => g.call_before_run(store),
        HookPoint::AfterRun => g.call_after_run(store),
        HookPoint::BeforeTrainEpoch => g.call_before_train_epoch(store),
        HookPoint::AfterTrainEpoch => g.call_after_train_epoch(store),
        HookPoint::BeforeValEpoch => g.call_before_val_epoch(store),
        HookPoint::AfterValEpoch => g.call_after_val_epoch(store),
        HookPoint::BeforeTrainIter => g.call_before_train_iter(store),
        HookPoint::AfterTrainIter => g.call_after_train_iter(store),
        HookPoint::BeforeValIter => g.call_before_val_iter(store),
        HookPoint::AfterValIter => g.call_after_val_iter(store),
        HookPoint::BeforeEpoch => g.call_before_epoch(store),
        HookPoint::AfterEpoch => g.call_after_epoch(store),
        HookPoint::AfterBackward => g.call_after_backward(store),
        HookPoint::BeforeIter => g.call_before_iter(store),
        HookPoint::AfterIter => g.call_after_iter(store),
    }
    .map(Ok)
}
