//! PyTorch's default initialisations, so models start as `torch.nn` would start them.

use tch::{TchError, Tensor};

use crate::store::CPU_F32;

/// `kaiming_uniform_(a=sqrt(5))` on a weight with fan-in `fan_in`: uniform in
/// `±1/sqrt(fan_in)` (the default of `nn.Linear` and `nn.ConvNd`).
pub fn default_weight(shape: &[i64], fan_in: i64) -> Result<Tensor, TchError> {
    uniform(shape, bound(fan_in))
}

/// The default bias of `nn.Linear`/`nn.ConvNd`: uniform in `±1/sqrt(fan_in)`.
pub fn default_bias(size: i64, fan_in: i64) -> Result<Tensor, TchError> {
    uniform(&[size], bound(fan_in))
}

fn bound(fan_in: i64) -> f64 {
    if fan_in > 0 {
        1.0 / (fan_in as f64).sqrt()
    } else {
        0.0
    }
}

/// Uniform in `[-b, b]`.
pub fn uniform(shape: &[i64], b: f64) -> Result<Tensor, TchError> {
    Tensor::f_empty(shape, CPU_F32)?.f_uniform_(-b, b)
}

/// Standard normal (the default of `nn.Embedding` and free parameters).
pub fn normal(shape: &[i64]) -> Result<Tensor, TchError> {
    Tensor::f_randn(shape, CPU_F32)
}

/// All ones.
pub fn ones(shape: &[i64]) -> Result<Tensor, TchError> {
    Tensor::f_ones(shape, CPU_F32)
}

/// All zeros.
pub fn zeros(shape: &[i64]) -> Result<Tensor, TchError> {
    Tensor::f_zeros(shape, CPU_F32)
}
