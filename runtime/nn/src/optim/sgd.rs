//! `torch.optim.SGD`: momentum, dampening, Nesterov, weight decay, maximize.

use std::collections::HashMap;

use serde_json::json;
use tch::{TchError, Tensor};
use weft_core::ParamGroup;

use super::{Optimizer, effective_grad};
use crate::store::Param;

/// Per-group SGD options beyond lr, momentum and weight decay.
#[derive(Debug, Clone, PartialEq)]
pub struct SgdOptions {
    /// Dampening for momentum.
    pub dampening: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Maximize instead of minimize.
    pub maximize: bool,
}

/// Stochastic gradient descent.
pub struct Sgd {
    options: Vec<SgdOptions>,
    buffers: HashMap<usize, Tensor>,
}

impl Sgd {
    /// SGD with options per group.
    pub fn new(options: Vec<SgdOptions>) -> Sgd {
        Sgd {
            options,
            buffers: HashMap::new(),
        }
    }
}

impl Optimizer for Sgd {
    fn name(&self) -> &str {
        "SGD"
    }

    fn step(
        &mut self,
        params: &[Param],
        groups: &[ParamGroup],
        members: &[Vec<usize>],
    ) -> Result<(), TchError> {
        tch::no_grad(|| {
            for ((group, opts), idx) in groups.iter().zip(&self.options).zip(members) {
                let momentum = group.momentum.value();
                for &i in idx {
                    let p = &params[i];
                    let Some(mut d) = effective_grad(p, group.weight_decay, opts.maximize)? else {
                        continue;
                    };
                    if momentum != 0.0 {
                        let buf = match self.buffers.get_mut(&i) {
                            Some(buf) => {
                                let _ = buf.f_mul_scalar_(momentum)?;
                                let _ = buf.f_add_(&d.f_mul_scalar(1.0 - opts.dampening)?)?;
                                buf.shallow_clone()
                            }
                            None => {
                                let buf = d.f_detach_copy()?;
                                self.buffers.insert(i, buf.shallow_clone());
                                buf
                            }
                        };
                        d = if opts.nesterov {
                            d.f_add(&buf.f_mul_scalar(momentum)?)?
                        } else {
                            buf
                        };
                    }
                    let mut t = p.tensor.shallow_clone();
                    let _ = t.f_sub_(&d.f_mul_scalar(group.lr)?)?;
                }
            }
            Ok(())
        })
    }

    fn state_tensors(&self, params: &[Param]) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = self
            .buffers
            .iter()
            .map(|(i, t)| {
                (
                    format!("{}.momentum_buffer", params[*i].name),
                    t.shallow_clone(),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn state_meta(&self, _params: &[Param]) -> serde_json::Value {
        json!({
            "groups": self.options.iter().map(|o| json!({
                "dampening": o.dampening, "nesterov": o.nesterov, "maximize": o.maximize,
            })).collect::<Vec<_>>()
        })
    }

    fn load_state(
        &mut self,
        params: &[Param],
        tensors: &mut HashMap<String, Tensor>,
        _meta: &serde_json::Value,
    ) -> Result<(), TchError> {
        self.buffers.clear();
        for (i, p) in params.iter().enumerate() {
            if let Some(t) = tensors.remove(&format!("{}.momentum_buffer", p.name)) {
                self.buffers.insert(i, t.f_to_device(p.tensor.device())?);
            }
        }
        Ok(())
    }
}
