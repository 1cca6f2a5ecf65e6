//! Test doubles for the loop: an [`Engine`] made of plain numbers (no libtorch) and a hook
//! that records when it runs. They stand in for the tensor side only in tests of the loop's
//! ordering and counters, which do not depend on tensors.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use weft_config::schema::Phase;
use weft_core::{
    Engine, EngineError, HookResult, Momentum, ParamGroup, Predictions, RunContext, Scalar, Split,
    StageSet, StepOutputs,
};

/// Path of a fixture file.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

/// A fresh temporary directory under the target dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Loaders of fixed lengths and a loss that decreases by iteration; records checkpoints.
pub struct NullEngine {
    train_len: usize,
    val_len: usize,
    pos: usize,
    groups: Vec<ParamGroup>,
    pub saved: Arc<Mutex<Vec<PathBuf>>>,
}

impl NullEngine {
    pub fn new(train_len: usize, val_len: usize) -> NullEngine {
        NullEngine {
            train_len,
            val_len,
            pos: 0,
            groups: vec![ParamGroup {
                lr: 0.1,
                momentum: Momentum::Momentum(0.9),
                weight_decay: 0.0,
                initial_lr: None,
                initial_momentum: None,
                params: vec!["w".into()],
            }],
            saved: Arc::default(),
        }
    }
}

impl Engine for NullEngine {
    fn loader_len(&self, phase: Phase) -> usize {
        match phase {
            Phase::Train => self.train_len,
            Phase::Val => self.val_len,
        }
    }
    fn start_epoch(&mut self, _phase: Phase, _epoch: u64, skip: u64) -> Result<(), EngineError> {
        self.pos = skip as usize;
        Ok(())
    }
    fn next_batch(&mut self, phase: Phase) -> Result<bool, EngineError> {
        self.pos += 1;
        Ok(self.pos <= self.loader_len(phase))
    }
    fn train_step(&mut self, iter: u64) -> Result<StepOutputs, EngineError> {
        Ok(StepOutputs {
            log_vars: vec![("loss".into(), Scalar::Host(1.0 / (iter + 1) as f64))],
            num_samples: 2,
        })
    }
    fn val_step(&mut self) -> Result<StepOutputs, EngineError> {
        Ok(StepOutputs {
            log_vars: vec![("loss".into(), Scalar::Host(0.5))],
            num_samples: 2,
        })
    }
    fn backward(&mut self, _scale: f64) -> Result<(), EngineError> {
        Ok(())
    }
    fn zero_grad(&mut self) {}
    fn grad_norm(&mut self, _norm_type: f64) -> Result<Scalar, EngineError> {
        Ok(Scalar::Host(1.0))
    }
    fn clip_grad_norm(&mut self, _m: f64, _n: f64, _e: bool) -> Result<Scalar, EngineError> {
        Ok(Scalar::Host(1.0))
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
        Ok(Predictions {
            scores: vec![0.9, 0.1, 0.2, 0.8],
            num_classes: 2,
            labels: vec![0, 0],
            batches: self.val_len,
        })
    }
    fn save_checkpoint(
        &mut self,
        path: &Path,
        _meta: &Value,
        _opt: bool,
    ) -> Result<(), EngineError> {
        std::fs::write(path, b"checkpoint").map_err(|e| EngineError::new(e.to_string()))?;
        self.saved.lock().unwrap().push(path.to_path_buf());
        Ok(())
    }
    fn load_checkpoint(&mut self, _path: &Path, _opt: bool) -> Result<Value, EngineError> {
        Ok(Value::Null)
    }
    fn device_name(&self) -> String {
        "none".into()
    }
}

/// A hook acting on every MMCV stage and doing nothing but being named.
pub struct Recorder(pub String);

impl weft_core::Hook for Recorder {
    fn name(&self) -> &str {
        &self.0
    }
    fn stages(&self) -> StageSet {
        // Everything MMCV's recorder overrides: the ten stages and the generic epoch ones.
        weft_core::Stage::ALL[..12].iter().copied().collect()
    }
    fn before_run(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
}
