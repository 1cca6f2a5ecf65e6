//! The per-parameter update rules of `torch.optim` (single-tensor variants, torch 2.13),
//! one function each. `grad` is the raw gradient; each rule applies `maximize` and weight
//! decay where torch does.

use tch::{TchError, Tensor};
use weft_core::ParamGroup;

use super::ops::{add_, addcdiv_, addcmul_, clone, copy_, full_like, lerp_, mul_, zeros_like};
use super::options::Options;
use super::state::ParamStates;

/// What an update rule gets.
pub struct Update<'a> {
    /// Parameter index (the state key).
    pub i: usize,
    /// The parameter.
    pub param: &'a Tensor,
    /// Its gradient.
    pub grad: Tensor,
    /// Schedulable hyperparameters of its group.
    pub group: &'a ParamGroup,
    /// The other options of its group.
    pub opts: &'a Options,
    /// Its state.
    pub state: &'a mut ParamStates,
}

fn signed(grad: Tensor, maximize: bool) -> Result<Tensor, TchError> {
    if maximize { grad.f_neg() } else { Ok(grad) }
}

fn decayed(grad: Tensor, param: &Tensor, wd: f64) -> Result<Tensor, TchError> {
    if wd != 0.0 {
        grad.f_add(&param.f_mul_scalar(wd)?)
    } else {
        Ok(grad)
    }
}

/// The gradient with `maximize` and coupled (L2) weight decay applied, as the optimizers
/// without decoupled decay take it.
fn coupled(
    grad: Tensor,
    param: &Tensor,
    group: &ParamGroup,
    opts: &Options,
) -> Result<Tensor, TchError> {
    decayed(
        signed(grad, opts.flag("maximize"))?,
        param,
        group.weight_decay,
    )
}

/// The gradient with `maximize` and weight decay applied: decoupled when the group sets
/// `decoupled_weight_decay` (AdamW's rule: the parameter shrinks by lr × wd, the gradient is
/// left alone), else coupled (L2, added to the gradient).
fn either_decay(
    grad: Tensor,
    param: &Tensor,
    group: &ParamGroup,
    opts: &Options,
) -> Result<Tensor, TchError> {
    let wd = group.weight_decay;
    if wd != 0.0 && opts.flag("decoupled_weight_decay") {
        mul_(param, 1.0 - group.lr * wd)?;
        return signed(grad, opts.flag("maximize"));
    }
    coupled(grad, param, group, opts)
}

fn betas(group: &ParamGroup) -> (f64, f64) {
    match group.momentum {
        weft_core::Momentum::Betas(b1, b2) => (b1, b2),
        _ => (0.9, 0.999),
    }
}

/// SGD with momentum, dampening, Nesterov.
pub fn sgd(u: Update<'_>) -> Result<(), TchError> {
    let momentum = u.group.momentum.value();
    let mut grad = coupled(u.grad, u.param, u.group, u.opts)?;
    if momentum != 0.0 {
        let buf = match u.state.get(u.i, "momentum_buffer") {
            None => {
                let b = clone(&grad)?;
                u.state.set(u.i, "momentum_buffer", b.shallow_clone());
                b
            }
            Some(b) => {
                mul_(&b, momentum)?;
                add_(&b, &grad, 1.0 - u.opts.num("dampening"))?;
                b
            }
        };
        grad = if u.opts.flag("nesterov") {
            grad.f_add(&buf.f_mul_scalar(momentum)?)?
        } else {
            buf
        };
    }
    add_(u.param, &grad, -u.group.lr)
}

