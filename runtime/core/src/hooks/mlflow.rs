//! MMCV's `MlflowLoggerHook` (priority VERY_LOW), writing MLflow's file store directly: an
//! experiment (`exp_name`, else MLflow's Default), one run with the config as params, the
//! loggable values as metrics at step `iter + 1`, tags, the final checkpoint as an artifact,
//! and a status that ends FINISHED, FAILED or KILLED.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use crate::context::RunContext;
use crate::error::HookResult;
use crate::hooks::logger::{Logger, LoggerBase, LoggerCommon, TagValue};
use crate::mlruns::{Run, RunStatus, Store, now_ms};

/// Longest parameter value MLflow accepts.
const MAX_PARAM_LEN: usize = 6000;

/// `log_config.hooks` entry `{ type = "MlflowLoggerHook", ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlflowConfig {
    /// The experiment's name (created if missing). Default: MLflow's `Default` experiment.
    pub exp_name: Option<String>,
    /// Tags of the run.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Extra params of the run (the config itself is always logged).
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// Copy the last checkpoint into the run's artifacts (`models/`). Default true.
    pub log_model: Option<bool>,
    /// The store: `file:<path>` or a path; relative to the work dir. Default `mlruns` in the
    /// work dir.
    pub tracking_uri: Option<String>,
    /// The run's name. Default: the work dir's name and the run's timestamp.
    pub run_name: Option<String>,
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

/// Writes an MLflow run.
pub struct MlflowLoggerHook {
    base: LoggerBase,
    config: MlflowConfig,
    run: Option<Run>,
    failed: bool,
}

/// `{"a": {"b": 1}}` as `[("a.b", "1")]`, lists and scalars as JSON text.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, item) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, item, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

impl MlflowLoggerHook {
    /// A logger from its config; `default_interval` is `log_config.interval`.
    pub fn new(config: MlflowConfig, default_interval: u64, default_by_epoch: bool) -> Self {
        let common = LoggerCommon {
            interval: config.interval,
            ignore_last: config.ignore_last,
            reset_flag: config.reset_flag,
            by_epoch: config.by_epoch,
        };
        MlflowLoggerHook {
            base: LoggerBase::new(&common, default_interval, default_by_epoch),
            config,
            run: None,
            failed: false,
        }
    }

    fn store_dir(&self, ctx: &RunContext) -> PathBuf {
        match &self.config.tracking_uri {
            Some(uri) => ctx.work_dir.join(uri.strip_prefix("file:").unwrap_or(uri)),
            None => ctx.work_dir.join("mlruns"),
        }
    }

    /// A write failed: warn once and stop writing, so that the run goes on.
    fn fail(&mut self, ctx: &RunContext, e: std::io::Error) {
        if !self.failed {
            self.failed = true;
            let dir = self
                .run
                .as_ref()
                .map(|r| r.dir().display().to_string())
                .unwrap_or_default();
            ctx.log.warn(&format!(
                "MlflowLoggerHook: cannot write {dir}: {e}; MLflow logging is off for the rest of the run"
            ));
        }
        self.run = None;
    }

    fn start(&self, ctx: &RunContext) -> std::io::Result<Run> {
        let store = Store::open(&self.store_dir(ctx))?;
        let experiment = match &self.config.exp_name {
            Some(name) => store.experiment(name)?,
            None => "0".to_string(),
        };
        let name = self.config.run_name.clone().unwrap_or_else(|| {
            let base = ctx
                .work_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{base}_{}", ctx.timestamp)
        });
        let user = std::env::var("USER").unwrap_or_else(|_| "weft".into());
        let run = store.start_run(&experiment, &name, &user)?;
        for (k, v) in &self.config.tags {
            run.set_tag(k, v)?;
        }
        let mut params = Vec::new();
        if let Some(config) = ctx.checkpoint_extra.get("config") {
            flatten("", config, &mut params);
        }
        for (k, v) in &self.config.params {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            params.push((k.clone(), text));
        }
        for (k, v) in params {
            if v.len() > MAX_PARAM_LEN {
                ctx.log.warn(&format!(
                    "MlflowLoggerHook: param {k} is {} characters long (MLflow keeps at most {MAX_PARAM_LEN}); it is not logged",
                    v.len()
                ));
                continue;
            }
            run.log_param(&k, &v)?;
        }
        Ok(run)
    }

    fn write_record(&mut self, ctx: &RunContext) {
        let Some(run) = self.run.as_ref() else { return };
        let step = self.base.iter(ctx, false);
        let now = now_ms();
        let mut result = Ok(());
        for (tag, value) in LoggerBase::loggable_tags(ctx, false) {
            if let TagValue::Scalar(v) = value {
                result = run.log_metric(&tag, v, step, now);
                if result.is_err() {
                    break;
                }
            }
        }
        if let Err(e) = result {
            self.fail(ctx, e);
        }
    }

    fn end(&mut self, ctx: &RunContext, status: RunStatus) {
        let Some(run) = self.run.as_ref() else { return };
        let mut result = Ok(());
        if status == RunStatus::Finished && self.config.log_model.unwrap_or(true) {
            let latest = ctx.work_dir.join(crate::runner::LATEST);
            if let Ok(target) = std::fs::canonicalize(&latest) {
                let models = run.artifacts().join("models");
                let name = target.file_name().map(PathBuf::from).unwrap_or_default();
                result = std::fs::create_dir_all(&models)
                    .and_then(|_| std::fs::copy(&target, models.join(name)).map(|_| ()));
            }
        }
        if let Err(e) = result.and_then(|_| run.set_status(status)) {
            self.fail(ctx, e);
        }
        self.run = None;
    }
}

impl Logger for MlflowLoggerHook {
    fn name(&self) -> &str {
        "MlflowLoggerHook"
    }

    fn base(&mut self) -> &mut LoggerBase {
        &mut self.base
    }

    fn log(&mut self, ctx: &mut RunContext) {
        self.write_record(ctx);
    }

    fn before_run(&mut self, ctx: &mut RunContext) -> HookResult {
        let run = self.start(ctx).map_err(|e| {
            crate::HookError::new(format!(
                "cannot start an MLflow run in {}: {e}",
                self.store_dir(ctx).display()
            ))
        })?;
        ctx.log.info(&format!(
            "MLflow run {} in {}",
            run.id(),
            run.dir().display()
        ));
        self.run = Some(run);
        Ok(())
    }

    fn after_run(&mut self, ctx: &mut RunContext) -> HookResult {
        let status = if ctx.interrupted() {
            RunStatus::Killed
        } else {
            RunStatus::Finished
        };
        self.end(ctx, status);
        Ok(())
    }

    fn on_exception(&mut self, ctx: &mut RunContext, _error: &str) {
        self.end(ctx, RunStatus::Failed);
    }
}
