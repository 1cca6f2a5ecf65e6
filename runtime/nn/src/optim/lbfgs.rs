//! `torch.optim.LBFGS`: limited-memory BFGS over all parameters as one flat vector, with
//! torch's stopping rules and optional strong-Wolfe line search. Each step calls the closure
//! (forward and backward on the current batch) one or more times.

use std::collections::HashMap;

use serde_json::{Value, json};
use tch::{Kind, TchError, Tensor};
use weft_core::ParamGroup;

use super::options::{OptValue, Options};
use super::{Closure, Optimizer, StepError};
use crate::store::Param;

/// L-BFGS with one parameter group.
pub struct Lbfgs {
    opts: Options,
    func_evals: u64,
    n_iter: u64,
    d: Option<Tensor>,
    t: f64,
    old_dirs: Vec<Tensor>,
    old_stps: Vec<Tensor>,
    ro: Vec<f64>,
    h_diag: f64,
    prev_flat_grad: Option<Tensor>,
    prev_loss: f64,
}

fn scalar(t: &Tensor) -> Result<f64, TchError> {
    t.f_double_value(&[])
}

impl Lbfgs {
    /// L-BFGS with the given options.
    pub fn new(opts: Options) -> Lbfgs {
        Lbfgs {
            opts,
            func_evals: 0,
            n_iter: 0,
            d: None,
            t: 0.0,
            old_dirs: Vec::new(),
            old_stps: Vec::new(),
            ro: Vec::new(),
            h_diag: 1.0,
            prev_flat_grad: None,
            prev_loss: 0.0,
        }
    }