/// Adam, and AdamW (`decoupled_weight_decay`).
pub fn adam(u: Update<'_>) -> Result<(), TchError> {
    let (beta1, beta2) = betas(u.group);
    let lr = u.group.lr;
    let grad = either_decay(u.grad, u.param, u.group, u.opts)?;
    let exp_avg = u.state.buffer(u.i, "exp_avg", || zeros_like(u.param))?;
    let exp_avg_sq = u.state.buffer(u.i, "exp_avg_sq", || zeros_like(u.param))?;
    let step = u.state.next_step(u.i);
    lerp_(&exp_avg, &grad, 1.0 - beta1)?;
    mul_(&exp_avg_sq, beta2)?;
    addcmul_(&exp_avg_sq, &grad, &grad, 1.0 - beta2)?;
    let bias_correction1 = 1.0 - beta1.powf(step);
    let bias_correction2 = 1.0 - beta2.powf(step);
    let step_size = lr / bias_correction1;
    let bias_correction2_sqrt = bias_correction2.powf(0.5);
    let second = if u.opts.flag("amsgrad") {
        let max = u
            .state
            .buffer(u.i, "max_exp_avg_sq", || zeros_like(u.param))?;
        copy_(&max, &max.f_maximum(&exp_avg_sq)?)?;
        max
    } else {
        exp_avg_sq
    };
    let denom = second
        .f_sqrt()?
        .f_div_scalar(bias_correction2_sqrt)?
        .f_add_scalar(u.opts.num("eps"))?;
    addcdiv_(u.param, &exp_avg, &denom, -step_size)
}

/// Adamax (infinity norm).
pub fn adamax(u: Update<'_>) -> Result<(), TchError> {
    let (beta1, beta2) = betas(u.group);
    let grad = coupled(u.grad, u.param, u.group, u.opts)?;
    let exp_avg = u.state.buffer(u.i, "exp_avg", || zeros_like(u.param))?;
    let exp_inf = u.state.buffer(u.i, "exp_inf", || zeros_like(u.param))?;
    let step = u.state.next_step(u.i);
    lerp_(&exp_avg, &grad, 1.0 - beta1)?;
    mul_(&exp_inf, beta2)?;
    copy_(
        &exp_inf,
        &exp_inf.f_maximum(&grad.f_abs()?.f_add_scalar(u.opts.num("eps"))?)?,
    )?;
    let clr = u.group.lr / (1.0 - beta1.powf(step));
    addcdiv_(u.param, &exp_avg, &exp_inf, -clr)
}

/// NAdam (Nesterov momentum with momentum decay).
pub fn nadam(u: Update<'_>) -> Result<(), TchError> {
    let (beta1, beta2) = betas(u.group);
    let lr = u.group.lr;
    let grad = either_decay(u.grad, u.param, u.group, u.opts)?;
    let exp_avg = u.state.buffer(u.i, "exp_avg", || zeros_like(u.param))?;
    let exp_avg_sq = u.state.buffer(u.i, "exp_avg_sq", || zeros_like(u.param))?;
    let step = u.state.next_step(u.i);
    let bias_correction2 = 1.0 - beta2.powf(step);
    let momentum_decay = u.opts.num("momentum_decay");
    let mu = beta1 * (1.0 - 0.5 * 0.96f64.powf(step * momentum_decay));
    let mu_next = beta1 * (1.0 - 0.5 * 0.96f64.powf((step + 1.0) * momentum_decay));
    // torch keeps this product in a scalar tensor; a double here, as torch with float64 defaults.
    let mu_product = u.state.scalar(u.i, "mu_product").unwrap_or(1.0) * mu;
    u.state.set_scalar(u.i, "mu_product", mu_product);
    lerp_(&exp_avg, &grad, 1.0 - beta1)?;
    mul_(&exp_avg_sq, beta2)?;
    addcmul_(&exp_avg_sq, &grad, &grad, 1.0 - beta2)?;
    let denom = exp_avg_sq
        .f_div_scalar(bias_correction2)?
        .f_sqrt()?
        .f_add_scalar(u.opts.num("eps"))?;
    let mu_product_next = mu_product * mu_next;
    addcdiv_(
        u.param,
        &grad,
        &denom,
        -lr * (1.0 - mu) / (1.0 - mu_product),
    )?;
    addcdiv_(
        u.param,
        &exp_avg,
        &denom,
        (-lr * mu_next) / (1.0 - mu_product_next),
    )
}

