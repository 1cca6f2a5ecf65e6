//! `weft:plugin@0.2.0`: 0.1.0 plus the `ranks` interface (rank, world size and local rank of a
//! data-parallel run), imported by hooks. Everything else is 0.1.0's interfaces unchanged
//! under the new version, so their host side is 0.1.0's source compiled again against this
//! version's bindings (`#[path]` below); only `ranks` is new code.

#![allow(
    clippy::duplicate_mod,
    reason = "0.1.0's host code is compiled a second time, against 0.2.0's bindings"
)]

#[path = "since_v0_1_0/exports.rs"]
pub mod exports;
mod ranks;
#[path = "since_v0_1_0/runner.rs"]
mod runner;
#[path = "since_v0_1_0/tensors.rs"]
mod tensors;

pub use runner::{level_of, point_of, stage_of};

use crate::state::HostState;

/// The version, as components name it in their imports and exports.
pub const VERSION: &str = "0.2.0";

/// The bindings of one world of this version's package (its folder named once, here).
macro_rules! world {
    ($world:literal $(, $key:ident: $value:tt)* $(,)?) => {
        wasmtime::component::bindgen!({
            path: "../../wit/since_v0.2.0",
            world: $world,
            $($key: $value,)*
            imports: { default: trappable },
        });
    };
}

/// The WIT files of this version, built in (for `weft plugin wit` and `componentize`).
macro_rules! files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../../wit/since_v0.2.0/", $name)))),*]
    };
}

/// The package's files, as `weft plugin wit` writes them.
pub const FILES: &[(&str, &str)] = files!(
    "types.wit",
    "runner.wit",
    "ranks.wit",
    "hooks.wit",
    "constructors.wit",
    "tensors.wit",
    "optimizer.wit",
    "worlds.wit",
);

/// The `hook` world.
pub mod hook_world {
    world!("hook", with: {
        "weft:plugin/runner.run-state": crate::state::RunState,
    });
}

/// The `optimizer-constructor` world.
pub mod constructor_world {
    world!("optimizer-constructor", with: {
        "weft:plugin/types": super::hook_world::weft::plugin::types,
    });
}

/// The `custom-optimizer` world.
pub mod optimizer_world {
    world!("custom-optimizer", with: {
        "weft:plugin/types": super::hook_world::weft::plugin::types,
        "weft:plugin/tensors.tensor": crate::tensors::TensorHandle,
        "weft:plugin/steps.step-context": crate::tensors::StepHandle,
    });
}

pub use hook_world::weft;
pub use hook_world::weft::plugin::types::{HookPoint, LogLevel, ModuleInfo, ParamInfo};

impl constructor_world::OptimizerConstructorImports for HostState {
    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        let (level, debug) = level_of(level);
        self.log_line(level, debug, &message);
        Ok(())
    }
}

impl optimizer_world::CustomOptimizerImports for HostState {
    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        let (level, debug) = level_of(level);
        self.log_line(level, debug, &message);
        Ok(())
    }
}
