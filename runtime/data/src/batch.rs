//! A batch of inputs and labels.

use tch::Tensor;

/// Inputs `[N, ...]` (float32) and labels `[N]` (int64).
#[derive(Debug)]
pub struct Batch {
    /// The inputs.
    pub inputs: Tensor,
    /// Class labels.
    pub labels: Tensor,
    /// Number of samples.
    pub len: usize,
}
