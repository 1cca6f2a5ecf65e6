//! What every MMCV logger hook shares (`LoggerHook` in `hooks/logger/base.py`): when to average
//! the log buffer and log, the mode, epoch and iteration a record carries, and the tags that
//! TensorBoard and MLflow receive.

use serde::Deserialize;
use weft_config::schema::Phase;

use crate::context::RunContext;
use crate::error::HookResult;
use crate::hook::Hook;
use crate::hook::builtin::{Role, Sealed};
use crate::log_buffer::LogValue;
use crate::stage::{Stage, StageSet};

/// The keys every logger hook accepts.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LoggerCommon {
    /// Log every `interval` iterations (default: `log_config.interval`).
    pub interval: Option<u64>,
    /// Skip the partial window at the end of an epoch. Default true.
    pub ignore_last: Option<bool>,
    /// Clear the output after logging (set automatically on the last logger).
    #[serde(default)]
    pub reset_flag: bool,
    /// Count in epochs (window per epoch) or iterations.
    pub by_epoch: Option<bool>,
}

/// The decisions of MMCV's `LoggerHook` base class.
#[derive(Debug, Clone)]
pub struct LoggerBase {
    /// Log every this many iterations.
    pub interval: u64,
    /// Skip the partial window at the end of an epoch.
    pub ignore_last: bool,
    /// Clear the output after logging.
    pub reset_flag: bool,
    /// Count in epochs.
    pub by_epoch: bool,
}

/// A value for TensorBoard or MLflow.
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue {
    /// A number.
    Scalar(f64),
    /// Text (TensorBoard only).
    Text(String),
}

impl LoggerBase {
    /// The base from a logger's keys, `log_config.interval` and the runner's default.
    pub fn new(c: &LoggerCommon, default_interval: u64, default_by_epoch: bool) -> Self {
        LoggerBase {
            interval: c.interval.unwrap_or(default_interval),
            ignore_last: c.ignore_last.unwrap_or(true),
            reset_flag: c.reset_flag,
            by_epoch: c.by_epoch.unwrap_or(default_by_epoch),
        }
    }

    /// `after_train_iter`: averages the window when it is full (or the epoch ends and
    /// `ignore_last` is off); whether there is something to log.
    pub fn train_iter_ready(&self, ctx: &mut RunContext) -> bool {
        let interval = self.interval as i64;
        let window_full = if self.by_epoch {
            ctx.every_n_inner_iters(interval)
        } else {
            ctx.every_n_iters(interval)
        };
        // MMCV: a partial window at the end of an epoch is averaged over the last `interval`
        // entries anyway ("not precise but more stable") unless ignore_last.
        if window_full || (ctx.end_of_epoch() && !self.ignore_last) {
            ctx.log_buffer.average(self.interval as usize);
        }
        ctx.log_buffer.ready
    }

    /// `after_val_epoch`: the whole val epoch, weighted by samples.
    pub fn val_epoch(&self, ctx: &mut RunContext) {
        ctx.log_buffer.average(0);
    }

    /// After logging: the last logger clears the output.
    pub fn after_logging(&self, ctx: &mut RunContext) {
        if self.reset_flag {
            ctx.log_buffer.clear_output();
        }
    }

