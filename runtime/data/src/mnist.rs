//! In-memory image classification sets of 8-bit grey images ((Fashion-)MNIST).

use tch::Tensor;

use crate::batch::Batch;
use crate::error::DataError;
use crate::{Dataset, Draw};

/// `(x / 255 - mean) / std`, per channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    /// Mean in [0, 1] units.
    pub mean: f32,
    /// Standard deviation in [0, 1] units.
    pub std: f32,
}

/// Grey images `[N, H, W]` with one label each.
pub struct ImageClassification {
    name: String,
    images: Vec<u8>,
    labels: Vec<u8>,
    height: usize,
    width: usize,
    num_classes: usize,
    normalize: Normalize,
}

impl ImageClassification {
    /// A dataset over raw bytes; `images.len()` must be `labels.len() * height * width`.
    pub fn new(
        name: String,
        images: Vec<u8>,
        labels: Vec<u8>,
        height: usize,
        width: usize,
        num_classes: usize,
        normalize: Normalize,
    ) -> Self {
        debug_assert_eq!(images.len(), labels.len() * height * width);
        ImageClassification {
            name,
            images,
            labels,
            height,
            width,
            num_classes,
            normalize,
        }
    }

    /// The raw label of every sample.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }
}

impl Dataset for ImageClassification {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn collate(&self, indices: &[usize], _draw: Draw) -> Result<Batch, DataError> {
        let pixels = self.height * self.width;
        let scale = 1.0 / (255.0 * self.normalize.std);
        let shift = self.normalize.mean / self.normalize.std;
        let mut inputs = Vec::with_capacity(indices.len() * pixels);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let image = &self.images[i * pixels..(i + 1) * pixels];
            inputs.extend(image.iter().map(|&p| p as f32 * scale - shift));
            labels.push(self.labels[i] as i64);
        }
        let n = indices.len() as i64;
        let inputs =
            Tensor::f_from_slice(&inputs)?.f_view([n, 1, self.height as i64, self.width as i64])?;
        Ok(Batch {
            inputs,
            labels: Tensor::f_from_slice(&labels)?,
            len: indices.len(),
        })
    }

    fn describe(&self) -> String {
        format!("{} ({} samples)", self.name, self.labels.len())
    }
}
