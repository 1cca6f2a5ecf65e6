//! Checkpoint writes requested by hooks, emergency saves, and restoring a run from a
//! checkpoint's metadata.

use std::path::Path;

use serde_json::{Value, json};

use super::{ResumePoint, Runner};
use crate::crash;
use crate::error::{EngineError, RunError};

/// File name `latest.safetensors` points through.
pub const LATEST: &str = "latest.safetensors";

impl Runner {
    /// Writes the checkpoints asked for at the point that just ended. Every file is written
    /// before `latest` moves and before anything is deleted, so that at any moment `latest`
    /// names a complete checkpoint whose `best_ckpt` and `last_ckpt` exist.
    pub(super) fn process_saves(&mut self) -> Result<(), RunError> {
        let requests = std::mem::take(&mut self.ctx.pending_saves);
        if !self.ctx.world.is_main() {
            // Rank 0 writes the run's checkpoints (MMCV's `master_only`); the others hold
            // the same weights.
            return Ok(());
        }
        let mut latest = None;
        for request in &requests {
            let path = request.path.as_deref().expect("resolved when queued");
            // Recorded before the write (MMCV records it after), so that the checkpoint names
            // itself as the last one: a run resumed from it has the bookkeeping of the run
            // that wrote it.
            if request.record_as_last {
                let shown = path.display().to_string();
                self.ctx
                    .hook_msgs()
                    .insert("last_ckpt".into(), Value::String(shown));
            }
            self.save_now(path, request.with_optimizer)?;
            if request.link_latest {
                latest = Some(path);
            }
        }
        crash::at(crash::Stage::FilesDone);
        if let Some(path) = latest {
            let dir = path.parent().unwrap_or(Path::new("."));
            link_latest(dir, path).map_err(|e| {
                RunError::Invalid(format!("cannot update {}: {e}", dir.join(LATEST).display()))
            })?;
            crash::at(crash::Stage::LatestLinked);
        }
        for old in requests.iter().flat_map(|r| &r.remove_after) {
            if requests.iter().any(|r| r.path.as_ref() == Some(old)) {
                continue;
            }
            match std::fs::remove_file(old) {
                Ok(()) => crash::at(crash::Stage::Removing),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => self.ctx.log.warn(&format!(
                    "cannot remove old checkpoint {}: {e}",
                    old.display()
                )),
            }
        }
        Ok(())
    }

    /// Writes a checkpoint of the current state now.
    pub(super) fn save_now(&mut self, path: &Path, with_optimizer: bool) -> Result<(), RunError> {
        let meta = self.checkpoint_meta()?;
        self.ctx
            .engine
            .save_checkpoint(path, &meta, with_optimizer)
            .map_err(|e| RunError::Engine {
                point: self.point(self.ctx.stage),
                error: EngineError::new(format!("cannot save {}: {}", path.display(), e.message)),
            })
    }

    /// Metadata stored in every checkpoint: MMCV's `meta` (`epoch`, `iter`, `hook_msgs`, ...)
    /// plus what weft needs to resume exactly: the data position and every hook's state.
    pub(super) fn checkpoint_meta(&mut self) -> Result<Value, RunError> {
        let completed = self.ctx.iter + u64::from(self.in_train_iter);
        let mut meta = self.ctx.meta.clone();
        for (k, v) in &self.ctx.checkpoint_extra {
            meta.insert(k.clone(), v.clone());
        }
        meta.insert("epoch".into(), json!(self.ctx.epoch + 1));
        meta.insert("iter".into(), json!(completed));
        let resume = ResumePoint {
            iter: completed,
            train_loader: self.ctx.train_position,
        };
        meta.insert(
            "resume".into(),
            serde_json::to_value(resume).expect("plain data serializes"),
        );
        if self.ctx.world.is_distributed() {
            // The data position counts batches per rank: a resume on another number of ranks
            // rescales it (see `restore`).
            meta.insert("world_size".into(), json!(self.ctx.world.world_size()));
        }
        let mut states = serde_json::Map::new();
        let mut seen = std::collections::HashMap::<String, usize>::new();
        for entry in self.hooks.entries_mut() {
            let name = entry.hook.name().to_string();
            let n = seen.entry(name.clone()).or_default();
            let key = format!("{name}#{n}");
            *n += 1;
            let state = entry.hook.save_state().map_err(|mut e| {
                e.hook = name.clone();
                RunError::Hook(e)
            })?;
            if let Some(state) = state {
                states.insert(key, state);
            }
        }
        meta.insert("hook_states".into(), Value::Object(states));
        // A checkpoint written at the point a hook stopped the run ends that run: resuming
        // from it must not train on (the straight run did not).
        if let Some(reason) = &self.ctx.stop_reason {
            meta.insert("stopped".into(), Value::String(reason.clone()));
        }
        // The open logging window: a run resumed mid-window logs the same averages.
        meta.insert("log_buffer".into(), self.ctx.log_buffer.snapshot());
        Ok(Value::Object(meta))
    }

