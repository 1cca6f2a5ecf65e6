//! What hooks see and change: the counters, the log buffer, the metadata and the engine.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};
use weft_config::schema::Phase;

use crate::action::{Action, SaveRequest};
use crate::clock::Clock;
use crate::engine::{Engine, LoaderPosition, StepOutputs};
use crate::log_buffer::LogBuffer;
use crate::run_log::RunLog;
use crate::stage::Stage;

/// Which loop runs (MMCV's `EpochBasedRunner` or `IterBasedRunner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerKind {
    /// Counts epochs; `max_iters = max_epochs * len(train loader)`.
    EpochBased,
    /// Counts iterations; loaders wrap around.
    IterBased,
}

impl RunnerKind {
    /// MMCV's class name.
    pub fn name(self) -> &'static str {
        match self {
            RunnerKind::EpochBased => "EpochBasedRunner",
            RunnerKind::IterBased => "IterBasedRunner",
        }
    }
}

/// The state of a run, passed to every hook.
pub struct RunContext {
    /// The model, optimizer and data.
    pub engine: Box<dyn Engine>,
    /// Which loop runs.
    pub runner: RunnerKind,
    /// `train`, `val`, or `None` before the first phase.
    pub mode: Option<Phase>,
    /// 0-based epoch (MMCV's `runner.epoch`).
    pub epoch: u64,
    /// 0-based global train iteration (MMCV's `runner.iter`).
    pub iter: u64,
    /// 0-based iteration inside the current epoch or workflow phase.
    pub inner_iter: u64,
    /// Epochs to train (epoch-based runner).
    pub max_epochs: Option<u64>,
    /// Iterations to train (for the epoch runner, `max_epochs * len(train loader)`).
    pub max_iters: u64,
    /// Length of the current phase's loader (MMCV's `len(runner.data_loader)`).
    pub data_loader_len: usize,
    /// Outputs of the last train or val step.
    pub outputs: Option<StepOutputs>,
    /// Logged values and the averaged output for loggers.
    pub log_buffer: LogBuffer,
    /// MMCV's `runner.meta`: `hook_msgs` (best score, last checkpoint) and run facts; saved in
    /// every checkpoint and restored on resume.
    pub meta: Map<String, Value>,
    /// Facts stored in every checkpoint but not logged (the resolved config, plugin digests).
    pub checkpoint_extra: Map<String, Value>,
    /// Where outputs go.
    pub work_dir: PathBuf,
    /// `%Y%m%d_%H%M%S` of the start, naming the log files.
    pub timestamp: String,
    /// The text log.
    pub log: RunLog,
    /// Time for the timer hook.
    pub clock: Box<dyn Clock>,
    /// The train loader's position (saved in checkpoints).
    pub train_position: LoaderPosition,
    /// The seed of the run.
    pub seed: u64,
    /// Evaluations done in this process (the evaluation hook counts; hooks that react to
    /// results, such as early stopping, compare it with the count they last saw).
    pub evaluations: u64,
    /// The results of the latest evaluation, in order (also in `meta.last_eval`, where JSON
    /// cannot hold a NaN).
    pub last_eval: Vec<(String, f64)>,
    /// This process's rank among the run's ranks (rank 0 of 1 unless data-parallel).
    pub world: crate::World,
    /// Requests this rank made since the last agreement point ([`crate::requests`]).
    pub(crate) requests: u32,
    pub(crate) stage: Stage,
    pub(crate) stop_reason: Option<String>,
    pub(crate) actions: Vec<Action>,
    pub(crate) skip_step: bool,
    pub(crate) pending_saves: Vec<SaveRequest>,
    pub(crate) eval_requested: bool,
    pub(crate) interrupt: Arc<AtomicBool>,
}

