//! MMCV's built-in hooks, native, behind the same [`crate::Hook`] trait as plugins.

mod checkpoint;
mod eval;
mod iter_timer;
mod lr_updater;
mod momentum_updater;
mod optimizer;
mod text_logger;

pub use checkpoint::CheckpointHook;
pub use eval::{EvalHook, EvalSettings, METRIC_NAMES, Metric, Rule, infer_rule};
pub use iter_timer::IterTimerHook;
pub use lr_updater::LrUpdaterHook;
pub use momentum_updater::MomentumUpdaterHook;
pub use optimizer::OptimizerHook;
pub use text_logger::{TextLoggerConfig, TextLoggerHook};
