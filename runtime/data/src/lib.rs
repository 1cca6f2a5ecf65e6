//! # weft-data: datasets and loaders
//!
//! Datasets hold their samples in host memory and turn index lists into batched tensors;
//! a [`Loader`] orders them (seeded, reproducible per epoch), prepares batches ahead on
//! worker threads with a bounded queue, and can start an epoch part-way through, so that a
//! resumed run sees exactly the batches an uninterrupted one would.
//!
//! Types to read first: [`Dataset`], [`Loader`], [`LoaderSettings`], [`build_dataset`].

mod batch;
mod error;
mod idx;
mod loader;
mod memory;
mod mnist;
mod registry;
mod sampler;

pub use batch::Batch;
pub use error::DataError;
pub use idx::{IdxArray, read_idx};
pub use loader::{Loader, LoaderSettings};
pub use memory::{InMemory, Targets};
pub use mnist::{ImageClassification, Normalize};
pub use registry::{BuildError, DATASET_TYPES, build_dataset, check_dataset, dataset_len};
pub use sampler::epoch_order;

/// A labelled dataset that can build batches.
pub trait Dataset: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes.
    fn num_classes(&self) -> usize;

    /// Shape of one input, without the batch dimension (`[1, 28, 28]`).
    fn input_shape(&self) -> Vec<i64>;

    /// The samples at `indices`, stacked into one batch on the CPU.
    fn collate(&self, indices: &[usize]) -> Result<Batch, DataError>;

    /// A short description for logs (`FashionMNIST(train, 60000 samples)`).
    fn describe(&self) -> String;
}
