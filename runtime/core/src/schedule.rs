//! LR and momentum schedules as MMCV 1.x computes them: pure functions of the counters.
//!
//! [`parse_lr_config`] and [`parse_momentum_config`] read `lr_config`/`momentum_config` with
//! MMCV's policy-name rule and argument checks; [`Schedule`] computes the regular value and
//! the warmup. The hooks in [`crate::hooks`] apply them at MMCV's stages.

mod args;
mod parse;
mod policy;
mod warmup;

pub use parse::{ScheduleKind, parse_lr_config, parse_momentum_config, policy_class_name};
pub use policy::{
    Anneal, OneCycle, Policy, Progress, StepSpec, Target, annealing_cos, annealing_linear,
};
pub use warmup::{Warmup, WarmupKind};

/// A parsed `lr_config` or `momentum_config`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// What is scheduled.
    pub kind: ScheduleKind,
    /// MMCV's class name (`StepLrUpdaterHook`).
    pub class_name: String,
    /// The policy.
    pub policy: Policy,
    /// Progress counts epochs (`true`) or iterations.
    pub by_epoch: bool,
    /// Warmup, if any.
    pub warmup: Option<Warmup>,
}
