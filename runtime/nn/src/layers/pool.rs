//! Pooling layers.

use serde::Deserialize;
use tch::{TchError, Tensor};

use super::{IntOrList, Layer};

/// `MaxPool2d`/`AvgPool2d` arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolArgs {
    /// Window size.
    pub kernel_size: IntOrList,
    /// Stride (default: the kernel size).
    pub stride: Option<IntOrList>,
    /// Zero padding (default 0).
    pub padding: Option<IntOrList>,
}

/// Max or average.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// `MaxPool2d`.
    Max,
    /// `AvgPool2d`.
    Avg,
}

/// 2-d pooling.
pub struct Pool {
    kind: PoolKind,
    kernel: Vec<i64>,
    stride: Vec<i64>,
    padding: Vec<i64>,
}

impl Pool {
    /// A pooling layer.
    pub fn new(kind: PoolKind, a: &PoolArgs) -> Pool {
        let kernel = a.kernel_size.expand(2);
        Pool {
            kind,
            stride: a.stride.as_ref().map_or(kernel.clone(), |s| s.expand(2)),
            padding: a.padding.as_ref().map_or(vec![0, 0], |p| p.expand(2)),
            kernel,
        }
    }
}

impl Layer for Pool {
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor, TchError> {
        match self.kind {
            PoolKind::Max => {
                x.f_max_pool2d(&self.kernel, &self.stride, &self.padding, [1, 1], false)
            }
            PoolKind::Avg => x.f_avg_pool2d(
                &self.kernel,
                &self.stride,
                &self.padding,
                false,
                true,
                None::<i64>,
            ),
        }
    }
}

/// `AdaptiveAvgPool2d(output_size)`.
pub struct AdaptiveAvgPool {
    /// Output height and width.
    pub output: Vec<i64>,
}

impl Layer for AdaptiveAvgPool {
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor, TchError> {
        x.f_adaptive_avg_pool2d(&self.output)
    }
}
