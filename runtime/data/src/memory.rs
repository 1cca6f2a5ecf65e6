//! `type = "InMemory"`: samples written in the config itself, for tiny experiments, examples
//! and tests of exact numerics (regression targets or class labels).

use tch::{Kind, Tensor};

use crate::batch::Batch;
use crate::error::DataError;
use crate::{Dataset, Draw};

/// Samples with float inputs and either float targets or class labels.
pub struct InMemory {
    inputs: Vec<f32>,
    input_shape: Vec<i64>,
    targets: Targets,
}

/// What the samples are paired with.
pub enum Targets {
    /// Class labels (classification, cross-entropy).
    Labels(Vec<i64>),
    /// Float targets of a given per-sample shape (regression, mean squared error).
    Values(Vec<f32>, Vec<i64>),
}

impl InMemory {
    /// A dataset of `n` samples: `inputs` holds `n * prod(input_shape)` values.
    pub fn new(inputs: Vec<f32>, input_shape: Vec<i64>, targets: Targets) -> InMemory {
        InMemory {
            inputs,
            input_shape,
            targets,
        }
    }

    fn sample_size(shape: &[i64]) -> usize {
        shape.iter().product::<i64>().max(1) as usize
    }
}

impl Dataset for InMemory {
    fn len(&self) -> usize {
        self.inputs.len() / InMemory::sample_size(&self.input_shape)
    }

    fn num_classes(&self) -> usize {
        match &self.targets {
            Targets::Labels(l) => l.iter().copied().max().map_or(0, |m| m as usize + 1),
            Targets::Values(..) => 0,
        }
    }

    fn collate(&self, indices: &[usize], _draw: Draw) -> Result<Batch, DataError> {
        let size = InMemory::sample_size(&self.input_shape);
        let mut x = Vec::with_capacity(indices.len() * size);
        for &i in indices {
            x.extend_from_slice(&self.inputs[i * size..(i + 1) * size]);
        }
        let mut shape = vec![indices.len() as i64];
        shape.extend(&self.input_shape);
        let inputs = Tensor::f_from_slice(&x)?.f_view(shape.as_slice())?;
        let labels = match &self.targets {
            Targets::Labels(l) => {
                Tensor::f_from_slice(&indices.iter().map(|i| l[*i]).collect::<Vec<_>>())?
            }
            Targets::Values(v, tshape) => {
                let tsize = InMemory::sample_size(tshape);
                let mut y = Vec::with_capacity(indices.len() * tsize);
                for &i in indices {
                    y.extend_from_slice(&v[i * tsize..(i + 1) * tsize]);
                }
                let mut shape = vec![indices.len() as i64];
                shape.extend(tshape);
                Tensor::f_from_slice(&y)?
                    .f_view(shape.as_slice())?
                    .f_to_kind(Kind::Float)?
            }
        };
        Ok(Batch {
            inputs,
            labels,
            len: indices.len(),
        })
    }

    fn describe(&self) -> String {
        format!("InMemory ({} samples)", self.len())
    }
}
