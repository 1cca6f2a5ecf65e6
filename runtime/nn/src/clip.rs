//! Gradient norms and `torch.nn.utils.clip_grad_norm_`, without leaving the device.

use tch::{Kind, TchError, Tensor};

/// The p-norm of one tensor over all its elements (`inf`: largest absolute value).
fn norm(t: &Tensor, p: f64) -> Result<Tensor, TchError> {
    let flat = t.f_flatten(0, -1)?;
    if p.is_infinite() {
        flat.f_abs()?.f_max()
    } else {
        flat.f_norm_scalaropt_dim(p, [0i64], false)
    }
}

/// The joint norm of `grads`: the norm of the per-tensor norms, as torch computes it. Stays a
/// device tensor (no synchronisation).
pub fn total_norm(grads: &[Tensor], p: f64) -> Result<Tensor, TchError> {
    let norms = grads
        .iter()
        .map(|g| norm(g, p))
        .collect::<Result<Vec<_>, _>>()?;
    let stacked = Tensor::f_stack(&norms, 0)?;
    norm(&stacked, p)
}

/// Scales `grads` in place so their joint norm is at most `max_norm` (torch's
/// `clip_grad_norm_`: coefficient `min(max_norm / (total + 1e-6), 1)`, applied even when it
/// is 1). Returns the norm before clipping.
pub fn clip_grad_norm(
    grads: &[Tensor],
    max_norm: f64,
    p: f64,
    error_if_nonfinite: bool,
) -> Result<Tensor, TchError> {
    if grads.is_empty() {
        return Tensor::f_zeros([], (Kind::Float, tch::Device::Cpu));
    }
    let total = total_norm(grads, p)?;
    if error_if_nonfinite {
        // This one reads the value on the host, which is why it is opt-in (as in torch).
        let v = total.f_double_value(&[])?;
        if !v.is_finite() {
            return Err(TchError::Torch(format!(
                "the total norm of order {p} for gradients is non-finite ({v}), so it cannot be clipped; \
                 set error_if_nonfinite = false to clip anyway"
            )));
        }
    }
    let coef = total
        .f_add_scalar(1e-6)?
        .f_reciprocal()?
        .f_mul_scalar(max_norm)?
        .f_clamp_max(1.0)?;
    tch::no_grad(|| -> Result<(), TchError> {
        for g in grads {
            let mut g = g.shallow_clone();
            let _ = g.f_mul_(&coef)?;
        }
        Ok(())
    })?;
    Ok(total)
}
