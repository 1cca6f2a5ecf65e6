//! MMCV's `CheckpointHook` (priority NORMAL): when to save, how files are named, which old
//! ones to delete. The write itself is atomic and done by the runner.

use std::path::{Path, PathBuf};

use weft_config::schema::CheckpointConfig;

use crate::action::{Action, SaveRequest};
use crate::context::RunContext;
use crate::error::HookResult;
use crate::stage::{Stage, StageSet};

/// MMCV's default file names, `{}` standing for the epoch or iteration (1-based).
const EPOCH_TEMPLATE: &str = "epoch_{}.safetensors";
const ITER_TEMPLATE: &str = "iter_{}.safetensors";

/// The file a checkpoint request without a path is written to: named like the checkpoint
/// hook's by-iteration files, by the iterations completed.
pub fn requested_path(work_dir: &Path, completed_iters: u64) -> PathBuf {
    work_dir.join(ITER_TEMPLATE.replace("{}", &completed_iters.to_string()))
}

/// Saves checkpoints every `interval` epochs or iterations.
pub struct CheckpointHook {
    config: CheckpointConfig,
    by_epoch: bool,
    out_dir: PathBuf,
}

impl CheckpointHook {
    /// A hook from `checkpoint_config`; `by_epoch` is the config's value or the runner's default.
    pub fn new(config: CheckpointConfig, by_epoch: bool) -> Self {
        CheckpointHook {
            config,
            by_epoch,
            out_dir: PathBuf::new(),
        }
    }

    fn template(&self) -> String {
        match &self.config.filename_tmpl {
            Some(t) => t.value.clone(),
            None if self.by_epoch => EPOCH_TEMPLATE.into(),
            None => ITER_TEMPLATE.into(),
        }
    }

    fn save(&self, ctx: &mut RunContext) {
        let current = if self.by_epoch {
            ctx.epoch + 1
        } else {
            ctx.iter + 1
        };
        let tmpl = self.template();
        let path = self.out_dir.join(tmpl.replace("{}", &current.to_string()));
        let mut remove_after = Vec::new();
        let keep = self.config.max_keep_ckpts.value;
        let interval = self.config.interval.value;
        if keep > 0 && interval > 0 {
            // MMCV walks back from the oldest kept one and stops at the first gap.
            let mut step = current as i64 - keep * interval;
            while step > 0 {
                let old = self.out_dir.join(tmpl.replace("{}", &step.to_string()));
                if !old.is_file() {
                    break;
                }
                remove_after.push(old);
                step -= interval;
            }
        }
        ctx.act(Action::Checkpoint(SaveRequest {
            path: Some(path),
            with_optimizer: self.config.save_optimizer,
            link_latest: self.config.create_symlink,
            record_as_last: true,
            remove_after,
        }));
    }
}

impl crate::Hook for CheckpointHook {
    fn name(&self) -> &str {
        "CheckpointHook"
    }

    fn points(&self) -> StageSet {
        [
            Stage::BeforeRun,
            Stage::AfterTrainIter,
            Stage::AfterTrainEpoch,
        ]
        .into_iter()
        .collect()
    }

    fn before_run(&mut self, ctx: &mut RunContext) -> HookResult {
        self.out_dir = match &self.config.out_dir {
            Some(dir) => {
                let base = ctx
                    .work_dir
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_default();
                PathBuf::from(dir).join(base)
            }
            None => ctx.work_dir.clone(),
        };
        std::fs::create_dir_all(&self.out_dir)?;
        ctx.log.info(&format!(
            "Checkpoints will be saved to {} by HardDiskBackend.",
            self.out_dir.display()
        ));
        Ok(())
    }

    fn after_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        if !self.by_epoch {
            return Ok(());
        }
        if ctx.every_n_epochs(self.config.interval.value)
            || (self.config.save_last && ctx.is_last_epoch())
        {
            ctx.log
                .info(&format!("Saving checkpoint at {} epochs", ctx.epoch + 1));
            self.save(ctx);
        }
        Ok(())
    }

    fn after_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        if self.by_epoch {
            return Ok(());
        }
        if ctx.every_n_iters(self.config.interval.value)
            || (self.config.save_last && ctx.is_last_iter())
        {
            ctx.log
                .info(&format!("Saving checkpoint at {} iterations", ctx.iter + 1));
            self.save(ctx);
        }
        Ok(())
    }
}
