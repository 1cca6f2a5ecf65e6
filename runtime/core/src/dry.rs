//! Schedules without tensors: the real runner and the real lr/momentum hooks over an
//! [`Engine`] that has no model, recording the hyperparameters each optimizer step would use
//! (what `weft schedule` prints).

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use weft_config::schema::{Phase, RunConfig};
use weft_config::{Config, ConfigError};

use crate::build::RunPlan;
use crate::context::RunContext;
use crate::engine::{Engine, ParamGroup, Predictions, Scalar, Split, StepOutputs};
use crate::error::{EngineError, HookResult, RunError};
use crate::hook_set::HookSet;
use crate::hooks::{LrUpdaterHook, MomentumUpdaterHook, OptimizerHook};
use crate::priority::Priority;
use crate::run_log::RunLog;
use crate::runner::Runner;
use crate::schedule::{parse_lr_config, parse_momentum_config};
use crate::stage::{Stage, StageSet};

/// The hyperparameters of one optimizer step.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScheduleEntry {
    /// `runner.epoch`.
    pub epoch: u64,
    /// `runner.iter`.
    pub iter: u64,
    /// `runner.inner_iter`.
    pub inner_iter: u64,
    /// lr of every group.
    pub lr: Vec<f64>,
    /// Momentum (or `betas[0]`) of every group, MMCV's `current_momentum()`.
    pub momentum: Vec<f64>,
}

type Counters = Arc<Mutex<(u64, u64, u64)>>;

/// Loaders of given lengths, no model; optimizer steps record the groups' values.
pub struct DryEngine {
    train_len: usize,
    val_len: usize,
    /// Batches taken in the current pass, per phase (train, val).
    pos: [usize; 2],
    groups: Vec<ParamGroup>,
    counters: Counters,
    entries: Arc<Mutex<Vec<ScheduleEntry>>>,
}

impl DryEngine {
    /// An engine with loaders of `train_len` and `val_len` batches and these groups.
    pub fn new(train_len: usize, val_len: usize, groups: Vec<ParamGroup>) -> DryEngine {
        DryEngine {
            train_len,
            val_len,
            pos: [0, 0],
            groups,
            counters: Arc::default(),
            entries: Arc::default(),
        }
    }
}

impl Engine for DryEngine {
    fn loader_len(&self, phase: Phase) -> usize {
        match phase {
            Phase::Train => self.train_len,
            Phase::Val => self.val_len,
        }
    }
    fn start_epoch(&mut self, phase: Phase, _epoch: u64, skip: u64) -> Result<(), EngineError> {
        self.pos[phase as usize] = skip as usize;
        Ok(())
    }
    fn next_batch(&mut self, phase: Phase) -> Result<bool, EngineError> {
        self.pos[phase as usize] += 1;
        Ok(self.pos[phase as usize] <= self.loader_len(phase))
    }
    fn train_step(&mut self, _iter: u64) -> Result<StepOutputs, EngineError> {
        Ok(StepOutputs::default())
    }
    fn val_step(&mut self) -> Result<StepOutputs, EngineError> {
        Ok(StepOutputs::default())
    }
    fn backward(&mut self, _scale: f64) -> Result<(), EngineError> {
        Ok(())
    }
    fn zero_grad(&mut self) {}
    fn grad_norm(&mut self, _norm_type: f64) -> Result<Scalar, EngineError> {
        Ok(Scalar::Host(0.0))
    }
    fn clip_grad_norm(&mut self, _m: f64, _n: f64, _e: bool) -> Result<Scalar, EngineError> {
        Ok(Scalar::Host(0.0))
    }
    fn scale_grads(&mut self, _factor: f64) -> Result<(), EngineError> {
        Ok(())
    }
    fn unused_params(&self) -> Vec<(String, Vec<i64>)> {
        Vec::new()
    }
    fn optimizer_step(&mut self) -> Result<(), EngineError> {
        let (epoch, iter, inner_iter) = *self.counters.lock().expect("counters lock");
        self.entries
            .lock()
            .expect("entries lock")
            .push(ScheduleEntry {
                epoch,
                iter,
                inner_iter,
                lr: self.groups.iter().map(|g| g.lr).collect(),
                momentum: self.groups.iter().map(|g| g.momentum.value()).collect(),
            });
        Ok(())
    }
    fn param_groups(&self) -> &[ParamGroup] {
        &self.groups
    }
    fn param_groups_mut(&mut self) -> &mut [ParamGroup] {
        &mut self.groups
    }
    fn predict(&mut self, _split: Split) -> Result<Predictions, EngineError> {
        Ok(Predictions::default())
    }
    fn save_checkpoint(
        &mut self,
        _path: &Path,
        _meta: &Value,
        _opt: bool,
    ) -> Result<(), EngineError> {
        Ok(())
    }
    fn load_checkpoint(&mut self, _path: &Path, _opt: bool) -> Result<Value, EngineError> {
        Ok(Value::Null)
    }
    fn device_name(&self) -> String {
        "none".into()
    }
}

/// Remembers the counters of the current train iteration for the engine's record.
struct Tracker(Counters);

impl crate::Hook for Tracker {
    fn name(&self) -> &str {
        "ScheduleTracker"
    }
    fn points(&self) -> StageSet {
        StageSet::EMPTY.with(Stage::BeforeTrainIter)
    }
    fn before_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        *self.0.lock().expect("counters lock") = (ctx.epoch, ctx.iter, ctx.inner_iter);
        Ok(())
    }
}

/// Runs the config's lr and momentum hooks, `extra` hooks (plugin hooks that set the lr) and
/// a plain optimizer hook over the whole run, with `iters_per_epoch` standing in for the
/// training set's length, and returns the values of every optimizer step.
pub fn simulate(
    cfg: &Config,
    rc: &RunConfig,
    plan: &RunPlan,
    groups: Vec<ParamGroup>,
    iters_per_epoch: usize,
    extra: Vec<(Box<dyn crate::Hook>, Priority)>,
) -> Result<Vec<ScheduleEntry>, ScheduleError> {
    let mut hooks = HookSet::default();
    for (hook, priority) in extra {
        hooks.register(hook, priority);
    }
    if let Some(lr) = &rc.lr_config {
        let s = parse_lr_config(&lr.0, cfg.sources(), plan.runner)?;
        hooks.register(Box::new(LrUpdaterHook::new(s)), Priority::VERY_HIGH);
    }
    if let Some(m) = &rc.momentum_config {
        let s = parse_momentum_config(&m.0, cfg.sources(), plan.runner)?;
        hooks.register(Box::new(MomentumUpdaterHook::new(s)), Priority::HIGH);
    }
    hooks.register(
        Box::new(OptimizerHook::new(None, false)),
        Priority::ABOVE_NORMAL,
    );
    let counters: Counters = Arc::default();
    hooks.register(Box::new(Tracker(counters.clone())), Priority::HIGHEST);
    let entries = Arc::new(Mutex::new(Vec::new()));
    let engine = DryEngine {
        counters,
        entries: entries.clone(),
        ..DryEngine::new(iters_per_epoch, 1, groups)
    };
    let ctx = RunContext::new(
        Box::new(engine),
        plan.runner,
        std::env::temp_dir(),
        RunLog::capturing(),
    );
    let mut runner = Runner::new(ctx, hooks, plan.workflow.clone(), plan.max);
    runner.run()?;
    let out = entries.lock().expect("entries lock").clone();
    Ok(out)
}

/// Why a schedule could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The config is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A schedule fails during the run (CosineRestart past its periods, OneCycle too short).
    #[error(transparent)]
    Run(#[from] RunError),
}
