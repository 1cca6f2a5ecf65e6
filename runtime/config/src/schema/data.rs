//! `data`: datasets and how they are loaded (MMCV/MMAction2 `data = dict(...)`).

use serde::Deserialize;

use crate::{Located, RawNode};

/// `data = { samples_per_gpu = 64, workers_per_gpu = 2, train = {...}, val = {...}, test = {...} }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Batch size (MMCV's name; one process, so per GPU is per run).
    pub samples_per_gpu: Option<Located<u64>>,
    /// MMAction2's name for `samples_per_gpu`.
    pub videos_per_gpu: Option<Located<u64>>,
    /// Worker threads that prepare batches ahead of the loop (0-64). Default 2.
    pub workers_per_gpu: Option<Located<u64>>,
    /// The training set: `{ type = "FashionMNIST", split = "train", ... }`.
    pub train: Option<RawNode>,
    /// The validation set (the `val` workflow phase and the evaluation hook).
    pub val: Option<RawNode>,
    /// The test set (`weft test`).
    pub test: Option<RawNode>,
    /// Loader overrides for training (MMAction2's `train_dataloader`).
    pub train_dataloader: Option<LoaderConfig>,
    /// Loader overrides for validation.
    pub val_dataloader: Option<LoaderConfig>,
    /// Loader overrides for testing.
    pub test_dataloader: Option<LoaderConfig>,
}

/// Per-split loader overrides.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoaderConfig {
    /// Batch size.
    pub samples_per_gpu: Option<Located<u64>>,
    /// MMAction2's name for the batch size.
    pub videos_per_gpu: Option<Located<u64>>,
    /// Worker threads (0-64).
    pub workers_per_gpu: Option<Located<u64>>,
    /// Shuffle each epoch (default: true for training, false otherwise).
    pub shuffle: Option<bool>,
    /// Drop the last incomplete batch (default false).
    pub drop_last: Option<bool>,
    /// Batches prepared ahead per worker (1-64, default 2).
    pub prefetch: Option<Located<u64>>,
}
