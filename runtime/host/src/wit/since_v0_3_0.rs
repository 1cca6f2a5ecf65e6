//! `weft:plugin@0.3.0`: 0.2.0 with hook exports that take nothing and return nothing, the
//! cheapest call the component model has. The run state a hook reads is no longer a resource
//! borrowed for every call but free functions of `runner`, valid only while a hook call is in
//! progress, and a hook fails through the imported `runner.fail` instead of returning
//! `err(message)`: together they took the borrow's bookkeeping (a handle lent and given back
//! on every call) and the result's lifting (a return area and a post-return call) off the
//! hottest path a plugin has. Constructors, optimizers and `ranks` are unchanged: their host
//! side is the older versions' source compiled against this version's bindings.

#![allow(
    clippy::duplicate_mod,
    reason = "unchanged interfaces compile the older versions' host code again, against 0.3.0's bindings"
)]

#[path = "since_v0_1_0/exports.rs"]
pub mod exports;
pub mod hook_call;
#[path = "since_v0_1_0/points.rs"]
mod points;
#[path = "since_v0_2_0/ranks.rs"]
mod ranks;
mod runner;
#[path = "since_v0_1_0/tensors.rs"]
mod tensors;

pub use points::{level_of, point_of, stage_of};

/// The version, as components name it in their imports and exports.
pub const VERSION: &str = "0.3.0";

wit_version!(
    bindgen: "../../wit/since_v0.3.0",
    files: "../../../../wit/since_v0.3.0/",
    hook_with: {},
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
