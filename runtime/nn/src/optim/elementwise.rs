//! Optimizers whose update is independent per parameter (all but LBFGS).

use std::collections::HashMap;

use tch::{TchError, Tensor};
use weft_core::ParamGroup;

use super::kinds::OptimizerKind;
use super::options::Options;
use super::rules::Update;
use super::state::ParamStates;
use super::{Closure, Optimizer};
use crate::store::Param;

/// An optimizer applying one [`OptimizerKind`]'s rule to each parameter with a gradient.
pub struct Elementwise {
    kind: &'static OptimizerKind,
    options: Vec<Options>,
    states: ParamStates,
}

impl Elementwise {
    /// An optimizer of `kind` with resolved options per group.
    pub fn new(kind: &'static OptimizerKind, options: Vec<Options>) -> Elementwise {
        Elementwise {
            kind,
            options,
            states: ParamStates::default(),
        }
    }
}

impl Optimizer for Elementwise {
    fn name(&self) -> &str {
        self.kind.name
    }

    fn step(
        &mut self,
        params: &[Param],
        groups: &[ParamGroup],
        members: &[Vec<usize>],
        _closure: Option<&mut Closure<'_>>,
    ) -> Result<(), TchError> {
        let rule = self.kind.rule.expect("elementwise kinds have a rule");
        tch::no_grad(|| {
            for ((group, opts), idx) in groups.iter().zip(&self.options).zip(members) {
                for &i in idx {
                    let p = &params[i];
                    let grad = p.tensor.grad();
                    if !grad.defined() {
                        continue;
                    }
                    rule(Update {
                        i,
                        param: &p.tensor,
                        grad,
                        group,
                        opts,
                        state: &mut self.states,
                    })?;
                }
            }
            Ok(())
        })
    }

    fn state_tensors(&self, params: &[Param]) -> Vec<(String, Tensor)> {
        self.states.tensors(params)
    }

    fn state_meta(&self, params: &[Param]) -> serde_json::Value {
        serde_json::json!({ "scalars": self.states.scalars_json(params) })
    }

    fn load_state(
        &mut self,
        params: &[Param],
        tensors: &mut HashMap<String, Tensor>,
        meta: &serde_json::Value,
    ) -> Result<(), TchError> {
        let scalars = meta.get("scalars").cloned().unwrap_or_default();
        self.states
            .load(params, tensors, &scalars, self.kind.state_keys)
    }
}
