//! Optimizers on libtorch with `torch.optim`'s options, defaults, checks and update rules.
//!
//! An optimizer keeps per-parameter state and reads the schedulable hyperparameters (lr,
//! momentum or betas, weight decay) from the core [`ParamGroup`]s at every step, so lr and
//! momentum hooks work by writing those. [`KINDS`] lists every optimizer with its options.

mod build;
mod elementwise;
mod fused;
mod kinds;
mod lbfgs;
mod ops;
pub mod options;
pub mod plugin;
mod rules;
mod state;

use std::collections::HashMap;

use tch::{TchError, Tensor};
use weft_core::ParamGroup;

use crate::store::Param;

pub use build::{
    CONSTRUCTORS, OptimizerSetup, build_optimizer, build_with_groups, check_constructor_groups,
    groups_json, model_table,
};
pub use elementwise::Elementwise;
pub use kinds::{KINDS, MomentumKey, OptimizerKind, kind};
pub use lbfgs::Lbfgs;
pub use state::ParamStates;

/// Why a step failed.
#[derive(Debug)]
pub enum StepError {
    /// libtorch refused an operation.
    Torch(TchError),
    /// The plugin that computes the update failed; the message names it, its file and what
    /// happened.
    Plugin(String),
}

impl From<TchError> for StepError {
    fn from(e: TchError) -> Self {
        StepError::Torch(e)
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Torch(e) => e.fmt(f),
            StepError::Plugin(m) => f.write_str(m),
        }
    }
}

/// Re-evaluates the loss (forward and backward on the current batch) and returns its value;
/// what `torch.optim.LBFGS.step(closure)` calls.
pub type Closure<'a> = dyn FnMut() -> Result<f64, TchError> + 'a;

/// An optimizer over the parameters of a [`crate::store::ParamStore`].
pub trait Optimizer: Send {
    /// `torch.optim` class name.
    fn name(&self) -> &str;

    /// Whether [`Optimizer::step`] needs a closure (LBFGS).
    fn needs_closure(&self) -> bool {
        false
    }

    /// One update of every parameter that has a gradient; each group's `members` are
    /// indices into `params`.
    fn step(
        &mut self,
        params: &[Param],
        groups: &[ParamGroup],
        closure: Option<&mut Closure<'_>>,
    ) -> Result<(), StepError>;

    /// State tensors, named `<parameter name>.<state key>` (`fc1.weight.momentum_buffer`).
    fn state_tensors(&self, params: &[Param]) -> Vec<(String, Tensor)>;

    /// Scalar state (step counts) as JSON.
    fn state_meta(&self, params: &[Param]) -> serde_json::Value;

    /// Restores what [`Optimizer::state_tensors`] and [`Optimizer::state_meta`] produced.
    fn load_state(
        &mut self,
        params: &[Param],
        tensors: &mut HashMap<String, Tensor>,
        meta: &serde_json::Value,
    ) -> Result<(), TchError>;
}
