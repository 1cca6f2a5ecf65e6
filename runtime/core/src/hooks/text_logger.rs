//! MMCV's `TextLoggerHook` (priority VERY_LOW): console/text-file lines and `.log.json` lines
//! in MMCV's exact formats.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::context::RunContext;
use crate::error::HookResult;
use crate::hooks::logger::{Logger, LoggerBase, LoggerCommon};
use crate::log_buffer::LogValue;
use crate::pyfmt;

/// `log_config.hooks` entry `{ type = "TextLoggerHook", ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextLoggerConfig {
    /// Log every `interval` iterations (default: `log_config.interval`).
    pub interval: Option<u64>,
    /// Skip the partial window at the end of an epoch. Default true.
    #[serde(default = "yes")]
    pub ignore_last: bool,
    /// Clear the output after logging (set automatically on the last logger).
    #[serde(default)]
    pub reset_flag: bool,
    /// Count in epochs (`Epoch [e][i/n]`) or iterations (`Iter [i/n]`).
    pub by_epoch: Option<bool>,
    /// Print `Exp name: ...` every this many iterations (if `meta.exp_name` is set).
    #[serde(default = "thousand")]
    pub interval_exp_name: u64,
    /// Copy the logs here after the run (into `out_dir/<work_dir name>`).
    pub out_dir: Option<String>,
    /// Which files to copy. Default `[".log.json", ".log", ".toml"]`.
    pub out_suffix: Option<Vec<String>>,
    /// Keep the local copies when `out_dir` is set. Default true.
    #[serde(default = "yes")]
    pub keep_local: bool,
}

fn yes() -> bool {
    true
}

fn thousand() -> u64 {
    1000
}

/// Writes MMCV-format text and JSON log lines.
pub struct TextLoggerHook {
    base: LoggerBase,
    interval_exp_name: u64,
    out_dir: Option<String>,
    out_suffix: Vec<String>,
    keep_local: bool,
    start_iter: u64,
    time_sec_tot: f64,
    json_path: PathBuf,
    json: Option<BufWriter<File>>,
    json_failed: bool,
}

impl TextLoggerHook {
    /// A logger from its config; `default_interval` is `log_config.interval` and
    /// `default_by_epoch` the runner's default.
    pub fn new(config: TextLoggerConfig, default_interval: u64, default_by_epoch: bool) -> Self {
        let common = LoggerCommon {
            interval: config.interval,
            ignore_last: Some(config.ignore_last),
            reset_flag: config.reset_flag,
            by_epoch: config.by_epoch,
        };
        TextLoggerHook {
            base: LoggerBase::new(&common, default_interval, default_by_epoch),
            interval_exp_name: config.interval_exp_name,
            out_dir: config.out_dir,
            out_suffix: config
                .out_suffix
                .unwrap_or_else(|| vec![".log.json".into(), ".log".into(), ".toml".into()]),
            keep_local: config.keep_local,
            start_iter: 0,
            time_sec_tot: 0.0,
            json_path: PathBuf::new(),
            json: None,
            json_failed: false,
        }
    }

    fn dump(&mut self, ctx: &RunContext, entries: &IndexMap<String, Value>) {
        let Some(file) = &mut self.json else { return };
        let line = python_json(entries);
        if (writeln!(file, "{line}").and_then(|_| file.flush())).is_err() && !self.json_failed {
            self.json_failed = true;
            ctx.log.warn(&format!(
                "cannot write {}; JSON logging is off for the rest of the run",
                self.json_path.display()
            ));
        }
    }

    fn write_record(&mut self, ctx: &mut RunContext) {
        let cur_iter = match ctx.log_buffer.output.shift_remove("eval_iter_num") {
            Some(v) => v.as_f64().unwrap_or(0.0) as u64,
            None => self.base.iter(ctx, true),
        };
        let mode = LoggerBase::mode(ctx);
        let mut entries: IndexMap<String, Value> = IndexMap::new();
        entries.insert("mode".into(), Value::from(mode));
        entries.insert("epoch".into(), Value::from(LoggerBase::epoch(ctx)));
        entries.insert("iter".into(), Value::from(cur_iter));
        let lr = ctx.current_lr().first().copied().unwrap_or(0.0);
        entries.insert("lr".into(), json_float(lr));
        let has_time = ctx.log_buffer.output.contains_key("time");
        if has_time && let Some(mem) = ctx.engine.max_memory_mb() {
            entries.insert("memory".into(), Value::from(mem));
        }
        for (k, v) in &ctx.log_buffer.output {
            let value = match v {
                LogValue::Float(f) => json_float(*f),
                LogValue::Int(i) => Value::from(*i),
                LogValue::Text(t) => Value::from(t.clone()),
            };
            entries.insert(k.clone(), value);
        }
        self.log_text(ctx, &entries, lr);
        self.dump(ctx, &entries);
    }