impl RunContext {
    /// A context around an engine, with counters at zero.
    pub fn new(
        engine: Box<dyn Engine>,
        runner: RunnerKind,
        work_dir: PathBuf,
        log: RunLog,
    ) -> Self {
        RunContext {
            engine,
            runner,
            mode: None,
            epoch: 0,
            iter: 0,
            inner_iter: 0,
            max_epochs: None,
            max_iters: 0,
            data_loader_len: 0,
            outputs: None,
            log_buffer: LogBuffer::default(),
            meta: Map::new(),
            checkpoint_extra: Map::new(),
            work_dir,
            timestamp: crate::pyfmt::local_timestamp(),
            log,
            clock: Box::new(crate::clock::SystemClock::default()),
            train_position: LoaderPosition::default(),
            seed: 0,
            evaluations: 0,
            last_eval: Vec::new(),
            world: crate::World::single(),
            requests: 0,
            stage: Stage::BeforeRun,
            stop_reason: None,
            actions: Vec::new(),
            skip_step: false,
            pending_saves: Vec::new(),
            eval_requested: false,
            interrupt: Arc::new(AtomicBool::new(false)),
        }
    }

    /// MMCV's `every_n_epochs(n)`: `(epoch + 1) % n == 0`, false for `n <= 0`.
    pub fn every_n_epochs(&self, n: i64) -> bool {
        n > 0 && (self.epoch + 1).is_multiple_of(n as u64)
    }

    /// MMCV's `every_n_iters(n)`.
    pub fn every_n_iters(&self, n: i64) -> bool {
        n > 0 && (self.iter + 1).is_multiple_of(n as u64)
    }

    /// MMCV's `every_n_inner_iters(n)`.
    pub fn every_n_inner_iters(&self, n: i64) -> bool {
        n > 0 && (self.inner_iter + 1).is_multiple_of(n as u64)
    }

    /// MMCV's `end_of_epoch`: the current iteration is the last of its loader.
    pub fn end_of_epoch(&self) -> bool {
        self.inner_iter + 1 == self.data_loader_len as u64
    }

    /// MMCV's `is_last_epoch`.
    pub fn is_last_epoch(&self) -> bool {
        self.max_epochs.is_some_and(|m| self.epoch + 1 == m)
    }

    /// MMCV's `is_last_iter`.
    pub fn is_last_iter(&self) -> bool {
        self.iter + 1 == self.max_iters
    }

    /// MMCV's `current_lr()`: the lr of every group.
    pub fn current_lr(&self) -> Vec<f64> {
        self.engine.param_groups().iter().map(|g| g.lr).collect()
    }

    /// MMCV's `current_momentum()`: momentum, else `betas[0]`, else 0, per group.
    pub fn current_momentum(&self) -> Vec<f64> {
        self.engine
            .param_groups()
            .iter()
            .map(|g| g.momentum.value())
            .collect()
    }

    /// The runner stage in progress (for a hook called at a generic point, the stage that
    /// point serves).
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Sets the stage in progress, for tools that call hooks outside a [`crate::Runner`]
    /// (benchmarks of a single hook call); the runner sets it itself.
    pub fn set_stage(&mut self, stage: Stage) {
        self.stage = stage;
    }

    /// Queues an action; the runner checks and applies it when the current hook returns.
    pub fn act(&mut self, action: Action) {
        self.actions.push(action);
    }

    /// Why the loop was asked to stop, if it was.
    pub fn stop_reason(&self) -> Option<&str> {
        self.stop_reason.as_deref()
    }

    /// Whether a skip was requested for this iteration; clears the request.
    pub(crate) fn take_skip_step(&mut self) -> bool {
        std::mem::take(&mut self.skip_step)
    }

    /// Whether Ctrl-C was pressed.
    pub fn interrupted(&self) -> bool {
        self.interrupt.load(Ordering::Relaxed)
    }

    /// The flag a signal handler sets to interrupt the run.
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.interrupt.clone()
    }

    /// `meta.hook_msgs`, created on first use.
    pub fn hook_msgs(&mut self) -> &mut Map<String, Value> {
        let entry = self
            .meta
            .entry("hook_msgs")
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        entry.as_object_mut().expect("just made an object")
    }
}
