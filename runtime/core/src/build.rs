//! From a validated config to what the loop runs: the runner plan, the built-in hooks in
//! MMCV's registration order, and the registry of types `custom_hooks` may name. One concept
//! per file:
//!
//! - `plan.rs`: runner, length, workflow, the splits the run reads ([`RunPlan`]);
//! - `registry.rs`: hook types and their factories ([`HookRegistry`]);
//! - `evaluation.rs`: `evaluation`'s metrics, split and hook;
//! - `hooks.rs`: every hook of a config, in order ([`hooks`]), and hook-entry parsing.

mod evaluation;
mod hooks;
mod plan;
mod registry;

pub(crate) use evaluation::eval_hook;
pub use evaluation::{evaluation_metrics, evaluation_split, metrics_named};
pub(crate) use hooks::optimizer_hook;
pub use hooks::{hooks, split_type, take_priority};
pub use plan::{RunPlan, plan};
pub use registry::{BuildContext, HookFactory, HookRegistry};
