//! Optimizers whose update is independent per parameter (all but LBFGS).

use std::collections::HashMap;

use tch::{TchError, Tensor};
use weft_core::ParamGroup;

use super::kinds::OptimizerKind;
use super::options::Options;
use super::rules::Update;
use super::state::ParamStates;
use super::{Closure, Optimizer, StepError};
use super::{fused, ops};
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

impl Elementwise {
    /// SGD, Adam and AdamW run libtorch's fused kernel for a whole group when its tensors
    /// allow; false when the per-parameter rule must run instead.
    fn fused_step(
        kind: &OptimizerKind,
        states: &mut ParamStates,
        params: &[Param],
        group: &ParamGroup,
        opts: &Options,
        idx: &[usize],
    ) -> Result<bool, TchError> {
        if !matches!(kind.name, "SGD" | "Adam" | "AdamW") {
            return Ok(false);
        }
        let with_grad: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|i| params[*i].tensor.grad().defined())
            .collect();
        if with_grad.is_empty() {
            return Ok(true);
        }
        let tensors: Vec<&Tensor> = with_grad.iter().map(|i| &params[*i].tensor).collect();
        if !fused::supported(&tensors) {
            return Ok(false);
        }
        let p: Vec<Tensor> = tensors.iter().map(|t| t.shallow_clone()).collect();
        let g: Vec<Tensor> = tensors.iter().map(|t| t.grad()).collect();
        if kind.name == "SGD" {
            let h = fused::Sgd {
                weight_decay: group.weight_decay,
                momentum: group.momentum.value(),
                lr: group.lr,
                dampening: opts.num("dampening"),
                nesterov: opts.flag("nesterov"),
                maximize: opts.flag("maximize"),
            };
            if h.momentum == 0.0 {
                fused::sgd(&p, &g, &[], &h, false)?;
                return Ok(true);
            }
            // Parameters without a buffer yet take their gradient as the buffer (first step).
            let (old, new): (Vec<usize>, Vec<usize>) = (0..with_grad.len())
                .partition(|k| states.get(with_grad[*k], "momentum_buffer").is_some());
            for (subset, first) in [(old, false), (new, true)] {
                if subset.is_empty() {
                    continue;
                }
                let bufs = subset
                    .iter()
                    .map(|k| {
                        states.buffer(with_grad[*k], "momentum_buffer", || ops::zeros_like(&p[*k]))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let sp: Vec<Tensor> = subset.iter().map(|k| p[*k].shallow_clone()).collect();
                let sg: Vec<Tensor> = subset.iter().map(|k| g[*k].shallow_clone()).collect();
                fused::sgd(&sp, &sg, &bufs, &h, first)?;
            }
            return Ok(true);
        }
        let amsgrad = opts.flag("amsgrad");
        let mut m = Vec::new();
        let mut v = Vec::new();
        let mut vmax = Vec::new();
        let mut steps = Vec::new();
        for (k, &i) in with_grad.iter().enumerate() {
            m.push(states.buffer(i, "exp_avg", || ops::zeros_like(&p[k]))?);
            v.push(states.buffer(i, "exp_avg_sq", || ops::zeros_like(&p[k]))?);
            if amsgrad {
                vmax.push(states.buffer(i, "max_exp_avg_sq", || ops::zeros_like(&p[k]))?);
            }
            steps.push(states.next_step(i) as f32);
        }
        // One transfer for all step counts; each parameter gets a view of its own.
        let steps = Tensor::f_from_slice(&steps)?
            .f_to_device(p[0].device())?
            .f_unbind(0)?;
        let h = fused::Adam {
            lr: group.lr,
            betas: match group.momentum {
                weft_core::Momentum::Betas(b1, b2) => (b1, b2),
                other => {
                    return Err(TchError::Kind(format!(
                        "{} group without betas: {other:?}",
                        kind.name
                    )));
                }
            },
            weight_decay: group.weight_decay,
            eps: opts.num("eps"),
            amsgrad,
            maximize: opts.flag("maximize"),
            decoupled: opts.flag("decoupled_weight_decay"),
        };
        let state = fused::AdamState {
            exp_avgs: &m,
            exp_avg_sqs: &v,
            max_exp_avg_sqs: &vmax,
            steps: &steps,
        };
        fused::adam(&p, &g, &state, &h)?;
        Ok(true)
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
        _closure: Option<&mut Closure<'_>>,
    ) -> Result<(), StepError> {
        let rule = self.kind.rule.expect("elementwise kinds have a rule");
        tch::no_grad(|| {
            for (group, opts) in groups.iter().zip(&self.options) {
                let idx = &group.members;
                if Elementwise::fused_step(self.kind, &mut self.states, params, group, opts, idx)? {
                    continue;
                }
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