    /// Restores counters, `meta` and hook states from a checkpoint's metadata; the engine has
    /// already loaded weights and optimizer state.
    pub fn restore(&mut self, meta: &Value) -> Result<(), RunError> {
        let mut point = match meta.get("resume") {
            Some(v) => serde_json::from_value::<ResumePoint>(v.clone()).map_err(|e| {
                RunError::Invalid(format!("checkpoint has a bad resume record: {e}"))
            })?,
            None => {
                return Err(RunError::Invalid(
                    "checkpoint has no resume record (was it written by weft?)".into(),
                ));
            }
        };
        if let Some(Value::Object(m)) = meta.as_object().map(|m| Value::Object(m.clone())) {
            for (k, v) in m {
                let extra = self.ctx.checkpoint_extra.contains_key(&k);
                if !extra
                    && !matches!(
                        k.as_str(),
                        "resume"
                            | "hook_states"
                            | "epoch"
                            | "iter"
                            | "stopped"
                            | "log_buffer"
                            | "world_size"
                    )
                {
                    self.ctx.meta.insert(k, v);
                }
            }
        }
        // The latest evaluation, as hooks and plugins read it (a NaN result is lost in JSON).
        if let Some(Value::Object(m)) = self.ctx.meta.get("last_eval") {
            self.ctx.last_eval = m
                .iter()
                .filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v)))
                .collect();
        }
        if let Some(Value::Object(states)) = meta.get("hook_states") {
            let mut seen = std::collections::HashMap::<String, usize>::new();
            for entry in self.hooks.entries_mut() {
                let name = entry.hook.name().to_string();
                let n = seen.entry(name.clone()).or_default();
                let key = format!("{name}#{n}");
                *n += 1;
                if let Some(state) = states.get(&key) {
                    entry.hook.load_state(state).map_err(|mut e| {
                        e.hook = name.clone();
                        RunError::Hook(e)
                    })?;
                }
            }
        }
        self.resumed_log_buffer = meta.get("log_buffer").cloned();
        self.resumed_stop = meta
            .get("stopped")
            .and_then(Value::as_str)
            .map(str::to_string);
        let saved_world = meta.get("world_size").and_then(Value::as_u64).unwrap_or(1);
        self.rescale(&mut point, saved_world);
        self.ctx.log.info(&format!(
            "resumed at epoch {}, iter {}",
            point.train_loader.epoch, point.iter
        ));
        self.resume_at(point);
        Ok(())
    }

    /// A checkpoint of `saved` ranks resumed on another number: MMCV's rule for `iter`
    /// (`iter * saved / now`), and the same for the batches already taken this epoch, which
    /// is exact when the samples already seen (`batch * saved` per-rank batches) divide among
    /// the ranks now; otherwise up to one batch per rank is seen again or skipped, and the log
    /// says so.
    fn rescale(&mut self, point: &mut ResumePoint, saved: u64) {
        let now = self.ctx.world.world_size() as u64;
        if saved == now || saved == 0 {
            return;
        }
        let (iter, batch) = (point.iter, point.train_loader.batch);
        point.iter = iter * saved / now;
        point.train_loader.batch = batch * saved / now;
        self.ctx.log.info(&format!(
            "the checkpoint was written by {saved} rank(s) and resumes on {now}: iter {iter} -> {}, batches taken this epoch {batch} -> {}",
            point.iter, point.train_loader.batch
        ));
        if !(batch * saved).is_multiple_of(now) {
            self.ctx.log.warn(&format!(
                "{batch} batches on each of {saved} rank(s) do not divide among {now}: part of the last batch is seen again or skipped"
            ));
        }
    }

    pub(super) fn save_emergency(&mut self, err: &RunError) {
        if !self.ctx.world.is_main() {
            self.ctx.log.error(&err.to_string());
            return;
        }
        if matches!(err, RunError::Invalid(_)) {
            return;
        }
        let path = self.ctx.work_dir.join("emergency.safetensors");
        match self.save_now(&path, true) {
            Ok(()) => self.ctx.log.error(&format!(
                "{err}\nthe state before the failure is saved in {}",
                path.display()
            )),
            Err(save_err) => self.ctx.log.error(&format!(
                "{err}\n(the emergency checkpoint could not be written either: {save_err})"
            )),
        }
    }
}

/// Points `dir/latest.safetensors` at `target` (a relative symlink), replacing the old link
/// atomically so that `latest` never names a missing or partial file.
pub fn link_latest(dir: &Path, target: &Path) -> std::io::Result<()> {
    let name = target
        .file_name()
        .ok_or_else(|| std::io::Error::other("checkpoint path has no file name"))?;
    let tmp = dir.join(format!(".{LATEST}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(name, &tmp)?;
    #[cfg(not(unix))]
    std::fs::copy(target, &tmp)?;
    crash::at(crash::Stage::LatestTemp);
    std::fs::rename(&tmp, dir.join(LATEST))?;
    // The rename is durable only once the directory is synced.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
