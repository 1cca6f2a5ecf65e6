//! How one split is loaded, resolved once from `data` and its `*_dataloader` overrides, with
//! the defaults the config reference documents.

use super::DataConfig;
use crate::{ConfigError, ErrorKind, Located, RawNode};

/// Most data worker threads chosen when the config names none (see [`auto_workers`]).
pub const DEFAULT_WORKERS: u64 = 2;

/// Data workers when `workers_per_gpu` is not set: on the CPU, the cores libtorch's intra-op
/// threads leave free, at most [`DEFAULT_WORKERS`] (a worker on a core the compute threads use
/// slows every iteration down: 1.12-1.15x at LeNet-5's batch 64 on 2 cores); on a GPU, where
/// the compute is not on the cores, [`DEFAULT_WORKERS`].
pub fn auto_workers(cores: usize, intra_op_threads: usize, gpu: bool) -> usize {
    let most = DEFAULT_WORKERS as usize;
    if gpu {
        most
    } else {
        cores.saturating_sub(intra_op_threads).min(most)
    }
}
/// Batches each worker prepares ahead when the config names none.
pub const DEFAULT_PREFETCH: u64 = 2;

/// A dataset split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSplit {
    /// `data.train`.
    Train,
    /// `data.val`.
    Val,
    /// `data.test`.
    Test,
}

impl DataSplit {
    /// `train`, `val` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataSplit::Train => "train",
            DataSplit::Val => "val",
            DataSplit::Test => "test",
        }
    }
}

/// The loader settings of one split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoaderSpec {
    /// Samples per batch.
    pub batch_size: usize,
    /// Worker threads (0: batches are prepared on the training thread); `None` when the
    /// config leaves it to [`auto_workers`].
    pub workers: Option<usize>,
    /// Reshuffle each epoch (default: only for training).
    pub shuffle: bool,
    /// Drop the last incomplete batch (default: no).
    pub drop_last: bool,
    /// Batches prepared ahead per worker.
    pub prefetch: usize,
}

impl DataConfig {
    /// The dataset table of a split, or an error saying the run needs it.
    pub fn dataset(&self, split: DataSplit) -> Result<&RawNode, ConfigError> {
        let node = match split {
            DataSplit::Train => self.train.as_ref(),
            DataSplit::Val => self.val.as_ref(),
            DataSplit::Test => self.test.as_ref(),
        };
        node.ok_or_else(|| {
            ConfigError::new(
                ErrorKind::MissingKey,
                format!(
                    "this run needs `data.{}`, which the config does not set",
                    split.as_str()
                ),
            )
        })
    }

    /// How a split is loaded: its `*_dataloader` overrides over `data`'s keys over the
    /// defaults.
    pub fn loader(&self, split: DataSplit) -> Result<LoaderSpec, ConfigError> {
        let over = match split {
            DataSplit::Train => self.train_dataloader.clone(),
            DataSplit::Val => self.val_dataloader.clone(),
            DataSplit::Test => self.test_dataloader.clone(),
        }
        .unwrap_or_default();
        let batch: Option<&Located<u64>> = over
            .samples_per_gpu
            .as_ref()
            .or(over.videos_per_gpu.as_ref())
            .or(self.samples_per_gpu.as_ref())
            .or(self.videos_per_gpu.as_ref());
        let Some(batch) = batch else {
            return Err(ConfigError::new(
                ErrorKind::MissingKey,
                "`data.samples_per_gpu` (the batch size) is not set",
            )
            .with_help("add `samples_per_gpu = 64` to the `[data]` table"));
        };
        Ok(LoaderSpec {
            // At least 1: checked with the other ranges when the schema is read.
            batch_size: batch.value as usize,
            workers: over
                .workers_per_gpu
                .as_ref()
                .or(self.workers_per_gpu.as_ref())
                .map(|w| w.value as usize),
            shuffle: over.shuffle.unwrap_or(split == DataSplit::Train),
            drop_last: over.drop_last.unwrap_or(false),
            prefetch: over.prefetch.as_ref().map_or(DEFAULT_PREFETCH, |p| p.value) as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::auto_workers;

    #[test]
    fn unset_workers_take_only_the_cores_the_compute_leaves() {
        assert_eq!(auto_workers(2, 2, false), 0);
        assert_eq!(auto_workers(8, 6, false), 2);
        assert_eq!(auto_workers(8, 7, false), 1);
        assert_eq!(auto_workers(1, 4, false), 0);
        // On a GPU the cores are free to feed it.
        assert_eq!(auto_workers(2, 2, true), 2);
    }
}
