//! The training loop: MMCV's `EpochBasedRunner` and `IterBasedRunner`, hook dispatch, and
//! the checkpoint writes hooks ask for.

mod epoch_based;
mod iter_based;
mod saving;
pub use saving::LATEST;

use std::path::PathBuf;

use weft_config::schema::{Phase, WorkflowStage};

use crate::context::{RunContext, RunnerKind, Yield};
use crate::engine::LoaderPosition;
use crate::error::{EngineError, HookError, RunError, RunPoint};
use crate::hook::call_stage;
use crate::hook_set::HookSet;
use crate::stage::Stage;

/// Where a resumed run continues, read from a checkpoint's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResumePoint {
    /// Train iterations already completed.
    pub iter: u64,
    /// The train loader's position: the epoch to continue in and batches already taken.
    pub train_loader: LoaderPosition,
}

/// How a run ended without error.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Every epoch or iteration ran.
    Completed,
    /// A hook asked to stop (early stopping, a plugin).
    Stopped(String),
    /// Ctrl-C; the state was saved to this checkpoint.
    Interrupted(Option<PathBuf>),
}

/// One `call_hook` as the runner made it: the stage, the counters before any hook ran, and
/// the hooks that acted on it. Recorded only when tracing is on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TraceEntry {
    /// The stage.
    pub stage: &'static str,
    /// `train`, `val` or `None`.
    pub mode: Option<&'static str>,
    /// `runner.epoch`.
    pub epoch: u64,
    /// `runner.iter`.
    pub iter: u64,
    /// `runner.inner_iter`.
    pub inner_iter: u64,
    /// `runner.max_epochs`.
    pub max_epochs: Option<u64>,
    /// `runner.max_iters`.
    pub max_iters: u64,
    /// Names of the hooks that acted, in order.
    pub hooks_run: Vec<String>,
}

/// Runs a workflow with a set of hooks over a [`RunContext`].
pub struct Runner {
    /// What hooks see.
    pub ctx: RunContext,
    /// The hooks, in priority order.
    pub hooks: HookSet,
    workflow: Vec<WorkflowStage>,
    max: u64,
    resume: Option<ResumePoint>,
    trace: Option<Vec<TraceEntry>>,
    in_train_iter: bool,
    started: bool,
}

impl Runner {
    /// A runner for `max` epochs (epoch-based) or iterations (iteration-based).
    pub fn new(ctx: RunContext, hooks: HookSet, workflow: Vec<WorkflowStage>, max: u64) -> Runner {
        Runner {
            ctx,
            hooks,
            workflow,
            max,
            resume: None,
            trace: None,
            in_train_iter: false,
            started: false,
        }
    }

    /// Continue from a checkpoint's position (counters, data order) instead of the start.
    pub fn resume_at(&mut self, point: ResumePoint) {
        self.resume = Some(point);
    }

    /// Records every `call_hook` (see [`TraceEntry`]).
    pub fn enable_trace(&mut self) {
        self.trace = Some(Vec::new());
    }

    /// The trace recorded so far.
    pub fn trace(&self) -> &[TraceEntry] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// Runs the workflow to the end, a stop request, an interrupt or an error.
    pub fn run(&mut self) -> Result<RunOutcome, RunError> {
        let result = match self.ctx.runner {
            RunnerKind::EpochBased => self.run_epoch_based(),
            RunnerKind::IterBased => self.run_iter_based(),
        };
        if let Err(err) = &result
            && self.started
        {
            self.save_emergency(err);
            let message = err.to_string();
            for entry in self.hooks.entries_mut() {
                entry.hook.on_exception(&mut self.ctx, &message);
            }
        }
        self.ctx.log.flush();
        result
    }

    fn log_start(&self, unit: &str) {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .unwrap_or_default();
        let log = &self.ctx.log;
        log.info(&format!(
            "Start running, host: {}, work_dir: {}",
            host.trim(),
            self.ctx.work_dir.display()
        ));
        log.info(&format!(
            "Hooks will be executed in the following order:\n{}",
            self.hooks.hook_info()
        ));
        let flow: Vec<String> = self
            .workflow
            .iter()
            .map(|s| format!("('{}', {})", s.0.as_str(), s.1))
            .collect();
        log.info(&format!(
            "workflow: [{}], max: {} {unit}",
            flow.join(", "),
            self.max
        ));
    }

