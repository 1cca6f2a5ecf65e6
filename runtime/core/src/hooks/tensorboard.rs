//! MMCV's `TensorboardLoggerHook` (priority VERY_LOW): every loggable value as a TensorBoard
//! scalar (text as text) under `{mode}/{key}`, plus `learning_rate` and `momentum`, at step
//! `iter + 1`, in `work_dir/tf_logs` unless `log_dir` says otherwise.

use serde::Deserialize;

use crate::context::RunContext;
use crate::error::HookResult;
use crate::hooks::logger::{Logger, LoggerBase, LoggerCommon, TagValue};
use crate::tfevents::EventWriter;

/// `log_config.hooks` entry `{ type = "TensorboardLoggerHook", ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorboardConfig {
    /// Where the event files go; relative paths are under the work dir. Default `tf_logs`.
    pub log_dir: Option<String>,
    /// Log every `interval` iterations (default: `log_config.interval`).
    pub interval: Option<u64>,
    /// Skip the partial window at the end of an epoch. Default true.
    pub ignore_last: Option<bool>,
    /// Clear the output after logging (set automatically on the last logger).
    #[serde(default)]
    pub reset_flag: bool,
    /// Window per epoch (default: the runner's).
    pub by_epoch: Option<bool>,
}

/// Writes TensorBoard event files.
pub struct TensorboardLoggerHook {
    base: LoggerBase,
    log_dir: Option<String>,
    writer: Option<EventWriter>,
    failed: bool,
}

impl TensorboardLoggerHook {
    /// A logger from its config; `default_interval` is `log_config.interval`.
    pub fn new(config: TensorboardConfig, default_interval: u64, default_by_epoch: bool) -> Self {
        let common = LoggerCommon {
            interval: config.interval,
            ignore_last: config.ignore_last,
            reset_flag: config.reset_flag,
            by_epoch: config.by_epoch,
        };
        TensorboardLoggerHook {
            base: LoggerBase::new(&common, default_interval, default_by_epoch),
            log_dir: config.log_dir,
            writer: None,
            failed: false,
        }
    }

    /// A write failed (disk full, directory removed): warn once and stop writing, so that
    /// the run goes on.
    fn fail(&mut self, ctx: &RunContext, e: std::io::Error) {
        if !self.failed {
            self.failed = true;
            let path = self
                .writer
                .as_ref()
                .map(|w| w.path().display().to_string())
                .unwrap_or_default();
            ctx.log.warn(&format!(
                "TensorboardLoggerHook: cannot write {path}: {e}; TensorBoard logging is off for the rest of the run"
            ));
        }
        self.writer = None;
    }

    fn write_record(&mut self, ctx: &RunContext) {
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        let step = self.base.iter(ctx, false) as i64;
        let mut result = Ok(());
        for (tag, value) in LoggerBase::loggable_tags(ctx, true) {
            result = match value {
                TagValue::Scalar(v) => w.scalar(&tag, step, v),
                TagValue::Text(t) => w.text(&tag, step, &t),
            };
            if result.is_err() {
                break;
            }
        }
        // One flush per logging interval: cheap, and a crash loses at most one window.
        if let Err(e) = result.and_then(|_| w.flush()) {
            self.fail(ctx, e);
        }
    }
}

impl Logger for TensorboardLoggerHook {
    fn name(&self) -> &str {
        "TensorboardLoggerHook"
    }

    fn base(&mut self) -> &mut LoggerBase {
        &mut self.base
    }

    fn log(&mut self, ctx: &mut RunContext) {
        self.write_record(ctx);
    }

    fn before_run(&mut self, ctx: &mut RunContext) -> HookResult {
        let dir = match &self.log_dir {
            Some(d) => ctx.work_dir.join(d),
            None => ctx.work_dir.join("tf_logs"),
        };
        let writer = EventWriter::create(&dir).map_err(|e| {
            crate::HookError::new(format!(
                "cannot create TensorBoard logs in {}: {e}",
                dir.display()
            ))
        })?;
        self.writer = Some(writer);
        Ok(())
    }

    fn after_run(&mut self, ctx: &mut RunContext) -> HookResult {
        if let Some(w) = self.writer.as_mut()
            && let Err(e) = w.flush()
        {
            self.fail(ctx, e);
        }
        Ok(())
    }
}