    fn log_text(&mut self, ctx: &mut RunContext, entries: &IndexMap<String, Value>, lr: f64) {
        if let Some(Value::String(name)) = ctx.meta.get("exp_name")
            && (ctx.every_n_iters(self.interval_exp_name as i64)
                || (self.base.by_epoch && ctx.end_of_epoch()))
        {
            ctx.log.info(&format!("Exp name: {name}"));
        }
        let output = &ctx.log_buffer.output;
        let mut line = if entries["mode"] == "train" {
            let mut s = if self.base.by_epoch {
                format!(
                    "Epoch [{}][{}/{}]\t",
                    entries["epoch"], entries["iter"], ctx.data_loader_len
                )
            } else {
                format!("Iter [{}/{}]\t", entries["iter"], ctx.max_iters)
            };
            s += &format!("lr: {}, ", pyfmt::exp(lr, 3));
            if let Some(time) = output.get("time").and_then(LogValue::as_f64) {
                self.time_sec_tot += time * self.base.interval as f64;
                let avg = self.time_sec_tot / (ctx.iter - self.start_iter + 1) as f64;
                let eta = avg * ctx.max_iters.saturating_sub(ctx.iter + 1) as f64;
                let data_time = output
                    .get("data_time")
                    .and_then(LogValue::as_f64)
                    .unwrap_or(0.0);
                s += &format!(
                    "eta: {}, time: {}, data_time: {}, ",
                    pyfmt::timedelta(eta.max(0.0) as u64),
                    pyfmt::fixed(time, 3),
                    pyfmt::fixed(data_time, 3)
                );
                if let Some(mem) = entries.get("memory") {
                    s += &format!("memory: {mem}, ");
                }
            }
            s
        } else if self.base.by_epoch {
            format!(
                "Epoch({}) [{}][{}]\t",
                entries["mode"].as_str().unwrap_or("val"),
                entries["epoch"],
                entries["iter"]
            )
        } else {
            format!(
                "Iter({}) [{}]\t",
                entries["mode"].as_str().unwrap_or("val"),
                entries["iter"]
            )
        };
        let items: Vec<String> = output
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "mode" | "Epoch" | "iter" | "lr" | "time" | "data_time" | "memory" | "epoch"
                )
            })
            .map(|(k, v)| match v {
                LogValue::Float(f) => format!("{k}: {}", pyfmt::fixed(*f, 4)),
                LogValue::Int(i) => format!("{k}: {i}"),
                LogValue::Text(t) => format!("{k}: {t}"),
            })
            .collect();
        line += &items.join(", ");
        ctx.log.info(&line);
    }
}

/// One JSON object written as Python's `json.dump` writes it (`", "` and `": "` separators,
/// `repr` floats), so MMCV's log tools and diffs read weft's lines unchanged.
fn python_json(entries: &IndexMap<String, Value>) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => out.push_str(&i.to_string()),
                (None, Some(u)) => out.push_str(&u.to_string()),
                _ => out.push_str(&pyfmt::repr(n.as_f64().unwrap_or(f64::NAN))),
            },
            Value::String(s) => out.push_str(&serde_json::to_string(s).expect("strings serialize")),
            Value::Array(a) => {
                out.push('[');
                for (i, item) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(item, out);
                }
                out.push(']');
            }
            Value::Object(o) => {
                out.push('{');
                for (i, (k, item)) in o.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&serde_json::to_string(k).expect("strings serialize"));
                    out.push_str(": ");
                    write(item, out);
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    write(
        &Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        &mut out,
    );
    out
}

/// A float rounded as MMCV's JSON log does (`round(v, 5)`); JSON has no inf/nan, so those
/// become strings.
fn json_float(v: f64) -> Value {
    serde_json::Number::from_f64(pyfmt::round5(v))
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(v.to_string()))
}

impl Logger for TextLoggerHook {
    fn name(&self) -> &str {
        "TextLoggerHook"
    }

    fn base(&mut self) -> &mut LoggerBase {
        &mut self.base
    }

    fn log(&mut self, ctx: &mut RunContext) {
        self.write_record(ctx);
    }

    fn before_run(&mut self, ctx: &mut RunContext) -> HookResult {
        self.start_iter = ctx.iter;
        self.json_path = ctx.work_dir.join(format!("{}.log.json", ctx.timestamp));
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.json_path)
        {
            Ok(f) => self.json = Some(BufWriter::new(f)),
            Err(e) => {
                return Err(crate::HookError::new(format!(
                    "cannot create {}: {e}",
                    self.json_path.display()
                )));
            }
        }
        if !ctx.meta.is_empty() {
            let meta: IndexMap<String, Value> = ctx
                .meta
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            self.dump(ctx, &meta);
        }
        Ok(())
    }

    fn after_run(&mut self, ctx: &mut RunContext) -> HookResult {
        if let Some(file) = &mut self.json {
            let _ = file.flush();
        }
        ctx.log.flush();
        let Some(out_dir) = &self.out_dir else {
            return Ok(());
        };
        let base = ctx
            .work_dir
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_default();
        let target = PathBuf::from(out_dir).join(base);
        std::fs::create_dir_all(&target)?;
        for entry in std::fs::read_dir(&ctx.work_dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_file() && self.out_suffix.iter().any(|s| name.ends_with(s.as_str())) {
                std::fs::copy(&path, target.join(&name))?;
                ctx.log
                    .info(&format!("{name} is uploaded to {}", target.display()));
                if !self.keep_local {
                    std::fs::remove_file(&path)?;
                }
            }
        }
        Ok(())
    }
}
