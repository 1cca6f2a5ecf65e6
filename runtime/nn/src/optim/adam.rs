//! `torch.optim.Adam` and `AdamW`: bias-corrected moments, AMSGrad, decoupled weight decay.

use std::collections::HashMap;

use serde_json::{Value, json};
use tch::{TchError, Tensor};
use weft_core::{Momentum, ParamGroup};

use super::{Optimizer, effective_grad};
use crate::store::Param;

/// Per-group Adam options beyond lr, betas and weight decay.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamOptions {
    /// Added to the denominator.
    pub eps: f64,
    /// Use the maximum of past second moments (AMSGrad).
    pub amsgrad: bool,
    /// Maximize instead of minimize.
    pub maximize: bool,
    /// Decay weights directly (AdamW) instead of adding to the gradient.
    pub decoupled_weight_decay: bool,
}

struct State {
    step: f64,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    max_exp_avg_sq: Option<Tensor>,
}

/// Adam or AdamW.
pub struct Adam {
    name: &'static str,
    options: Vec<AdamOptions>,
    state: HashMap<usize, State>,
}

impl Adam {
    /// `Adam` (or `AdamW` when `name` says so) with options per group.
    pub fn new(name: &'static str, options: Vec<AdamOptions>) -> Adam {
        Adam {
            name,
            options,
            state: HashMap::new(),
        }
    }
}

impl Optimizer for Adam {
    fn name(&self) -> &str {
        self.name
    }

    fn step(
        &mut self,
        params: &[Param],
        groups: &[ParamGroup],
        members: &[Vec<usize>],
    ) -> Result<(), TchError> {
        tch::no_grad(|| {
            for ((group, opts), idx) in groups.iter().zip(&self.options).zip(members) {
                let (beta1, beta2) = match group.momentum {
                    Momentum::Betas(b1, b2) => (b1, b2),
                    _ => (0.9, 0.999),
                };
                let lr = group.lr;
                for &i in idx {
                    let p = &params[i];
                    let coupled = if opts.decoupled_weight_decay {
                        0.0
                    } else {
                        group.weight_decay
                    };
                    let Some(grad) = effective_grad(p, coupled, opts.maximize)? else {
                        continue;
                    };
                    let mut param = p.tensor.shallow_clone();
                    if opts.decoupled_weight_decay && group.weight_decay != 0.0 {
                        let _ = param.f_mul_scalar_(1.0 - lr * group.weight_decay)?;
                    }
                    let s = match self.state.entry(i) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            let zeros = p.tensor.f_zeros_like()?;
                            e.insert(State {
                                step: 0.0,
                                exp_avg: zeros.f_detach_copy()?,
                                exp_avg_sq: zeros.f_detach_copy()?,
                                max_exp_avg_sq: if opts.amsgrad { Some(zeros) } else { None },
                            })
                        }
                    };
                    s.step += 1.0;
                    let _ = s.exp_avg.f_lerp_(&grad, 1.0 - beta1)?;
                    let _ = s.exp_avg_sq.f_mul_scalar_(beta2)?;
                    let _ = s
                        .exp_avg_sq
                        .f_add_(&grad.f_mul(&grad)?.f_mul_scalar(1.0 - beta2)?)?;
                    let bias_correction1 = 1.0 - beta1.powf(s.step);
                    let bias_correction2 = 1.0 - beta2.powf(s.step);
                    let step_size = lr / bias_correction1;
                    let bc2_sqrt = bias_correction2.sqrt();
                    let second = match &mut s.max_exp_avg_sq {
                        Some(max) => {
                            let m = max.f_maximum(&s.exp_avg_sq)?;
                            *max = m;
                            max.shallow_clone()
                        }
                        None => s.exp_avg_sq.shallow_clone(),
                    };
                    let denom = second
                        .f_sqrt()?
                        .f_div_scalar(bc2_sqrt)?
                        .f_add_scalar(opts.eps)?;
                    let _ = param.f_sub_(&s.exp_avg.f_div(&denom)?.f_mul_scalar(step_size)?)?;
                }
            }
            Ok(())
        })
    }

    fn state_tensors(&self, params: &[Param]) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, s) in &self.state {
            let name = &params[*i].name;
            out.push((format!("{name}.exp_avg"), s.exp_avg.shallow_clone()));
            out.push((format!("{name}.exp_avg_sq"), s.exp_avg_sq.shallow_clone()));
            if let Some(m) = &s.max_exp_avg_sq {
                out.push((format!("{name}.max_exp_avg_sq"), m.shallow_clone()));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn state_meta(&self, params: &[Param]) -> Value {
        let steps: serde_json::Map<String, Value> = self
            .state
            .iter()
            .map(|(i, s)| (params[*i].name.clone(), json!(s.step)))
            .collect();
        json!({
            "step": steps,
            "groups": self.options.iter().map(|o| json!({
                "eps": o.eps, "amsgrad": o.amsgrad, "maximize": o.maximize,
            })).collect::<Vec<_>>()
        })
    }

    fn load_state(
        &mut self,
        params: &[Param],
        tensors: &mut HashMap<String, Tensor>,
        meta: &Value,
    ) -> Result<(), TchError> {
        self.state.clear();
        for (i, p) in params.iter().enumerate() {
            let (Some(a), Some(b)) = (
                tensors.remove(&format!("{}.exp_avg", p.name)),
                tensors.remove(&format!("{}.exp_avg_sq", p.name)),
            ) else {
                continue;
            };
            let device = p.tensor.device();
            let step = meta
                .get("step")
                .and_then(|s| s.get(&p.name))
                .and_then(Value::as_f64)
                .ok_or_else(|| {
                    TchError::Convert(format!("optimizer state of {} has no step count", p.name))
                })?;
            let max = tensors
                .remove(&format!("{}.max_exp_avg_sq", p.name))
                .map(|t| t.f_to_device(device))
                .transpose()?;
            self.state.insert(
                i,
                State {
                    step,
                    exp_avg: a.f_to_device(device)?,
                    exp_avg_sq: b.f_to_device(device)?,
                    max_exp_avg_sq: max,
                },
            );
        }
        Ok(())
    }
}
