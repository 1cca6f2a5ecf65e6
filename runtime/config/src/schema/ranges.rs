//! Range checks of the numeric settings, run by every command before it does anything, so a
//! value that would panic, exhaust the machine or silently do nothing is refused at start-up
//! with its file, line and column.

use std::fmt::Display;
use std::ops::RangeInclusive;

use super::{CheckpointConfig, DataConfig, LogConfig, RunConfig};
use crate::{Config, ConfigError, ErrorKind, Located};

/// Most intra-op threads a config may ask for: more than a few per core only adds contention,
/// and an absurd value would create threads until the machine runs out.
pub fn max_threads() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    (4 * cores).max(64)
}

/// Most data worker threads per loader.
pub const MAX_WORKERS: u64 = 64;

/// Most batches a worker prepares ahead.
pub const MAX_PREFETCH: u64 = 64;

/// The log levels MMCV configs use.
pub const LOG_LEVELS: [&str; 2] = ["INFO", "DEBUG"];

/// The c10d backends `dist_params.backend` names.
pub const DIST_BACKENDS: [&str; 2] = ["gloo", "nccl"];

fn in_range<T: PartialOrd + Display + Copy>(
    cfg: &Config,
    value: &Located<T>,
    range: RangeInclusive<T>,
    what: &str,
) -> Result<(), ConfigError> {
    if range.contains(&value.value) {
        Ok(())
    } else {
        Err(cfg.error_at(
            ErrorKind::InvalidValue,
            format!(
                "{what} must be between {} and {}, got {}",
                range.start(),
                range.end(),
                value.value
            ),
            &value.origin,
        ))
    }
}

impl RunConfig {
    /// Checks every numeric and enumerated top-level setting that has a range.
    pub fn check_values(&self, cfg: &Config) -> Result<(), ConfigError> {
        if let Some(t) = &self.threads {
            in_range(cfg, t, 1..=max_threads(), "threads")?;
        }
        if let Some(level) = &self.log_level
            && !LOG_LEVELS.contains(&level.value.as_str())
        {
            return Err(cfg
                .error_at(
                    ErrorKind::InvalidValue,
                    format!(
                        "log_level must be \"INFO\" or \"DEBUG\", not {:?}",
                        level.value
                    ),
                    &level.origin,
                )
                .with_help(
                    "weft logs at INFO; DEBUG is accepted for MMCV configs and logs the same",
                ));
        }
        if let Some(d) = &self.dist_params {
            if let Some(b) = &d.backend
                && !DIST_BACKENDS.contains(&b.value.as_str())
            {
                return Err(cfg
                    .error_at(
                        ErrorKind::InvalidValue,
                        format!(
                            "dist_params.backend must be \"gloo\" or \"nccl\", not {:?}",
                            b.value
                        ),
                        &b.origin,
                    )
                    .with_help("gloo runs on CPU tensors, nccl on CUDA tensors"));
            }
            if let Some(t) = &d.timeout {
                in_range(cfg, t, 1.0..=86_400.0, "dist_params.timeout (seconds)")?;
            }
        }
        self.data.check_values(cfg)?;
        if let Some(l) = &self.log_config {
            l.check_values(cfg)?;
        }
        if let Some(c) = &self.checkpoint_config {
            c.check_values(cfg)?;
        }
        Ok(())
    }

    /// Keys that are accepted for MMCV compatibility but change nothing in this run, with
    /// why: said once at start-up.
    pub fn ignored_keys(&self, cuda_available: bool) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(ids) = &self.gpu_ids {
            if !cuda_available {
                out.push(format!(
                    "gpu_ids = {:?} is ignored: this machine has no CUDA device; training runs on the CPU",
                    ids.value
                ));
            } else if self.device.is_some() {
                out.push(format!(
                    "gpu_ids = {:?} is ignored: `device` chooses the device",
                    ids.value
                ));
            }
        }
        if self.opencv_num_threads.is_some() {
            out.push("opencv_num_threads is ignored: weft does not use OpenCV".into());
        }
        if self.mp_start_method.is_some() {
            out.push("mp_start_method is ignored: weft's data workers are threads".into());
        }
        out
    }
}

/// The loader keys `data` and each `*_dataloader` share.
fn check_loader(
    cfg: &Config,
    batches: [&Option<Located<u64>>; 2],
    workers: &Option<Located<u64>>,
    prefetch: Option<&Located<u64>>,
) -> Result<(), ConfigError> {
    for batch in batches.into_iter().flatten() {
        in_range(cfg, batch, 1..=1 << 20, "the batch size")?;
    }
    if let Some(w) = workers {
        in_range(cfg, w, 0..=MAX_WORKERS, "workers_per_gpu")?;
    }
    if let Some(p) = prefetch {
        in_range(cfg, p, 1..=MAX_PREFETCH, "prefetch")?;
    }
    Ok(())
}

impl DataConfig {
    fn check_values(&self, cfg: &Config) -> Result<(), ConfigError> {
        check_loader(
            cfg,
            [&self.samples_per_gpu, &self.videos_per_gpu],
            &self.workers_per_gpu,
            None,
        )?;
        for l in [
            &self.train_dataloader,
            &self.val_dataloader,
            &self.test_dataloader,
        ]
        .into_iter()
        .flatten()
        {
            check_loader(
                cfg,
                [&l.samples_per_gpu, &l.videos_per_gpu],
                &l.workers_per_gpu,
                l.prefetch.as_ref(),
            )?;
        }
        Ok(())
    }
}

impl LogConfig {
    fn check_values(&self, cfg: &Config) -> Result<(), ConfigError> {
        // 0 would never log a training line.
        in_range(cfg, &self.interval, 1..=u64::MAX, "log_config.interval")
    }
}

impl CheckpointConfig {
    fn check_values(&self, cfg: &Config) -> Result<(), ConfigError> {
        let i = &self.interval;
        if i.value == 0 || i.value < -1 {
            return Err(cfg
                .error_at(
                    ErrorKind::InvalidValue,
                    format!("checkpoint_config.interval must be at least 1, or -1 for only the last checkpoint; got {}", i.value),
                    &i.origin,
                ));
        }
        let k = &self.max_keep_ckpts;
        if k.value == 0 || k.value < -1 {
            return Err(cfg.error_at(
                ErrorKind::InvalidValue,
                format!(
                    "checkpoint_config.max_keep_ckpts must be at least 1, or -1 to keep every checkpoint; got {}",
                    k.value
                ),
                &k.origin,
            ));
        }
        Ok(())
    }
}
