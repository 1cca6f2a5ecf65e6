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
#[path = "since_v0_1_0/hook_call.rs"]
pub mod hook_call;
#[path = "since_v0_1_0/points.rs"]
mod points;
mod ranks;
#[path = "since_v0_1_0/runner.rs"]
mod runner;
#[path = "since_v0_1_0/tensors.rs"]
mod tensors;

pub use points::{level_of, point_of, stage_of};

/// The version, as components name it in their imports and exports.
pub const VERSION: &str = "0.2.0";

wit_version!(
    bindgen: "../../wit/since_v0.2.0",
    files: "../../../../wit/since_v0.2.0/",
    hook_with: { "weft:plugin/runner.run-state": crate::state::RunState },
    [
        "types.wit",
        "runner.wit",
        "ranks.wit",
        "hooks.wit",
        "constructors.wit",
        "tensors.wit",
        "optimizer.wit",
        "worlds.wit",
    ]
);
