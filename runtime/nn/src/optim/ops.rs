//! In-place tensor updates spelled as `torch.optim` spells them (`add_(x, alpha=a)`,
//! `addcmul_`, `addcdiv_`), so each update rule reads like its PyTorch source.

use tch::{TchError, Tensor};

/// `t.add_(x, alpha=a)`.
pub fn add_(t: &Tensor, x: &Tensor, alpha: f64) -> Result<(), TchError> {
    let mut t = t.shallow_clone();
    if alpha == 1.0 {
        let _ = t.f_add_(x)?;
    } else {
        let _ = t.f_add_(&x.f_mul_scalar(alpha)?)?;
    }
    Ok(())
}

/// `t.mul_(s)`.
pub fn mul_(t: &Tensor, s: f64) -> Result<(), TchError> {
    let mut t = t.shallow_clone();
    let _ = t.f_mul_scalar_(s)?;
    Ok(())
}

/// `t.addcmul_(a, b, value=v)`: `t += v * a * b`.
pub fn addcmul_(t: &Tensor, a: &Tensor, b: &Tensor, value: f64) -> Result<(), TchError> {
    let prod = a.f_mul(b)?;
    add_(t, &prod, value)
}

/// `t.addcdiv_(a, b, value=v)`: `t += v * a / b`.
pub fn addcdiv_(t: &Tensor, a: &Tensor, b: &Tensor, value: f64) -> Result<(), TchError> {
    let q = a.f_div(b)?;
    add_(t, &q, value)
}

/// `t.lerp_(end, w)`.
pub fn lerp_(t: &Tensor, end: &Tensor, w: f64) -> Result<(), TchError> {
    let mut t = t.shallow_clone();
    let _ = t.f_lerp_(end, w)?;
    Ok(())
}

/// `t.copy_(src)`.
pub fn copy_(t: &Tensor, src: &Tensor) -> Result<(), TchError> {
    let mut t = t.shallow_clone();
    t.f_copy_(src)?;
    Ok(())
}

/// A zero tensor like `t` (`torch.zeros_like(p, memory_format=torch.preserve_format)`).
pub fn zeros_like(t: &Tensor) -> Result<Tensor, TchError> {
    t.f_zeros_like()
}

/// `torch.full_like(t, v)`.
pub fn full_like(t: &Tensor, v: f64) -> Result<Tensor, TchError> {
    t.f_full_like(v)
}

/// A detached copy (`torch.clone(t).detach()`).
pub fn clone(t: &Tensor) -> Result<Tensor, TchError> {
    t.f_detach_copy()
}