    /// MMCV's `get_mode`: evaluation results logged during training count as `val`.
    pub fn mode(ctx: &RunContext) -> &'static str {
        match ctx.mode {
            Some(Phase::Train) if ctx.log_buffer.output.contains_key("time") => "train",
            _ => "val",
        }
    }

    /// MMCV's `get_epoch`: 1-based during training, the already advanced counter in val.
    pub fn epoch(ctx: &RunContext) -> u64 {
        match ctx.mode {
            Some(Phase::Train) => ctx.epoch + 1,
            _ => ctx.epoch,
        }
    }

    /// MMCV's `get_iter`: with `inner_iter` and by epoch, the position in the epoch; else the
    /// 1-based global iteration.
    pub fn iter(&self, ctx: &RunContext, inner_iter: bool) -> u64 {
        if self.by_epoch && inner_iter {
            ctx.inner_iter + 1
        } else {
            ctx.iter + 1
        }
    }

    /// MMCV's `get_loggable_tags`: every output but `time` and `data_time` as
    /// `{mode}/{key}` (text only if allowed), then `learning_rate` and `momentum` of the
    /// first parameter group.
    pub fn loggable_tags(ctx: &RunContext, allow_text: bool) -> Vec<(String, TagValue)> {
        let mode = Self::mode(ctx);
        let mut tags = Vec::new();
        for (key, value) in &ctx.log_buffer.output {
            if matches!(key.as_str(), "time" | "data_time") {
                continue;
            }
            let v = match value {
                LogValue::Float(f) => TagValue::Scalar(*f),
                LogValue::Int(i) => TagValue::Scalar(*i as f64),
                LogValue::Text(t) if allow_text => TagValue::Text(t.clone()),
                LogValue::Text(_) => continue,
            };
            tags.push((format!("{mode}/{key}"), v));
        }
        if let Some(lr) = ctx.current_lr().first() {
            tags.push(("learning_rate".into(), TagValue::Scalar(*lr)));
        }
        if let Some(m) = ctx.current_momentum().first() {
            tags.push(("momentum".into(), TagValue::Scalar(*m)));
        }
        tags
    }
}

/// A logger hook: what a subclass of MMCV's `LoggerHook` writes. The base class's decisions
/// (when to average and log, what the last logger clears) come with it: every `Logger` is a
/// [`crate::Hook`] through the impl below.
pub trait Logger: Send {
    /// The hook's name (`TextLoggerHook`).
    fn name(&self) -> &str;

    /// The shared settings.
    fn base(&mut self) -> &mut LoggerBase;

    /// Writes the averaged log output (`log_buffer.output`) somewhere.
    fn log(&mut self, ctx: &mut RunContext);

    /// Opens files, starts runs.
    fn before_run(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }

    /// Flushes and closes.
    fn after_run(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }

    /// The run ended with an error (after the emergency checkpoint): mark the record as
    /// failed. The run's own error is what is reported.
    fn on_exception(&mut self, _ctx: &mut RunContext, _error: &str) {}
}

fn log_on_main<L: Logger>(logger: &mut L, ctx: &mut RunContext) {
    if ctx.world.is_main() {
        logger.log(ctx);
    }
}

/// MMCV's `LoggerHook`: clear the buffer before an epoch, log full windows after train
/// iterations, what is left after a train epoch, and the whole val epoch.
impl<L: Logger> Hook for L {
    fn name(&self) -> &str {
        Logger::name(self)
    }

    fn points(&self) -> StageSet {
        [
            Stage::BeforeRun,
            Stage::BeforeEpoch,
            Stage::AfterTrainIter,
            Stage::AfterTrainEpoch,
            Stage::AfterValEpoch,
            Stage::AfterRun,
        ]
        .into_iter()
        .collect()
    }

    // Only rank 0 writes logs (MMCV's `master_only`); the other ranks still clear the
    // buffer at the same points, so it stays as small as rank 0's.
    fn before_run(&mut self, ctx: &mut RunContext) -> HookResult {
        if !ctx.world.is_main() {
            return Ok(());
        }
        Logger::before_run(self, ctx)
    }

    fn after_run(&mut self, ctx: &mut RunContext) -> HookResult {
        if !ctx.world.is_main() {
            return Ok(());
        }
        Logger::after_run(self, ctx)
    }

    fn before_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        ctx.log_buffer.clear();
        Ok(())
    }

    fn after_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        if self.base().train_iter_ready(ctx) {
            log_on_main(self, ctx);
            self.base().after_logging(ctx);
        }
        Ok(())
    }

    fn after_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        if ctx.log_buffer.ready {
            log_on_main(self, ctx);
            self.base().after_logging(ctx);
        }
        Ok(())
    }

    fn after_val_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.base().val_epoch(ctx);
        log_on_main(self, ctx);
        self.base().after_logging(ctx);
        Ok(())
    }

    fn role(&mut self, _: Sealed) -> Role<'_> {
        Role::Logger(self)
    }
}
