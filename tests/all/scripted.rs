//! An engine whose step outputs are given in advance, for replaying MMCV's recorded logs:
//! the runner, hooks and loggers are real; only the numbers a model would produce are
//! scripted (losses, accuracies, gradient norms), and checkpoints are small JSON files.

use std::path::Path;

use serde_json::Value;
use weft_config::schema::Phase;
use weft_core::{
    Engine, EngineError, Momentum, ParamGroup, Predictions, Scalar, Split, StepOutputs,
};

/// What one step reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Step {
    /// `loss`.
    pub loss: f64,
    /// `top1_acc`.
    pub top1: f64,
    /// The gradient norm the optimizer hook logs (train steps only).
    pub grad_norm: f64,
}

/// Loaders of fixed lengths; train and val steps report scripted values in call order.
pub struct ScriptedEngine {
    lens: [usize; 2],
    pos: [usize; 2],
    groups: Vec<ParamGroup>,
    train: Vec<Step>,
    val: Vec<Step>,
    calls: [usize; 2],
}

impl ScriptedEngine {
    /// One SGD group (`lr`, momentum 0.9, weight decay 1e-4) and the scripts.
    pub fn new(
        train_len: usize,
        val_len: usize,
        lr: f64,
        train: Vec<Step>,
        val: Vec<Step>,
    ) -> Self {
        ScriptedEngine {
            lens: [train_len, val_len],
            pos: [0, 0],
            groups: vec![ParamGroup {
                lr,
                momentum: Momentum::Momentum(0.9),
                weight_decay: 1e-4,
                params: vec!["w".into()],
                ..Default::default()
            }],
            train,
            val,
            calls: [0, 0],
        }
    }

    fn current(&self, phase: Phase) -> Step {
        let (script, n) = match phase {
            Phase::Train => (&self.train, self.calls[0]),
            Phase::Val => (&self.val, self.calls[1]),
        };
        script.get(n.saturating_sub(1)).copied().unwrap_or_default()
    }

    fn outputs(step: Step) -> StepOutputs {
        StepOutputs {
            log_vars: vec![
                ("loss".into(), Scalar::Host(step.loss)),
                ("top1_acc".into(), Scalar::Host(step.top1)),
            ],
            num_samples: 1,
        }
    }
}

impl Engine for ScriptedEngine {
    fn loader_len(&self, phase: Phase) -> usize {
        self.lens[phase as usize]
    }
    fn start_epoch(&mut self, phase: Phase, _epoch: u64, skip: u64) -> Result<(), EngineError> {
        self.pos[phase as usize] = skip as usize;
        Ok(())
    }
    fn next_batch(&mut self, phase: Phase) -> Result<bool, EngineError> {
        self.pos[phase as usize] += 1;
        Ok(self.pos[phase as usize] <= self.lens[phase as usize])
    }
    fn train_step(&mut self, _iter: u64) -> Result<StepOutputs, EngineError> {
        self.calls[0] += 1;
        Ok(Self::outputs(self.current(Phase::Train)))
    }
    fn val_step(&mut self) -> Result<StepOutputs, EngineError> {
        self.calls[1] += 1;
        Ok(Self::outputs(self.current(Phase::Val)))
    }
    fn backward(&mut self, _scale: f64) -> Result<(), EngineError> {
        Ok(())
    }
    fn zero_grad(&mut self) {}
    fn grad_norm(&mut self, _norm_type: f64) -> Result<Scalar, EngineError> {
        Ok(Scalar::Host(self.current(Phase::Train).grad_norm))
    }
    fn clip_grad_norm(&mut self, _max: f64, _norm: f64, _err: bool) -> Result<Scalar, EngineError> {
        Ok(Scalar::Host(self.current(Phase::Train).grad_norm))
    }
    fn scale_grads(&mut self, _factor: f64) -> Result<(), EngineError> {
        Ok(())
    }
    fn unused_params(&self) -> Vec<(String, Vec<i64>)> {
        Vec::new()
    }
    fn optimizer_step(&mut self) -> Result<(), EngineError> {
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
        path: &Path,
        meta: &Value,
        _opt: bool,
    ) -> Result<(), EngineError> {
        std::fs::write(path, meta.to_string()).map_err(|e| EngineError::new(e.to_string()))
    }
    fn load_checkpoint(&mut self, path: &Path, _opt: bool) -> Result<Value, EngineError> {
        let text = std::fs::read_to_string(path).map_err(|e| EngineError::new(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| EngineError::new(e.to_string()))
    }
    fn device_name(&self) -> String {
        "scripted".into()
    }
}