    fn params<'a>(params: &'a [Param], groups: &[ParamGroup]) -> Vec<&'a Tensor> {
        groups
            .iter()
            .flat_map(|g| &g.members)
            .map(|i| &params[*i].tensor)
            .collect()
    }

    fn flat_grad(ps: &[&Tensor]) -> Result<Tensor, TchError> {
        let views = ps
            .iter()
            .map(|p| {
                let g = p.grad();
                if g.defined() {
                    g.f_reshape([-1])
                } else {
                    p.f_zeros_like()?.f_reshape([-1])
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Tensor::f_cat(&views, 0)
    }

    fn add_grad(ps: &[&Tensor], step: f64, update: &Tensor) -> Result<(), TchError> {
        tch::no_grad(|| {
            let mut offset = 0;
            for p in ps {
                let n = p.numel() as i64;
                let chunk = update.f_narrow(0, offset, n)?.f_view_as(p)?;
                let mut p = p.shallow_clone();
                let _ = p.f_add_(&chunk.f_mul_scalar(step)?)?;
                offset += n;
            }
            Ok(())
        })
    }

    fn set_params(ps: &[&Tensor], values: &[Tensor]) -> Result<(), TchError> {
        tch::no_grad(|| {
            for (p, v) in ps.iter().zip(values) {
                let mut p = p.shallow_clone();
                p.f_copy_(v)?;
            }
            Ok(())
        })
    }
}

/// torch's `_cubic_interpolate`.
fn cubic_interpolate(
    x1: f64,
    f1: f64,
    g1: f64,
    x2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        min_pos.max(lo).min(hi)
    } else {
        (lo + hi) / 2.0
    }
}

struct Probe {
    f: f64,
    g: Tensor,
    gtd: f64,
}

/// torch's `_strong_wolfe`; returns (loss, flat grad, step, evaluations).
#[allow(clippy::too_many_arguments, reason = "mirrors torch's signature")]
fn strong_wolfe(
    eval: &mut dyn FnMut(f64) -> Result<(f64, Tensor), TchError>,
    mut t: f64,
    d: &Tensor,
    f: f64,
    g: &Tensor,
    gtd: f64,
    tolerance_change: f64,
) -> Result<(f64, Tensor, f64, u64), TchError> {
    let (c1, c2, max_ls) = (1e-4, 0.9, 25);
    let d_norm = scalar(&d.f_abs()?.f_max()?)?;
    let (mut f_new, mut g_new) = eval(t)?;
    let mut evals = 1;
    let mut gtd_new = scalar(&g_new.f_dot(d)?)?;
    let (mut t_prev, mut f_prev, mut g_prev, mut gtd_prev) = (0.0, f, g.f_detach_copy()?, gtd);
    let mut done = false;
    let mut ls_iter = 0;
    let mut bracket: Vec<f64>;
    let mut probes: Vec<Probe>;
    loop {
        if ls_iter >= max_ls {
            bracket = vec![0.0, t];
            probes = vec![
                Probe {
                    f,
                    g: g.f_detach_copy()?,
                    gtd,
                },
                Probe {
                    f: f_new,
                    g: g_new.f_detach_copy()?,
                    gtd: gtd_new,
                },
            ];
            break;
        }
        // PyTorch's order: the Armijo condition fails (or f stopped falling), else the strong
        // Wolfe condition holds, else the slope turned non-negative. The first and the last
        // bracket [t_prev, t] alike.
        let armijo_fails = f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev);
        let wolfe = gtd_new.abs() <= -c2 * gtd;
        if !armijo_fails && wolfe {
            bracket = vec![t];
            probes = vec![Probe {
                f: f_new,
                g: g_new,
                gtd: gtd_new,
            }];
            done = true;
            break;
        }
        if armijo_fails || gtd_new >= 0.0 {
            bracket = vec![t_prev, t];
            probes = vec![
                Probe {
                    f: f_prev,
                    g: g_prev,
                    gtd: gtd_prev,
                },
                Probe {
                    f: f_new,
                    g: g_new.f_detach_copy()?,
                    gtd: gtd_new,
                },
            ];
            break;
        }
        let min_step = t + 0.01 * (t - t_prev);
        let max_step = t * 10.0;
        let tmp = t;
        t = cubic_interpolate(
            t_prev,
            f_prev,
            gtd_prev,
            t,
            f_new,
            gtd_new,
            Some((min_step, max_step)),
        );
        t_prev = tmp;
        f_prev = f_new;
        g_prev = g_new.f_detach_copy()?;
        gtd_prev = gtd_new;
        (f_new, g_new) = eval(t)?;
        evals += 1;
        gtd_new = scalar(&g_new.f_dot(d)?)?;
        ls_iter += 1;
    }
    // Zoom.
    let mut insuf_progress = false;
    let order = |probes: &[Probe]| {
        if probes[0].f <= probes[probes.len() - 1].f {
            (0, 1)
        } else {
            (1, 0)
        }
    };
    let (mut low, mut high) = order(&probes);
    while !done && ls_iter < max_ls {
        if (bracket[1] - bracket[0]).abs() * d_norm < tolerance_change {
            break;
        }
        t = cubic_interpolate(
            bracket[0],
            probes[0].f,
            probes[0].gtd,
            bracket[1],
            probes[1].f,
            probes[1].gtd,
            None,
        );
        let (bmax, bmin) = (bracket[0].max(bracket[1]), bracket[0].min(bracket[1]));
        let eps = 0.1 * (bmax - bmin);
        if (bmax - t).min(t - bmin) < eps {
            if insuf_progress || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() {
                    bmax - eps
                } else {
                    bmin + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        let (f_t, g_t) = eval(t)?;
        evals += 1;
        let gtd_t = scalar(&g_t.f_dot(d)?)?;
        ls_iter += 1;
        if f_t > f + c1 * t * gtd || f_t >= probes[low].f {
            bracket[high] = t;
            probes[high] = Probe {
                f: f_t,
                g: g_t,
                gtd: gtd_t,
            };
            (low, high) = if probes[0].f <= probes[1].f {
                (0, 1)
            } else {
                (1, 0)
            };
        } else {
            if gtd_t.abs() <= -c2 * gtd {
                done = true;
            } else if gtd_t * (bracket[high] - bracket[low]) >= 0.0 {
                bracket[high] = bracket[low];
                probes[high] = Probe {
                    f: probes[low].f,
                    g: probes[low].g.f_detach_copy()?,
                    gtd: probes[low].gtd,
                };
            }
            bracket[low] = t;
            probes[low] = Probe {
                f: f_t,
                g: g_t,
                gtd: gtd_t,
            };
        }
    }
    let p = probes.swap_remove(low.min(probes.len() - 1));
    Ok((p.f, p.g, bracket[low.min(bracket.len() - 1)], evals))
}

impl Optimizer for Lbfgs {
    fn name(&self) -> &str {
        "LBFGS"
    }

    fn needs_closure(&self) -> bool {
        true
    }

    fn step(
        &mut self,
        params: &[Param],
        groups: &[ParamGroup],
        closure: Option<&mut Closure<'_>>,
    ) -> Result<(), StepError> {
        let closure = closure.ok_or_else(|| {
            TchError::Torch("LBFGS needs a closure to re-evaluate the loss".into())
        })?;
        let ps = Lbfgs::params(params, groups);
        // The group's lr, as the schedule set it (LBFGS has exactly one group).
        let lr = groups
            .first()
            .ok_or_else(|| TchError::Torch("LBFGS has no parameter group".into()))?
            .lr;
        let max_iter = self.opts.num("max_iter") as u64;
        let max_eval = self
            .opts
            .opt_num("max_eval")
            .map_or(max_iter * 5 / 4, |v| v as u64);
        let tolerance_grad = self.opts.num("tolerance_grad");
        let tolerance_change = self.opts.num("tolerance_change");
        let history_size = self.opts.num("history_size") as usize;
        let strong_wolfe_search = matches!(
            self.opts.0.get("line_search_fn"),
            Some(OptValue::StrongWolfe)
        );

        let mut loss = closure()?;
        let mut current_evals = 1;
        self.func_evals += 1;
        let mut flat_grad = Lbfgs::flat_grad(&ps)?;
        if scalar(&flat_grad.f_abs()?.f_max()?)? <= tolerance_grad {
            return Ok(());
        }
        let mut n_iter = 0;
        while n_iter < max_iter {
            n_iter += 1;
            self.n_iter += 1;
            let d = if self.n_iter == 1 {
                self.old_dirs.clear();
                self.old_stps.clear();
                self.ro.clear();
                self.h_diag = 1.0;
                flat_grad.f_neg()?
            } else {
                let prev = self
                    .prev_flat_grad
                    .as_ref()
                    .expect("set after the first iteration");
                let y = flat_grad.f_sub(prev)?;
                let s = self
                    .d
                    .as_ref()
                    .expect("set after the first iteration")
                    .f_mul_scalar(self.t)?;
                let ys = scalar(&y.f_dot(&s)?)?;
                if ys > 1e-10 {
                    if self.old_dirs.len() == history_size {
                        let _ = self.old_dirs.remove(0);
                        let _ = self.old_stps.remove(0);
                        self.ro.remove(0);
                    }
                    self.h_diag = ys / scalar(&y.f_dot(&y)?)?;
                    self.old_dirs.push(y);
                    self.old_stps.push(s);
                    self.ro.push(1.0 / ys);
                }
                let num_old = self.old_dirs.len();
                let mut al = vec![0.0; num_old];
                let q = flat_grad.f_neg()?;
                for i in (0..num_old).rev() {
                    al[i] = scalar(&self.old_stps[i].f_dot(&q)?)? * self.ro[i];
                    super::ops::add_(&q, &self.old_dirs[i], -al[i])?;
                }
                let r = q.f_mul_scalar(self.h_diag)?;
                for ((y, s), (ro, a)) in self
                    .old_dirs
                    .iter()
                    .zip(&self.old_stps)
                    .zip(self.ro.iter().zip(&al))
                {
                    let be_i = scalar(&y.f_dot(&r)?)? * ro;
                    super::ops::add_(&r, s, a - be_i)?;
                }
                r
            };
            self.prev_flat_grad = Some(flat_grad.f_detach_copy()?);
            self.prev_loss = loss;
            let mut t = if self.n_iter == 1 {
                (1.0f64).min(1.0 / scalar(&flat_grad.f_abs()?.f_sum(Kind::Double)?)?) * lr
            } else {
                lr
            };
            let gtd = scalar(&flat_grad.f_dot(&d)?)?;
            if gtd > -tolerance_change {
                self.d = Some(d);
                self.t = t;
                break;
            }
            let mut ls_evals = 0;
            let mut opt_cond = false;
            if strong_wolfe_search {
                let x_init: Vec<Tensor> = ps
                    .iter()
                    .map(|p| p.f_detach_copy())
                    .collect::<Result<_, _>>()?;
                let mut eval = |step: f64| -> Result<(f64, Tensor), TchError> {
                    Lbfgs::add_grad(&ps, step, &d)?;
                    let l = closure()?;
                    let g = Lbfgs::flat_grad(&ps)?;
                    Lbfgs::set_params(&ps, &x_init)?;
                    Ok((l, g))
                };
                let (l, g, step, evals) =
                    strong_wolfe(&mut eval, t, &d, loss, &flat_grad, gtd, tolerance_change)?;
                loss = l;
                flat_grad = g;
                t = step;
                ls_evals = evals;
                Lbfgs::add_grad(&ps, t, &d)?;
                opt_cond = scalar(&flat_grad.f_abs()?.f_max()?)? <= tolerance_grad;
            } else {
                Lbfgs::add_grad(&ps, t, &d)?;
                if n_iter != max_iter {
                    loss = closure()?;
                    flat_grad = Lbfgs::flat_grad(&ps)?;
                    opt_cond = scalar(&flat_grad.f_abs()?.f_max()?)? <= tolerance_grad;
                    ls_evals = 1;
                }
            }
            current_evals += ls_evals;
            self.func_evals += ls_evals;
            let small_step = scalar(&d.f_mul_scalar(t)?.f_abs()?.f_max()?)? <= tolerance_change;
            self.d = Some(d);
            self.t = t;
            if n_iter == max_iter || current_evals >= max_eval || opt_cond || small_step {
                break;
            }
            if (loss - self.prev_loss).abs() < tolerance_change {
                break;
            }
        }
        Ok(())
    }

    fn state_tensors(&self, _params: &[Param]) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        if let Some(d) = &self.d {
            out.push(("lbfgs.d".to_string(), d.shallow_clone()));
        }
        if let Some(g) = &self.prev_flat_grad {
            out.push(("lbfgs.prev_flat_grad".to_string(), g.shallow_clone()));
        }
        for (k, (y, s)) in self.old_dirs.iter().zip(&self.old_stps).enumerate() {
            out.push((format!("lbfgs.old_dirs.{k}"), y.shallow_clone()));
            out.push((format!("lbfgs.old_stps.{k}"), s.shallow_clone()));
        }
        out
    }

    fn state_meta(&self, _params: &[Param]) -> Value {
        json!({
            "func_evals": self.func_evals, "n_iter": self.n_iter, "t": self.t, "ro": self.ro,
            "H_diag": self.h_diag, "prev_loss": self.prev_loss,
        })
    }

    fn load_state(
        &mut self,
        _params: &[Param],
        tensors: &mut HashMap<String, Tensor>,
        meta: &Value,
    ) -> Result<(), TchError> {
        let f = |k: &str| meta.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        self.func_evals = f("func_evals") as u64;
        self.n_iter = f("n_iter") as u64;
        self.t = f("t");
        self.h_diag = meta.get("H_diag").and_then(Value::as_f64).unwrap_or(1.0);
        self.prev_loss = f("prev_loss");
        self.ro = meta
            .get("ro")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        self.d = tensors.remove("lbfgs.d");
        self.prev_flat_grad = tensors.remove("lbfgs.prev_flat_grad");
        self.old_dirs = (0..self.ro.len())
            .filter_map(|k| tensors.remove(&format!("lbfgs.old_dirs.{k}")))
            .collect();
        self.old_stps = (0..self.ro.len())
            .filter_map(|k| tensors.remove(&format!("lbfgs.old_stps.{k}")))
            .collect();
        Ok(())
    }
}
