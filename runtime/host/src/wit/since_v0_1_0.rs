//! `weft:plugin@0.1.0`: the bindings of its three worlds, its WIT files, and the host side of
//! its imports. Everything that names this version lives under this module, so a later
//! version is a sibling module (`since_v0_2_0`) and this one stays as it is, serving the
//! components built against it.

pub mod exports;
pub mod hook_call;
mod points;
mod runner;
mod tensors;

pub use points::{level_of, point_of, stage_of};

/// The version, as components name it in their imports and exports.
pub const VERSION: &str = "0.1.0";

wit_version!(
    bindgen: "../../wit/since_v0.1.0",
    files: "../../../../wit/since_v0.1.0/",
    hook_with: { "weft:plugin/runner.run-state": crate::state::RunState },
    [
        "types.wit",
        "runner.wit",
        "hooks.wit",
        "constructors.wit",
        "tensors.wit",
        "optimizer.wit",
        "worlds.wit",
    ]
);
