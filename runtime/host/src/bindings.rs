//! Host bindings of the `weft:plugin@0.1.x` worlds (generated from `wit/since_v0.1.0`).
//!
//! Every import is trappable: a host function that cannot honour a call (an unknown handle,
//! an exhausted handle budget) traps the guest rather than returning a made-up value.

/// The `hook` world.
pub mod hook_world {
    wasmtime::component::bindgen!({
        path: "../../wit/since_v0.1.0",
        world: "hook",
        with: {
            "weft:plugin/runner.run-state": crate::state::RunState,
        },
        imports: { default: trappable },
    });
}

/// The `optimizer-constructor` world.
pub mod constructor_world {
    wasmtime::component::bindgen!({
        path: "../../wit/since_v0.1.0",
        world: "optimizer-constructor",
        with: {
            "weft:plugin/types": crate::bindings::hook_world::weft::plugin::types,
        },
        imports: { default: trappable },
    });
}

/// The `custom-optimizer` world.
pub mod optimizer_world {
    wasmtime::component::bindgen!({
        path: "../../wit/since_v0.1.0",
        world: "custom-optimizer",
        with: {
            "weft:plugin/types": crate::bindings::hook_world::weft::plugin::types,
            "weft:plugin/tensors.tensor": crate::tensors::TensorHandle,
            "weft:plugin/steps.step-context": crate::tensors::StepHandle,
        },
        imports: { default: trappable },
    });
}