    /// MMCV's `call_hook`: every hook that acts on `stage`, in order. Handles the two
    /// requests a hook can leave behind: `after_backward` dispatch and checkpoint writes.
    pub(crate) fn call_hook(&mut self, stage: Stage) -> Result<(), RunError> {
        if let Some(trace) = &mut self.trace {
            trace.push(TraceEntry {
                stage: stage.name(),
                mode: self.ctx.mode.map(Phase::as_str),
                epoch: self.ctx.epoch,
                iter: self.ctx.iter,
                inner_iter: self.ctx.inner_iter,
                max_epochs: self.ctx.max_epochs,
                max_iters: self.ctx.max_iters,
                hooks_run: self
                    .hooks
                    .hooks_for(stage)
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            });
        }
        for index in 0..self.hooks.len() {
            if !self.hooks.entries()[index].stages.contains(stage) {
                continue;
            }
            let entry = &mut self.hooks.entries_mut()[index];
            let result = call_stage(entry.hook.as_mut(), stage, &mut self.ctx);
            self.check(index, stage, result)?;
            if let Some(what) = self.ctx.pending_yield.take() {
                match what {
                    Yield::AfterBackward => self.dispatch_after_backward()?,
                    Yield::LoggersAfterTrainIter => self.dispatch_loggers(index)?,
                }
                let entry = &mut self.hooks.entries_mut()[index];
                let result = entry.hook.resume(&mut self.ctx, what);
                self.check(index, stage, result)?;
            }
            if std::mem::take(&mut self.ctx.eval_requested) {
                for other in 0..self.hooks.len() {
                    let entry = &mut self.hooks.entries_mut()[other];
                    let result = entry.hook.on_eval_request(&mut self.ctx);
                    self.check(other, stage, result)?;
                }
            }
            if !self.ctx.save_requests.is_empty() {
                self.process_saves()?;
            }
        }
        Ok(())
    }

    fn dispatch_after_backward(&mut self) -> Result<(), RunError> {
        for index in 0..self.hooks.len() {
            if !self.hooks.entries()[index]
                .stages
                .contains(Stage::AfterBackward)
            {
                continue;
            }
            let entry = &mut self.hooks.entries_mut()[index];
            let result = entry.hook.after_backward(&mut self.ctx);
            self.check(index, Stage::AfterBackward, result)?;
        }
        Ok(())
    }

    fn dispatch_loggers(&mut self, except: usize) -> Result<(), RunError> {
        for index in 0..self.hooks.len() {
            if index == except || !self.hooks.entries()[index].hook.is_logger() {
                continue;
            }
            let entry = &mut self.hooks.entries_mut()[index];
            let result = entry.hook.after_train_iter(&mut self.ctx);
            self.check(index, Stage::AfterTrainIter, result)?;
        }
        Ok(())
    }

    fn check(
        &self,
        index: usize,
        stage: Stage,
        result: Result<(), HookError>,
    ) -> Result<(), RunError> {
        result.map_err(|mut err| {
            if err.hook.is_empty() {
                err.hook = self.hooks.entries()[index].hook.name().to_string();
            }
            if err.point.is_none() {
                err.point = Some(self.point(stage));
            }
            RunError::Hook(err)
        })
    }

    fn point(&self, stage: Stage) -> RunPoint {
        RunPoint {
            stage,
            epoch: self.ctx.epoch,
            iter: self.ctx.iter,
        }
    }

    fn engine_error(&self, stage: Stage, source: EngineError) -> RunError {
        RunError::Engine {
            point: self.point(stage),
            source,
        }
    }

    /// One training iteration on the current batch, shared by both runners.
    fn train_iter(&mut self) -> Result<(), RunError> {
        self.call_hook(Stage::BeforeTrainIter)?;
        self.in_train_iter = true;
        let outputs = self
            .ctx
            .engine
            .train_step(self.ctx.iter)
            .map_err(|e| self.engine_error(Stage::BeforeTrainIter, e))?;
        self.ctx
            .log_buffer
            .update(&outputs.log_vars, outputs.num_samples);
        self.ctx.outputs = Some(outputs);
        self.call_hook(Stage::AfterTrainIter)?;
        self.in_train_iter = false;
        self.ctx.skip_step = false;
        Ok(())
    }

    /// One validation iteration on the current batch.
    fn val_iter(&mut self) -> Result<(), RunError> {
        self.call_hook(Stage::BeforeValIter)?;
        let outputs = self
            .ctx
            .engine
            .val_step()
            .map_err(|e| self.engine_error(Stage::BeforeValIter, e))?;
        self.ctx
            .log_buffer
            .update(&outputs.log_vars, outputs.num_samples);
        self.ctx.outputs = Some(outputs);
        self.call_hook(Stage::AfterValIter)
    }

    fn should_stop(&self) -> bool {
        self.ctx.stop_reason.is_some() || self.ctx.interrupted()
    }

    fn finish(&mut self) -> Result<RunOutcome, RunError> {
        if self.ctx.interrupted() {
            let path = self.ctx.work_dir.join("interrupted.safetensors");
            let saved = self.save_now(&path, true).ok().map(|_| path);
            match &saved {
                Some(p) => self.ctx.log.warn(&format!(
                    "interrupted; the state is saved in {}; continue with --resume-from {}",
                    p.display(),
                    p.display()
                )),
                None => self
                    .ctx
                    .log
                    .warn("interrupted; the state could not be saved"),
            }
            self.call_hook(Stage::AfterRun)?;
            return Ok(RunOutcome::Interrupted(saved));
        }
        self.call_hook(Stage::AfterRun)?;
        Ok(match self.ctx.stop_reason.clone() {
            Some(reason) => {
                self.ctx
                    .log
                    .info(&format!("training stopped early: {reason}"));
                RunOutcome::Stopped(reason)
            }
            None => RunOutcome::Completed,
        })
    }

    fn set_last_logger(&mut self) {
        if let Some(entry) = self
            .hooks
            .entries_mut()
            .iter_mut()
            .rev()
            .find(|e| e.hook.is_logger())
        {
            entry.hook.set_reset_flag();
        }
    }
}
