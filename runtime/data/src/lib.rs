//! # weft-data: datasets and loaders
//!
//! Datasets turn index lists into batched tensors: image sets held in memory ((Fashion-)MNIST,
//! `InMemory`), and MMAction2's video datasets (`video/`), whose samples go through a data
//! pipeline of decoding and augmentation. A [`Loader`] orders the samples (seeded,
//! reproducible per epoch), prepares batches ahead on worker threads with a bounded queue, and
//! can start an epoch part-way through, so that a resumed run sees exactly the batches an
//! uninterrupted one would. Random augmentation draws from a stream per (seed, epoch, sample)
//! ([`Draw`]), so batches do not depend on the number of workers either.
//!
//! Types to read first: [`Dataset`], [`Loader`], [`LoaderSettings`], [`build_dataset`].
//! `codec/` reads and writes JPEG and video files; `synth/` generates Moving-Fashion-MNIST.

mod batch;
pub mod codec;
mod error;
mod frame;
mod idx;
mod loader;
mod memory;
mod mnist;
mod registry;
mod sampler;
mod splitmix;
pub mod synth;
pub mod video;

pub use batch::Batch;
pub use error::DataError;
pub use frame::Frame;
pub use idx::{IdxArray, read_idx};
pub use loader::{Loader, LoaderSettings};
pub use memory::{InMemory, Targets};
pub use mnist::{ImageClassification, Normalize};
pub use registry::{BuildError, DATASET_TYPES, build_dataset, check_dataset, dataset_len};
pub use sampler::{Shard, epoch_order};

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

    /// The samples at `indices`, stacked into one batch on the CPU; random transforms draw
    /// from `draw`'s stream for each sample.
    fn collate(&self, indices: &[usize], draw: Draw) -> Result<Batch, DataError>;

    /// A short description for logs (`FashionMNIST(train, 60000 samples)`).
    fn describe(&self) -> String;
}

/// What a sample's random draws depend on besides its index: the run's seed and the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    /// The run's seed.
    pub seed: u64,
    /// The epoch (0 for evaluation).
    pub epoch: u64,
}
