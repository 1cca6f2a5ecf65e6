//! MMCV's built-in hooks, native, behind the same [`crate::Hook`] trait as plugins.

mod checkpoint;
mod early_stopping;
mod eval;
mod iter_timer;
mod logger;
mod lr_updater;
mod mlflow;
mod momentum_updater;
mod optimizer;
mod tensorboard;
mod text_logger;

pub use checkpoint::{CheckpointHook, requested_path};
pub use early_stopping::{EarlyStoppingConfig, EarlyStoppingHook};
pub use eval::{
    EvalHook, EvalSettings, Evaluation, Evaluator, METRIC_NAMES, Metric, Rule, evaluation_messages,
    infer_rule, metric_evaluator, score,
};
pub use iter_timer::IterTimerHook;
pub use logger::{Logger, LoggerBase, LoggerCommon, TagValue};
pub use lr_updater::LrUpdaterHook;
pub use mlflow::{MlflowConfig, MlflowLoggerHook};
pub use momentum_updater::MomentumUpdaterHook;
pub use optimizer::OptimizerHook;
pub use tensorboard::{TensorboardConfig, TensorboardLoggerHook};
pub use text_logger::{TextLoggerConfig, TextLoggerHook};
