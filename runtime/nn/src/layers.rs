//! Standard layers (`torch.nn` equivalents) with PyTorch's parameter names and initialisation.

mod conv;
mod embedding;
mod linear;
mod norm;
mod pool;
mod simple;

use serde::Deserialize;
use tch::{TchError, Tensor};

pub use conv::{Conv, ConvArgs};
pub use embedding::{Embedding, EmbeddingArgs};
pub use linear::{Linear, LinearArgs};
pub use norm::{
    BatchNorm, BatchNormArgs, GroupNorm, GroupNormArgs, InstanceNorm, LayerNorm, LayerNormArgs,
};
pub use pool::{AdaptiveAvgPool, Pool, PoolArgs, PoolKind};
pub use simple::{Dropout, Flatten, Relu};

/// A layer's forward pass.
pub trait Layer: Send {
    /// Applies the layer; `train` selects training behaviour (dropout, batch statistics).
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError>;

    /// Uses `tensor` as this layer's parameter `local` (tied weights); false if the layer has
    /// no such parameter.
    fn replace_param(&mut self, _local: &str, _tensor: Tensor) -> bool {
        false
    }
}

/// [`Layer::replace_param`] for a layer with a `weight` and an optional `bias`.
fn replace_weight_or_bias(
    weight: &mut Tensor,
    bias: &mut Option<Tensor>,
    local: &str,
    tensor: Tensor,
) -> bool {
    match local {
        "weight" => *weight = tensor,
        "bias" if bias.is_some() => *bias = Some(tensor),
        _ => return false,
    }
    true
}

/// The layer types a `Modules` model may list.
pub const LAYER_TYPES: [&str; 22] = [
    "Linear",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "GroupNorm",
    "LayerNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "Embedding",
    "ReLU",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "Flatten",
    "Dropout",
    "Sigmoid",
    "Tanh",
    "GELU",
];

/// An integer or a list of integers (PyTorch's `int | tuple[int, ...]` arguments).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum IntOrList {
    /// The same value in every dimension.
    One(i64),
    /// One value per dimension.
    Many(Vec<i64>),
}

impl IntOrList {
    /// The value for `dims` dimensions.
    pub fn expand(&self, dims: usize) -> Vec<i64> {
        match self {
            IntOrList::One(v) => vec![*v; dims],
            IntOrList::Many(v) => v.clone(),
        }
    }
}