/// RAdam (rectified Adam).
pub fn radam(u: Update<'_>) -> Result<(), TchError> {
    let (beta1, beta2) = betas(u.group);
    let lr = u.group.lr;
    let grad = either_decay(u.grad, u.param, u.group, u.opts)?;
    let exp_avg = u.state.buffer(u.i, "exp_avg", || zeros_like(u.param))?;
    let exp_avg_sq = u.state.buffer(u.i, "exp_avg_sq", || zeros_like(u.param))?;
    let step = u.state.next_step(u.i);
    lerp_(&exp_avg, &grad, 1.0 - beta1)?;
    mul_(&exp_avg_sq, beta2)?;
    addcmul_(&exp_avg_sq, &grad, &grad, 1.0 - beta2)?;
    let bias_correction1 = 1.0 - beta1.powf(step);
    let bias_correction2 = 1.0 - beta2.powf(step);
    let corrected = exp_avg.f_div_scalar(bias_correction1)?;
    let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    let rho_t = rho_inf - 2.0 * step * beta2.powf(step) / bias_correction2;
    if rho_t > 5.0 {
        let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            .powf(0.5);
        let sqrt = exp_avg_sq.f_sqrt()?.f_add_scalar(u.opts.num("eps"))?;
        let adaptive = sqrt
            .f_reciprocal()?
            .f_mul_scalar(bias_correction2.powf(0.5))?;
        let update = corrected
            .f_mul_scalar(lr)?
            .f_mul(&adaptive)?
            .f_mul_scalar(rect)?;
        add_(u.param, &update, -1.0)
    } else {
        add_(u.param, &corrected.f_mul_scalar(lr)?, -1.0)
    }
}

/// Adagrad.
pub fn adagrad(u: Update<'_>) -> Result<(), TchError> {
    let init = u.opts.num("initial_accumulator_value");
    let sum = u.state.buffer(u.i, "sum", || full_like(u.param, init))?;
    let step = u.state.next_step(u.i);
    let grad = coupled(u.grad, u.param, u.group, u.opts)?;
    let clr = u.group.lr / (1.0 + (step - 1.0) * u.opts.num("lr_decay"));
    addcmul_(&sum, &grad, &grad, 1.0)?;
    let std = sum.f_sqrt()?.f_add_scalar(u.opts.num("eps"))?;
    addcdiv_(u.param, &grad, &std, -clr)
}

/// Adadelta.
pub fn adadelta(u: Update<'_>) -> Result<(), TchError> {
    let rho = u.opts.num("rho");
    let eps = u.opts.num("eps");
    let square_avg = u.state.buffer(u.i, "square_avg", || zeros_like(u.param))?;
    let acc_delta = u.state.buffer(u.i, "acc_delta", || zeros_like(u.param))?;
    u.state.next_step(u.i);
    let grad = coupled(u.grad, u.param, u.group, u.opts)?;
    mul_(&square_avg, rho)?;
    addcmul_(&square_avg, &grad, &grad, 1.0 - rho)?;
    let std = square_avg.f_add_scalar(eps)?.f_sqrt()?;
    let delta = acc_delta
        .f_add_scalar(eps)?
        .f_sqrt()?
        .f_div(&std)?
        .f_mul(&grad)?;
    mul_(&acc_delta, rho)?;
    addcmul_(&acc_delta, &delta, &delta, 1.0 - rho)?;
    add_(u.param, &delta, -u.group.lr)
}

