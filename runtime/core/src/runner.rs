//! The training loop: MMCV's `EpochBasedRunner` and `IterBasedRunner`, hook dispatch, and
//! the checkpoint writes hooks ask for.

mod actions;
mod epoch_based;
mod iter_based;
mod saving;
pub use saving::LATEST;

use std::path::PathBuf;

use weft_config::schema::{Phase, WorkflowStage};

use crate::context::{RunContext, RunnerKind};
use crate::engine::LoaderPosition;
use crate::error::{EngineError, HookError, RunError, RunPoint};
use crate::hook::builtin::{Role, Sealed};
use crate::hook_set::{HookSet, Kind};
use crate::stage::Stage;
use crate::world::requests;

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
    /// The checkpoint resumed from ends the run (every epoch done, or a hook had stopped
    /// it): nothing ran. Says why.
    AlreadyDone(String),
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
    /// Nesting of `call_hook` (`after_backward` runs inside `after_train_iter`).
    depth: u32,
    /// The stop recorded in the checkpoint resumed from.
    resumed_stop: Option<String>,
    /// The log buffer of the checkpoint resumed from, put back once the loggers have cleared
    /// theirs at the start of the resumed epoch (see [`Runner::restore_log_window`]).
    resumed_log_buffer: Option<serde_json::Value>,
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
            depth: 0,
            resumed_stop: None,
            resumed_log_buffer: None,
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
        if let Some(why) = self.already_done() {
            self.ctx.log.info(&format!("{why}; nothing to do"));
            return Ok(RunOutcome::AlreadyDone(why));
        }
        let result = match self.ctx.runner {
            RunnerKind::EpochBased => self.run_epoch_based(),
            RunnerKind::IterBased => self.run_iter_based(),
        };
        if let Err(err) = &result
            && self.started
        {
            self.save_emergency(err);
            let message = err.to_string();
            let writes_logs = self.ctx.world.is_main();
            for entry in self.hooks.entries_mut().iter_mut().filter(|_| writes_logs) {
                if let Role::Logger(logger) = entry.hook.role(Sealed(())) {
                    logger.on_exception(&mut self.ctx, &message);
                }
            }
        }
        self.ctx.log.flush();
        result
    }

    /// Why a resumed run has nothing left to do, if it has not.
    fn already_done(&self) -> Option<String> {
        let point = self.resume.as_ref()?;
        if let Some(reason) = &self.resumed_stop {
            return Some(format!(
                "the checkpoint was written after the run stopped ({reason})"
            ));
        }
        let done = match self.ctx.runner {
            RunnerKind::EpochBased => point.train_loader.epoch >= self.max,
            RunnerKind::IterBased => point.iter >= self.max,
        };
        done.then(|| {
            let unit = match self.ctx.runner {
                RunnerKind::EpochBased => "epochs",
                RunnerKind::IterBased => "iterations",
            };
            format!(
                "the checkpoint was written at the end of the run (all {} {unit} done)",
                self.max
            )
        })
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

    /// MMCV's `call_hook`: every hook that acts on `stage`, in order, each followed by the
    /// actions it queued. The built-in protocols run here too: the optimizer hook's backward,
    /// `after_backward` and step, and a by-iteration evaluation after the loggers. Checkpoints
    /// asked for at this point are written once every hook of the point has run.
    pub(crate) fn call_hook(&mut self, stage: Stage) -> Result<(), RunError> {
        // The trace is MMCV's `call_hook` sequence, which has no `after_backward`.
        if let Some(trace) = &mut self.trace
            && stage != Stage::AfterBackward
        {
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
        let outer = self.ctx.stage;
        self.depth += 1;
        self.ctx.stage = stage;
        let result = self.call_each(stage);
        self.ctx.stage = outer;
        self.depth -= 1;
        result?;
        if self.depth == 0 && !self.ctx.pending_saves.is_empty() {
            self.process_saves()?;
        }
        Ok(())
    }

    fn call_each(&mut self, stage: Stage) -> Result<(), RunError> {
        for index in 0..self.hooks.len() {
            let entry = &mut self.hooks.entries_mut()[index];
            let Some(point) = entry.dispatch.get(stage) else {
                continue;
            };
            match entry.kind {
                Kind::Optimizer if stage == Stage::AfterTrainIter => self.optimizer_step(index)?,
                _ => {
                    let result = entry.hook.call(point, &mut self.ctx);
                    self.check(index, stage, result)?;
                    self.apply_actions(index)?;
                    if entry_kind(&self.hooks, index) == Kind::Eval {
                        self.evaluate_if_due(index)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// MMCV's `OptimizerHook.after_train_iter`, with weft's `after_backward` between backward
    /// and the step.
    fn optimizer_step(&mut self, index: usize) -> Result<(), RunError> {
        let Role::Optimizer(hook) = self.hooks.entries_mut()[index].hook.role(Sealed(())) else {
            unreachable!("registered as the optimizer hook");
        };
        let stepping = hook.backward(&mut self.ctx);
        let stepping = self.check(index, Stage::AfterTrainIter, stepping)?;
        if !stepping {
            return Ok(());
        }
        self.call_hook(Stage::AfterBackward)?;
        let Role::Optimizer(hook) = self.hooks.entries_mut()[index].hook.role(Sealed(())) else {
            unreachable!("registered as the optimizer hook");
        };
        let result = hook.step(&mut self.ctx);
        self.check(index, Stage::AfterTrainIter, result)
    }

    /// A by-iteration evaluation the evaluation hook found due: as MMCV's `EvalHook` does,
    /// every logger logs the iteration first, then the log buffer is cleared.
    fn evaluate_if_due(&mut self, index: usize) -> Result<(), RunError> {
        let Role::Eval(hook) = self.hooks.entries_mut()[index].hook.role(Sealed(())) else {
            return Ok(());
        };
        if !hook.take_due() {
            return Ok(());
        }
        for other in 0..self.hooks.len() {
            if other == index || entry_kind(&self.hooks, other) != Kind::Logger {
                continue;
            }
            let entry = &mut self.hooks.entries_mut()[other];
            let result = entry.hook.call(Stage::AfterTrainIter, &mut self.ctx);
            self.check(other, Stage::AfterTrainIter, result)?;
        }
        self.ctx.log_buffer.clear();
        self.evaluate(index)
    }

    /// Runs the evaluation of the evaluation hook at `index` now.
    fn evaluate(&mut self, index: usize) -> Result<(), RunError> {
        let stage = self.ctx.stage;
        let Role::Eval(hook) = self.hooks.entries_mut()[index].hook.role(Sealed(())) else {
            return Ok(());
        };
        let result = hook.evaluate(&mut self.ctx);
        self.check(index, stage, result)?;
        self.apply_actions(index)
    }

    /// Every evaluation hook evaluates (a hook asked with [`crate::Action::Evaluate`]).
    pub(super) fn evaluate_on_request(&mut self) -> Result<(), RunError> {
        for index in 0..self.hooks.len() {
            if entry_kind(&self.hooks, index) == Kind::Eval {
                self.evaluate(index)?;
            }
        }
        Ok(())
    }

    /// A hook's result, with the hook's name and the run point filled in on failure.
    fn check<T>(
        &self,
        index: usize,
        stage: Stage,
        result: Result<T, HookError>,
    ) -> Result<T, RunError> {
        result.map_err(|err| self.hook_failed(index, stage, err))
    }

    pub(super) fn hook_failed(&self, index: usize, stage: Stage, mut err: HookError) -> RunError {
        if err.hook.is_empty() {
            err.hook = self.hooks.entries()[index].hook.name().to_string();
        }
        if err.point.is_none() {
            err.point = Some(self.point(stage));
        }
        RunError::Hook(err)
    }

    fn point(&self, stage: Stage) -> RunPoint {
        RunPoint {
            stage,
            epoch: self.ctx.epoch,
            iter: self.ctx.iter,
        }
    }

    fn engine_error(&self, stage: Stage, error: EngineError) -> RunError {
        RunError::Engine {
            point: self.point(stage),
            error,
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

    /// Whether the run ends here. In a data-parallel run this is where the ranks agree: a
    /// stop, interrupt, evaluation or checkpoint asked on one rank happens on all of them.
    fn should_stop(&mut self) -> Result<bool, RunError> {
        if self.ctx.world.is_distributed() {
            self.agree()?;
        }
        Ok(self.ctx.stop_reason.is_some() || self.ctx.interrupted())
    }

    fn agree(&mut self) -> Result<(), RunError> {
        let mut bits = std::mem::take(&mut self.ctx.requests);
        let asked_here = bits;
        if self.ctx.stop_reason.is_some() {
            bits |= requests::STOP;
        }
        if self.ctx.interrupted() {
            bits |= requests::INTERRUPT;
        }
        let all = self
            .ctx
            .world
            .agree(bits)
            .map_err(|message| RunError::Ranks {
                point: self.point(self.ctx.stage),
                rank: self.ctx.world.rank(),
                message,
            })?;
        if all & requests::STOP != 0 && self.ctx.stop_reason.is_none() {
            self.ctx.stop_reason = Some("a hook on another rank asked to stop".into());
        }
        if all & requests::INTERRUPT != 0 {
            self.ctx
                .interrupt
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if all & requests::EVALUATE != 0 {
            self.evaluate_on_request()?;
        }
        if all & requests::CHECKPOINT != 0
            && asked_here & requests::CHECKPOINT == 0
            && self.ctx.world.is_main()
        {
            // Asked only on ranks that write no files (a plugin deciding by its own rank or
            // data): rank 0 writes it. Checkpoints asked on rank 0 too were written already.
            let completed = self.ctx.iter;
            let path = crate::hooks::requested_path(&self.ctx.work_dir, completed);
            self.save_now(&path, true)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<RunOutcome, RunError> {
        if self.ctx.interrupted() {
            let path = self.ctx.work_dir.join("interrupted.safetensors");
            let saved = if self.ctx.world.is_main() {
                self.save_now(&path, true).ok().map(|_| path)
            } else {
                None
            };
            // `latest` follows, so that --auto-resume continues from the interrupted point
            // rather than from the last scheduled checkpoint.
            if let Some(p) = &saved
                && let Err(e) = saving::link_latest(&self.ctx.work_dir, p)
            {
                self.ctx
                    .log
                    .warn(&format!("cannot point latest at {}: {e}", p.display()));
            }
            match &saved {
                Some(p) => self.ctx.log.warn(&format!(
                    "interrupted; the state is saved in {}; continue with --auto-resume or --resume-from {}",
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

    /// MMCV's `LoggerHook.before_run`: the last logger clears the log output after logging.
    /// After the stage at which loggers clear the buffer (`before_train_epoch`, or
    /// `before_epoch` of the iteration runner) in a run resumed mid-window: the window's
    /// values as the checkpoint holds them, so the next log line averages what the
    /// uninterrupted run's did.
    fn restore_log_window(&mut self) -> Result<(), RunError> {
        if let Some(saved) = self.resumed_log_buffer.take() {
            self.ctx
                .log_buffer
                .restore(&saved)
                .map_err(RunError::Invalid)?;
        }
        Ok(())
    }

    fn set_last_logger(&mut self) {
        if let Some(entry) = self
            .hooks
            .entries_mut()
            .iter_mut()
            .rev()
            .find(|e| e.kind == Kind::Logger)
            && let Role::Logger(logger) = entry.hook.role(Sealed(()))
        {
            logger.base().reset_flag = true;
        }
    }
}

fn entry_kind(hooks: &HookSet, index: usize) -> Kind {
    hooks.entries()[index].kind
}
