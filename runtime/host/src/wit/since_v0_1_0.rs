//! `weft:plugin@0.1.0`: the bindings of its three worlds, its WIT files, and the host side of
//! its imports. Everything that names this version lives under this module, so a later
//! version is a sibling module (`since_v0_2_0`) and this one stays as it is, serving the
//! components built against it.

pub mod exports;
mod runner;
mod tensors;

pub use runner::{level_of, point_of, stage_of};

use crate::state::HostState;

/// The version, as components name it in their imports and exports.
pub const VERSION: &str = "0.1.0";

/// The bindings of one world of this version's package (its folder named once, here).
macro_rules! world {
    ($world:literal $(, $key:ident: $value:tt)* $(,)?) => {
        wasmtime::component::bindgen!({
            path: "../../wit/since_v0.1.0",
            world: $world,
            $($key: $value,)*
            imports: { default: trappable },
        });
    };
}

/// The WIT files of this version, built in (for `weft plugin wit` and `componentize`).
macro_rules! files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../../wit/since_v0.1.0/", $name)))),*]
    };
}

/// The package's files, as `weft plugin wit` writes them.
pub const FILES: &[(&str, &str)] = files!(
    "types.wit",
    "runner.wit",
    "hooks.wit",
    "constructors.wit",
    "tensors.wit",
    "optimizer.wit",
    "worlds.wit",
);

/// The `hook` world. Every import is trappable: a host function that cannot honour a call (an
/// unknown handle, an exhausted budget) traps the guest rather than make up a value.
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