/// RMSprop, optionally centered and with momentum.
pub fn rmsprop(u: Update<'_>) -> Result<(), TchError> {
    let alpha = u.opts.num("alpha");
    let momentum = u.group.momentum.value();
    let square_avg = u.state.buffer(u.i, "square_avg", || zeros_like(u.param))?;
    u.state.next_step(u.i);
    let grad = coupled(u.grad, u.param, u.group, u.opts)?;
    mul_(&square_avg, alpha)?;
    addcmul_(&square_avg, &grad, &grad, 1.0 - alpha)?;
    let avg = if u.opts.flag("centered") {
        let grad_avg = u.state.buffer(u.i, "grad_avg", || zeros_like(u.param))?;
        lerp_(&grad_avg, &grad, 1.0 - alpha)?;
        square_avg.f_sub(&grad_avg.f_mul(&grad_avg)?)?.f_sqrt()?
    } else {
        square_avg.f_sqrt()?
    };
    let avg = avg.f_add_scalar(u.opts.num("eps"))?;
    if momentum > 0.0 {
        let buf = u
            .state
            .buffer(u.i, "momentum_buffer", || zeros_like(u.param))?;
        mul_(&buf, momentum)?;
        addcdiv_(&buf, &grad, &avg, 1.0)?;
        add_(u.param, &buf, -u.group.lr)
    } else {
        addcdiv_(u.param, &grad, &avg, -u.group.lr)
    }
}

/// Rprop (resilient backpropagation): per-element step sizes driven by gradient signs.
pub fn rprop(u: Update<'_>) -> Result<(), TchError> {
    let (etaminus, etaplus) = u.opts.pair("etas");
    let (step_min, step_max) = u.opts.pair("step_sizes");
    let grad = signed(u.grad, u.opts.flag("maximize"))?;
    let prev = u.state.buffer(u.i, "prev", || zeros_like(u.param))?;
    let lr = u.group.lr;
    let step_size = u.state.buffer(u.i, "step_size", || full_like(&grad, lr))?;
    u.state.next_step(u.i);
    let sign = grad.f_mul(&prev)?.f_sign()?;
    let up = sign.f_gt(0.0)?.f_to_kind(grad.kind())?;
    let down = sign.f_lt(0.0)?.f_to_kind(grad.kind())?;
    // Exactly one of etaplus, etaminus or 1 per element.
    let factor = up
        .f_mul_scalar(etaplus)?
        .f_add(&down.f_mul_scalar(etaminus)?)?
        .f_add(&up.f_add(&down)?.f_neg()?.f_add_scalar(1.0)?)?;
    let mut s = step_size.shallow_clone();
    let _ = s.f_mul_(&factor)?;
    let _ = s.f_clamp_(step_min, step_max)?;
    // Where the sign flipped, the gradient counts as zero (and is remembered as zero).
    let grad = grad.f_mul(&down.f_neg()?.f_add_scalar(1.0)?)?;
    addcmul_(u.param, &grad.f_sign()?, &step_size, -1.0)?;
    copy_(&prev, &grad)
}

/// ASGD (averaged SGD).
pub fn asgd(u: Update<'_>) -> Result<(), TchError> {
    let lr = u.group.lr;
    let lambd = u.opts.num("lambd");
    let alpha = u.opts.num("alpha");
    let t0 = u.opts.num("t0");
    let ax = u.state.buffer(u.i, "ax", || zeros_like(u.param))?;
    let eta = u.state.scalar(u.i, "eta").unwrap_or(lr);
    let mu = u.state.scalar(u.i, "mu").unwrap_or(1.0);
    let step = u.state.next_step(u.i);
    let grad = coupled(u.grad, u.param, u.group, u.opts)?;
    mul_(u.param, 1.0 - lambd * eta)?;
    add_(u.param, &grad, -eta)?;
    if mu != 1.0 {
        add_(&ax, &u.param.f_sub(&ax)?.f_mul_scalar(mu)?, 1.0)?;
    } else {
        copy_(&ax, u.param)?;
    }
    let new_eta = lr / (1.0 + lambd * lr * step).powf(alpha);
    u.state.set_scalar(u.i, "eta", new_eta);
    u.state
        .set_scalar(u.i, "mu", 1.0 / f64::max(1.0, step - t0));
    Ok(())
}
