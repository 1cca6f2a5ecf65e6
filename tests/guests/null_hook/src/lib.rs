//! `NullHook`: subscribed to `after_train_iter` and does nothing there, not even read the run
//! state. A call into it is the cost of a hook call itself (the component call, a bare
//! `func()` since WIT 0.3.0, the SDK's dispatch, and weft's work around the call), which the
//! `plugins` bench measures against an empty export.

use weft_guest::hook::{Hook, HookPoint, RunState, register_hook};

struct NullHook;

impl Hook for NullHook {
    const TYPE_NAME: &'static str = "NullHook";

    fn new(_config: serde_json::Value) -> Result<Self, String> {
        Ok(NullHook)
    }

    fn points(&self) -> Vec<HookPoint> {
        vec![HookPoint::AfterTrainIter]
    }

    fn after_train_iter(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
}

register_hook!(NullHook);
