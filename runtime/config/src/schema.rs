//! The typed configuration: what each MMCV top-level key means to weft.
//!
//! Tables whose keys depend on a `type` (models, datasets, optimizers, custom hooks, logger
//! hooks) are kept as [`crate::RawNode`] here and validated by the registry that builds them,
//! with the same located errors.

mod data;
mod hooks;
mod loader;
mod ranges;
mod run;

pub use data::{DataConfig, LoaderConfig};
pub use hooks::{
    CheckpointConfig, EvalConfig, GradClipConfig, LogConfig, OptimizerHookConfig,
    deserialize_norm_type,
};
pub use loader::{DEFAULT_PREFETCH, DEFAULT_WORKERS, DataSplit, LoaderSpec, auto_workers};
pub use ranges::{LOG_LEVELS, MAX_PREFETCH, MAX_WORKERS, max_threads};
pub use run::{DistParams, Phase, RunConfig, RunnerConfig, TOP_LEVEL_KEYS, WorkflowStage};
