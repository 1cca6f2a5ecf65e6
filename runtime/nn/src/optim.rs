//! Optimizers on libtorch with `torch.optim`'s options and update rules.
//!
//! An optimizer keeps per-parameter state (momentum buffers, moments) and reads the
//! schedulable hyperparameters (lr, momentum/betas, weight decay) from the core
//! [`ParamGroup`]s at every step, so lr and momentum hooks work by writing those.

mod adam;
mod build;
mod sgd;

use std::collections::HashMap;

use tch::{TchError, Tensor};
use weft_core::ParamGroup;

use crate::store::Param;

pub use adam::{Adam, AdamOptions};
pub use build::{OPTIMIZER_TYPES, OptimizerSetup, build_optimizer};
pub use sgd::{Sgd, SgdOptions};

/// An optimizer over the parameters of a [`crate::store::ParamStore`].
pub trait Optimizer: Send {
    /// `torch.optim` class name.
    fn name(&self) -> &str;

    /// One update of every parameter that has a gradient. `members[g]` lists the indices
    /// (into `params`) of group `g`.
    fn step(
        &mut self,
        params: &[Param],
        groups: &[ParamGroup],
        members: &[Vec<usize>],
    ) -> Result<(), TchError>;

    /// State tensors, named `<parameter name>.<state key>` (`fc1.weight.momentum_buffer`).
    fn state_tensors(&self, params: &[Param]) -> Vec<(String, Tensor)>;

    /// Scalar state (step counts) and per-group options, as JSON.
    fn state_meta(&self, params: &[Param]) -> serde_json::Value;

    /// Restores what [`Optimizer::state_tensors`] and [`Optimizer::state_meta`] produced.
    fn load_state(
        &mut self,
        params: &[Param],
        tensors: &mut HashMap<String, Tensor>,
        meta: &serde_json::Value,
    ) -> Result<(), TchError>;
}

/// `d = grad (+ wd * p)`, negated when maximizing; `None` when the parameter has no grad.
pub(crate) fn effective_grad(
    p: &Param,
    weight_decay: f64,
    maximize: bool,
) -> Result<Option<Tensor>, TchError> {
    let grad = p.tensor.grad();
    if !grad.defined() {
        return Ok(None);
    }
    let mut g = if maximize { grad.f_neg()? } else { grad };
    if weight_decay != 0.0 {
        g = g.f_add(&p.tensor.f_mul_scalar(weight_decay)?)?;
    }
    Ok(Some(g))
}
