//! Layers without parameters: activations, `Flatten`, `Dropout`.

use tch::{TchError, Tensor};

use super::Layer;

/// Element-wise activations.
pub enum Relu {
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// Gaussian error linear unit (exact, as `nn.GELU()`).
    Gelu,
}

impl Layer for Relu {
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor, TchError> {
        match self {
            Relu::Relu => x.f_relu(),
            Relu::Sigmoid => x.f_sigmoid(),
            Relu::Tanh => x.f_tanh(),
            Relu::Gelu => x.f_gelu("none"),
        }
    }
}

/// `torch.flatten(x, start_dim, end_dim)`.
pub struct Flatten {
    /// First dimension to merge (default 1).
    pub start_dim: i64,
    /// Last dimension to merge (default -1).
    pub end_dim: i64,
}

impl Layer for Flatten {
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor, TchError> {
        x.f_flatten(self.start_dim, self.end_dim)
    }
}

/// Zeroes elements with probability `p` in training (scaling the rest by `1/(1-p)`).
pub struct Dropout {
    /// Drop probability.
    pub p: f64,
}

impl Layer for Dropout {
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        x.f_dropout(self.p, train)
    }
}
