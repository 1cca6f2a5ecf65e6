//! [`weft_core::Engine`] on libtorch: the model, its optimizer and the data loaders.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Value, json};
use tch::{Device, Kind, TchError, Tensor};
use weft_config::schema::Phase;
use weft_core::plugin::GradView;
use weft_core::{
    DeviceValue, Engine, EngineError, LOAD_REPORT, Momentum, ParamGroup, Predictions, Scalar,
    Split, StepOutputs,
};
use weft_data::{Batch, Loader};

use crate::checkpoint::{self, OPTIMIZER_PREFIX};
use crate::clip;
use crate::device::device_name;
use crate::grads::Grads;
use crate::models::{Loss, Model};
use crate::optim::{OptimizerSetup, StepError};
use crate::parallel::{DataParallel, ParallelOptions};

/// A scalar tensor read lazily on the host.
struct TensorValue(Mutex<Tensor>);

impl DeviceValue for TensorValue {
    fn fetch(&self) -> f64 {
        self.0
            .lock()
            .ok()
            .and_then(|t| t.f_double_value(&[]).ok())
            .unwrap_or(f64::NAN)
    }
}

fn deferred(t: Tensor) -> Scalar {
    Scalar::deferred(TensorValue(Mutex::new(t)))
}

fn engine_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::new(e.to_string())
}

/// The loaders of a run.
#[derive(Default)]
pub struct Loaders {
    /// `data.train`.
    pub train: Option<Loader>,
    /// `data.val`.
    pub val: Option<Loader>,
    /// `data.test`.
    pub test: Option<Loader>,
}

/// Model, optimizer and data on one device.
pub struct TorchEngine {
    device: Device,
    model: Model,
    setup: OptimizerSetup,
    loaders: Loaders,
    current: Option<Batch>,
    last_loss: Option<Tensor>,
    seed: u64,
    parallel: Option<DataParallel>,
}

impl TorchEngine {
    /// An engine; the model's parameters must already live on `device`.
    pub fn new(
        model: Model,
        setup: OptimizerSetup,
        loaders: Loaders,
        device: Device,
        seed: u64,
    ) -> TorchEngine {
        TorchEngine {
            device,
            model,
            setup,
            loaders,
            current: None,
            last_loss: None,
            seed,
            parallel: None,
        }
    }

    /// Makes this engine one rank of a data-parallel run: rank 0's weights and buffers are
    /// taken now, gradients are averaged over the group at every optimizer step, and
    /// evaluations gather every rank's share (the loaders must already be sharded).
    pub fn data_parallel(
        &mut self,
        group: std::sync::Arc<weft_dist::ProcessGroup>,
        options: ParallelOptions,
    ) -> Result<(), EngineError> {
        self.parallel = Some(DataParallel::new(group, &self.model.store, options)?);
        Ok(())
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The optimizer and its groups.
    pub fn optimizer(&self) -> &OptimizerSetup {
        &self.setup
    }

    fn loader(&mut self, phase: Phase) -> Result<&mut Loader, EngineError> {
        let loader = match phase {
            Phase::Train => self.loaders.train.as_mut(),
            Phase::Val => self.loaders.val.as_mut(),
        };
        loader.ok_or_else(|| {
            EngineError::new(format!(
                "the workflow runs `{}` but data.{} is not set",
                phase.as_str(),
                phase.as_str()
            ))
        })
    }

    fn inputs(&self) -> Result<(Tensor, Tensor), EngineError> {
        let batch = self
            .current
            .as_ref()
            .ok_or_else(|| EngineError::new("no current batch (next_batch was not called)"))?;
        let non_blocking = self.device != Device::Cpu;
        let x = batch
            .inputs
            .f_to_device_(self.device, Kind::Float, non_blocking, false)
            .map_err(engine_err)?;
        let y = batch
            .labels
            .f_to_device_(self.device, batch.labels.kind(), non_blocking, false)
            .map_err(engine_err)?;
        Ok((x, y))
    }

    /// Loss and, for classification, batch accuracy.
    /// The loss of a batch, its top-1 accuracy when the network gives scores, and the named
    /// parts of a loss the network computes itself.
    fn forward(&self, x: &Tensor, y: &Tensor, train: bool) -> Result<Forward, EngineError> {
        let failed = |e: TchError| {
            EngineError::new(format!("forward pass of {} failed: {e}", self.model.kind))
        };
        if let Some(parts) = self.model.net.losses(x, y, train) {
            // MMCV's _parse_losses: every entry is logged (as its mean); those named `*loss*`
            // add up to the loss.
            let parts: Vec<(String, Tensor)> = parts
                .map_err(failed)?
                .into_iter()
                .map(|(k, v)| v.f_mean(None::<Kind>).map(|m| (k, m)))
                .collect::<Result<_, _>>()
                .map_err(engine_err)?;
            let mut total: Option<Tensor> = None;
            for (k, v) in &parts {
                if k.contains("loss") {
                    total = Some(match total {
                        None => v.shallow_clone(),
                        Some(t) => t.f_add(v).map_err(engine_err)?,
                    });
                }
            }
            let loss = total.ok_or_else(|| {
                EngineError::new(format!(
                    "{} returned no entry named `*loss*` (it returned {})",
                    self.model.kind,
                    parts
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            return Ok(Forward {
                loss,
                acc: None,
                parts,
            });
        }
        let logits = self.model.net.forward(x, train).map_err(failed)?;
        let loss = self.model.loss(&logits, y).map_err(|e| {
            EngineError::new(format!(
                "loss: {e} (do the model's outputs match the targets?)"
            ))
        })?;
        let acc = match self.model.loss {
            Loss::CrossEntropy => Some(
                tch::no_grad(|| {
                    logits
                        .f_argmax(-1, false)?
                        .f_eq_tensor(y)?
                        .f_to_kind(Kind::Float)?
                        .f_mean(None::<Kind>)
                })
                .map_err(engine_err)?,
            ),
            Loss::Mse => None,
        };
        Ok(Forward {
            loss,
            acc,
            parts: Vec::new(),
        })
    }

    /// Resumes from MMCV's `.pth`: `torch.optim`'s state mapped onto weft's groups (its
    /// parameter indices run across the groups in order, as weft's groups list them, since
    /// both come from MMCV's constructor over `named_parameters()`), the groups'
    /// hyperparameters, and a resume record made from MMCV's `meta.epoch` and `meta.iter`:
    /// the run goes on at the next epoch, as MMCV's `runner.resume` does.
    fn resume_torch(
        &mut self,
        path: &Path,
        torch: &crate::pth::TorchOptimizer,
        meta: Option<&Value>,
    ) -> Result<Value, EngineError> {
        let shown = path.display();
        let s = &mut self.setup;
        if torch.groups.len() != s.groups.len() {
            return Err(EngineError::new(format!(
                "{shown} has {} parameter groups but the optimizer has {}",
                torch.groups.len(),
                s.groups.len()
            )));
        }
        let mut order: Vec<String> = Vec::new();
        for (g, saved) in s.groups.iter_mut().zip(&torch.groups) {
            let n = saved
                .get("params")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if n != g.params.len() {
                return Err(EngineError::new(format!(
                    "{shown}: a parameter group of {n} parameters where the optimizer's has {}",
                    g.params.len()
                )));
            }
            restore_group(g, saved);
            order.extend(g.params.iter().cloned());
        }
        let mut tensors = HashMap::new();
        let mut scalars = serde_json::Map::new();
        for (index, entries) in &torch.state {
            let name = usize::try_from(*index)
                .ok()
                .and_then(|i| order.get(i))
                .ok_or_else(|| {
                    EngineError::new(format!(
                        "{shown}: optimizer state for parameter {index}, which the model lacks"
                    ))
                })?;
            for (key, t) in entries {
                if t.dim() == 0 {
                    let v = t.f_double_value(&[]).map_err(engine_err)?;
                    scalars
                        .entry(name.clone())
                        .or_insert_with(|| json!({}))
                        .as_object_mut()
                        .expect("made an object")
                        .insert(key.clone(), json!(v));
                }
                tensors.insert(format!("{name}.{key}"), t.shallow_clone());
            }
        }
        s.optimizer
            .load_state(
                self.model.store.params(),
                &mut tensors,
                &json!({ "scalars": scalars }),
            )
            .map_err(engine_err)?;
        let mmcv = meta.cloned().unwrap_or(Value::Null);
        let epoch = mmcv.get("epoch").and_then(Value::as_u64);
        let iter = mmcv.get("iter").and_then(Value::as_u64);
        let (Some(epoch), Some(iter)) = (epoch, iter) else {
            return Err(EngineError::new(format!(
                "{shown} has no meta.epoch and meta.iter to resume at"
            )));
        };
        // MMCV's meta is kept whole under a name of its own: its `seed` or `hook_msgs` are
        // not weft's.
        Ok(json!({
            "resume": { "iter": iter, "train_loader": { "epoch": epoch, "batch": 0 } },
            "mmcv_meta": mmcv,
        }))
    }

    fn grads(&self) -> Vec<Tensor> {
        self.model
            .store
            .params()
            .iter()
            .filter(|p| p.requires_grad)
            .map(|p| p.tensor.grad())
            .filter(Tensor::defined)
            .collect()
    }
}

impl Engine for TorchEngine {
    fn loader_len(&self, phase: Phase) -> usize {
        match phase {
            Phase::Train => self.loaders.train.as_ref().map_or(0, Loader::len),
            Phase::Val => self.loaders.val.as_ref().map_or(0, Loader::len),
        }
    }

    fn start_epoch(&mut self, phase: Phase, epoch: u64, skip: u64) -> Result<(), EngineError> {
        self.loader(phase)?.start_epoch(epoch, skip);
        Ok(())
    }

    fn next_batch(&mut self, phase: Phase) -> Result<bool, EngineError> {
        self.current = self.loader(phase)?.next_batch().map_err(engine_err)?;
        Ok(self.current.is_some())
    }

    fn train_step(&mut self, iter: u64) -> Result<StepOutputs, EngineError> {
        // Randomness of a step depends on (seed, iter) only, so resumed runs repeat it; each
        // rank of a data-parallel run draws its own dropout masks.
        let rank = self
            .parallel
            .as_ref()
            .map_or(0, |p| p.group().rank() as u64);
        tch::manual_seed(
            (self.seed
                ^ iter.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ rank.wrapping_mul(0xD6E8_FEB8_6659_FD93)) as i64,
        );
        if let Some(p) = &self.parallel {
            p.before_forward()?;
        }
        let (x, y) = self.inputs()?;
        let Forward { loss, acc, parts } = self.forward(&x, &y, true)?;
        let n = y.size().first().copied().unwrap_or(0) as usize;
        let mut logged: Vec<(String, Tensor)> = parts
            .into_iter()
            .filter(|(k, _)| k != "loss")
            .map(|(k, v)| (k, v.detach()))
            .collect();
        logged.push(("loss".to_string(), loss.f_detach().map_err(engine_err)?));
        logged.extend(acc.map(|a| ("top1_acc".to_string(), a)));
        if let Some(p) = &mut self.parallel {
            let values: Vec<Tensor> = logged.iter().map(|(_, t)| t.shallow_clone()).collect();
            for ((_, t), averaged) in logged.iter_mut().zip(p.pack_logs(&values)?) {
                *t = averaged;
            }
        }
        let log_vars: Vec<(String, Scalar)> =
            logged.into_iter().map(|(k, t)| (k, deferred(t))).collect();
        let outputs = StepOutputs {
            log_vars,
            num_samples: n,
        };
        self.last_loss = Some(loss);
        Ok(outputs)
    }

    fn val_step(&mut self) -> Result<StepOutputs, EngineError> {
        let (x, y) = self.inputs()?;
        let Forward { loss, acc, parts } = tch::no_grad(|| self.forward(&x, &y, false))?;
        let n = y.size().first().copied().unwrap_or(0) as usize;
        let mut log_vars = log_parts(parts)?;
        log_vars.push(("loss".to_string(), deferred(loss)));
        log_vars.extend(acc.map(|a| ("top1_acc".to_string(), deferred(a))));
        Ok(StepOutputs {
            log_vars,
            num_samples: n,
        })
    }

    fn backward(&mut self, scale: f64) -> Result<(), EngineError> {
        let loss = self.last_loss.take().ok_or_else(|| {
            EngineError::new(
                "backward without a train step (was backward already run this iteration?)",
            )
        })?;
        let loss = if scale == 1.0 {
            loss
        } else {
            loss.f_mul_scalar(scale).map_err(engine_err)?
        };
        if let Some(p) = &self.parallel
            && p.armed()
        {
            // The collectives run inside this backward: a lost peer surfaces here.
            return loss.f_backward().map_err(|e| p.backward_failed(e));
        }
        loss.f_backward()
            .map_err(|e| EngineError::new(format!("backward pass failed: {e}")))
    }

    fn prepare_reduce(&mut self) -> Result<(), EngineError> {
        // The reducer searches the loss's graph (unscaled: the same parameters lead to it);
        // without a loss, backward itself says what is wrong.
        match (&mut self.parallel, &self.last_loss) {
            (Some(p), Some(loss)) => p.prepare(loss),
            _ => Ok(()),
        }
    }

    fn reduce_grads(&mut self) -> Result<(), EngineError> {
        match &mut self.parallel {
            Some(p) => p.reduce(),
            None => Ok(()),
        }
    }

    fn zero_grad(&mut self) {
        for p in self.model.store.params() {
            let mut t = p.tensor.shallow_clone();
            t.zero_grad();
        }
    }

    fn grad_norm(&mut self, norm_type: f64) -> Result<Scalar, EngineError> {
        let grads = self.grads();
        if grads.is_empty() {
            return Ok(Scalar::Host(0.0));
        }
        clip::total_norm(&grads, norm_type)
            .map(deferred)
            .map_err(engine_err)
    }

    fn clip_grad_norm(
        &mut self,
        max_norm: f64,
        norm_type: f64,
        error_if_nonfinite: bool,
    ) -> Result<Scalar, EngineError> {
        let grads = self.grads();
        clip::clip_grad_norm(&grads, max_norm, norm_type, error_if_nonfinite)
            .map(deferred)
            .map_err(engine_err)
    }

    fn scale_grads(&mut self, factor: f64) -> Result<(), EngineError> {
        tch::no_grad(|| {
            for g in self.grads() {
                let mut g = g;
                let _ = g.f_mul_scalar_(factor)?;
            }
            Ok::<(), TchError>(())
        })
        .map_err(engine_err)
    }

    fn unused_params(&self) -> Vec<(String, Vec<i64>)> {
        self.model
            .store
            .params()
            .iter()
            .filter(|p| p.requires_grad && !p.tensor.grad().defined())
            .map(|p| (p.name.clone(), p.tensor.size()))
            .collect()
    }

    fn optimizer_step(&mut self) -> Result<(), EngineError> {
        let needs_closure = self.setup.optimizer.needs_closure();
        let inputs = if needs_closure {
            Some(self.inputs()?)
        } else {
            None
        };
        let TorchEngine { model, setup, .. } = self;
        let params = model.store.params();
        let result = match inputs {
            None => setup.optimizer.step(params, &setup.groups, None),
            Some((x, y)) => {
                // LBFGS re-evaluates the current batch as often as its line search needs.
                let mut closure = || -> Result<f64, TchError> {
                    for p in params {
                        let mut t = p.tensor.shallow_clone();
                        t.zero_grad();
                    }
                    let loss = model.loss(&model.net.forward(&x, true)?, &y)?;
                    loss.f_backward()?;
                    loss.f_double_value(&[])
                };
                setup
                    .optimizer
                    .step(params, &setup.groups, Some(&mut closure))
            }
        };
        result.map_err(|e| match e {
            // The message names the plugin, its file and what happened.
            StepError::Plugin(m) => EngineError::new(m),
            StepError::Torch(e) => {
                EngineError::new(format!("optimizer step ({}): {e}", setup.optimizer.name()))
            }
        })
    }

    fn param_groups(&self) -> &[ParamGroup] {
        &self.setup.groups
    }

    fn param_groups_mut(&mut self) -> &mut [ParamGroup] {
        &mut self.setup.groups
    }

    fn predict(&mut self, split: Split) -> Result<Predictions, EngineError> {
        let device = self.device;
        let loader = match split {
            Split::Val => self.loaders.val.as_mut(),
            Split::Test => self.loaders.test.as_mut(),
        }
        .ok_or_else(|| {
            EngineError::new(format!(
                "evaluation needs data.{}",
                if split == Split::Val { "val" } else { "test" }
            ))
        })?;
        loader.start_epoch(0, 0);
        let num_classes_hint = loader.dataset().num_classes();
        let dataset_len = loader.dataset().len();
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        let mut batches = 0;
        while let Some(batch) = loader.next_batch().map_err(engine_err)? {
            let x = batch.inputs.f_to_device(device).map_err(engine_err)?;
            let out = tch::no_grad(|| self.model.net.forward(&x, false)).map_err(engine_err)?;
            logits.push(out);
            labels.push(batch.labels);
            batches += 1;
        }
        if logits.is_empty() {
            return Ok(Predictions {
                num_classes: num_classes_hint,
                ..Predictions::default()
            });
        }
        let all = Tensor::f_cat(&logits, 0)
            .and_then(|t| t.f_to_kind(Kind::Float))
            .and_then(|t| t.f_to_device(Device::Cpu))
            .map_err(engine_err)?;
        let labels = Tensor::f_cat(&labels, 0).map_err(engine_err)?;
        let (all, labels) = match &self.parallel {
            Some(p) => p.gather(&all, &labels, dataset_len)?,
            None => (all, labels),
        };
        let num_classes = all.size().get(1).copied().unwrap_or(0) as usize;
        let scores =
            Vec::<f32>::try_from(all.f_flatten(0, -1).map_err(engine_err)?).map_err(engine_err)?;
        let labels = Vec::<i64>::try_from(labels).map_err(engine_err)?;
        Ok(Predictions {
            scores,
            num_classes,
            labels,
            batches,
        })
    }

    fn save_checkpoint(
        &mut self,
        path: &Path,
        meta: &Value,
        with_optimizer: bool,
    ) -> Result<(), EngineError> {
        let store = &self.model.store;
        let mut tensors: Vec<(String, Tensor)> = store
            .state_dict()
            .into_iter()
            .map(|(n, t)| (n.to_string(), t.shallow_clone()))
            .collect();
        let mut header = json!({
            "version": 1,
            "model": self.model.kind,
            "meta": meta,
        });
        if with_optimizer {
            let s = &self.setup;
            for (name, t) in s.optimizer.state_tensors(store.params()) {
                tensors.push((format!("{OPTIMIZER_PREFIX}{name}"), t));
            }
            header["optimizer"] = json!({
                "type": s.optimizer.name(),
                "groups": s.groups.iter().map(group_json).collect::<Vec<_>>(),
                "state": s.optimizer.state_meta(store.params()),
            });
        }
        checkpoint::write(path, &tensors, &header).map_err(engine_err)
    }

    fn load_checkpoint(&mut self, path: &Path, with_optimizer: bool) -> Result<Value, EngineError> {
        let loaded = checkpoint::read(path).map_err(|e| {
            EngineError::new(format!("cannot read checkpoint {}: {e}", path.display()))
        })?;
        let from_pth = loaded.meta.get("pth") == Some(&Value::Bool(true));
        if with_optimizer && from_pth && loaded.torch_optimizer.is_none() {
            return Err(EngineError::new(format!(
                "{} is a PyTorch checkpoint without an optimizer state, so it cannot be resumed \
                 from; start from its weights with `load_from` instead",
                path.display()
            )));
        }
        let mut tensors = checkpoint::revise_keys(loaded.tensors);
        let store = &self.model.store;
        let mut missing = Vec::new();
        let mut mismatched = Vec::new();
        let mut matched = 0;
        for (name, t) in store.state_dict() {
            match tensors.remove(name) {
                None => missing.push(name.to_string()),
                Some(src) if src.size() != t.size() => mismatched.push(format!(
                    "{name}: checkpoint {:?}, model {:?}",
                    src.size(),
                    t.size()
                )),
                Some(src) => {
                    let mut dst = t.shallow_clone();
                    tch::no_grad(|| dst.f_copy_(&src)).map_err(engine_err)?;
                    matched += 1;
                }
            }
        }
        let unexpected: Vec<String> = tensors
            .keys()
            .filter(|k| !k.starts_with(OPTIMIZER_PREFIX))
            .cloned()
            .collect();
        // Resuming must be exact, so every difference is an error. Loading weights is
        // non-strict as MMCV's runner loads them (missing and unexpected keys are reported),
        // except that a shape mismatch, or nothing at all in common, is an error: MMCV only
        // warns, and the run then trains a model that silently started from scratch.
        let strict = with_optimizer;
        let differs = !missing.is_empty() || !unexpected.is_empty();
        if strict && differs || !mismatched.is_empty() || matched == 0 {
            let mut msg = format!(
                "{} does not fit this model ({})",
                path.display(),
                self.model.kind
            );
            let list = |v: &[String]| {
                v.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                    + if v.len() > 5 { ", ..." } else { "" }
            };
            if matched == 0 && mismatched.is_empty() {
                msg += "; none of its tensors has a name the model uses";
            }
            if !missing.is_empty() {
                msg += &format!("; missing: {}", list(&missing));
            }
            if !unexpected.is_empty() {
                msg += &format!("; unexpected: {}", list(&unexpected));
            }
            if !mismatched.is_empty() {
                msg += &format!("; shape mismatch: {}", list(&mismatched));
            }
            return Err(EngineError::new(msg));
        }
        if !strict {
            let mut meta = loaded.meta.get("meta").cloned().unwrap_or(Value::Null);
            if !missing.is_empty() || !unexpected.is_empty() {
                missing.sort();
                let mut unexpected = unexpected;
                unexpected.sort();
                if !meta.is_object() {
                    meta = json!({});
                }
                meta[LOAD_REPORT] = json!(mismatch_report(&missing, &unexpected));
            }
            return Ok(meta);
        }
        if let Some(torch) = &loaded.torch_optimizer {
            let meta = self.resume_torch(path, torch, loaded.meta.get("meta"))?;
            return Ok(meta);
        }
        if let Some(opt) = loaded.meta.get("optimizer") {
            let s = &mut self.setup;
            let ty = opt.get("type").and_then(Value::as_str).unwrap_or_default();
            if ty != s.optimizer.name() {
                return Err(EngineError::new(format!(
                    "{} holds {ty} state but the config uses {}",
                    path.display(),
                    s.optimizer.name()
                )));
            }
            let groups = opt
                .get("groups")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if groups.len() != s.groups.len() {
                return Err(EngineError::new(format!(
                    "{} has {} parameter groups but the optimizer has {}",
                    path.display(),
                    groups.len(),
                    s.groups.len()
                )));
            }
            for (g, saved) in s.groups.iter_mut().zip(&groups) {
                restore_group(g, saved);
            }
            let mut state: HashMap<String, Tensor> = tensors
                .into_iter()
                .filter_map(|(k, v)| k.strip_prefix(OPTIMIZER_PREFIX).map(|k| (k.to_string(), v)))
                .collect();
            s.optimizer
                .load_state(
                    self.model.store.params(),
                    &mut state,
                    opt.get("state").unwrap_or(&Value::Null),
                )
                .map_err(engine_err)?;
        }
        Ok(loaded.meta.get("meta").cloned().unwrap_or(Value::Null))
    }

    fn device_name(&self) -> String {
        device_name(self.device)
    }

    fn max_memory_mb(&self) -> Option<u64> {
        crate::memory::peak_bytes(self.device).map(|b| b >> 20)
    }

    fn grad_view(&self) -> Option<Box<dyn GradView>> {
        let entries = self
            .model
            .store
            .params()
            .iter()
            .filter(|p| p.requires_grad)
            .map(|p| (p.name.clone(), p.tensor.numel() as u64, p.tensor.grad()))
            .collect();
        Some(Box::new(Grads(entries)))
    }
}

/// What a forward pass gives the step.
struct Forward {
    loss: Tensor,
    acc: Option<Tensor>,
    /// A self-computed loss's named parts, logged before `loss` as MMCV logs them.
    parts: Vec<(String, Tensor)>,
}

fn log_parts(parts: Vec<(String, Tensor)>) -> Result<Vec<(String, Scalar)>, EngineError> {
    // A part named `loss` is the total itself (MMCV overwrites it with the sum).
    parts
        .into_iter()
        .filter(|(k, _)| k != "loss")
        .map(|(k, v)| Ok((k, deferred(v.f_detach().map_err(engine_err)?))))
        .collect()
}

/// What MMCV's `load_state_dict` logs when a non-strict load leaves keys out, in its words.
fn mismatch_report(missing: &[String], unexpected: &[String]) -> String {
    let mut parts = vec!["The model and loaded state dict do not match exactly\n".to_string()];
    if !unexpected.is_empty() {
        parts.push(format!(
            "unexpected key in source state_dict: {}\n",
            unexpected.join(", ")
        ));
    }
    if !missing.is_empty() {
        parts.push(format!(
            "missing keys in source state_dict: {}\n",
            missing.join(", ")
        ));
    }
    parts.join("\n")
}

fn group_json(g: &ParamGroup) -> Value {
    let (momentum, betas) = match g.momentum {
        Momentum::None => (Value::Null, Value::Null),
        Momentum::Momentum(m) => (json!(m), Value::Null),
        Momentum::Betas(b1, b2) => (Value::Null, json!([b1, b2])),
    };
    json!({
        "lr": g.lr,
        "momentum": momentum,
        "betas": betas,
        "weight_decay": g.weight_decay,
        "params": g.params,
    })
}

fn restore_group(g: &mut ParamGroup, saved: &Value) {
    let f = |k: &str| saved.get(k).and_then(Value::as_f64);
    if let Some(lr) = f("lr") {
        g.lr = lr;
    }
    if let Some(wd) = f("weight_decay") {
        g.weight_decay = wd;
    }
    match (
        &mut g.momentum,
        f("momentum"),
        saved.get("betas").and_then(Value::as_array),
    ) {
        (Momentum::Momentum(m), Some(v), _) => *m = v,
        (Momentum::Betas(b1, b2), _, Some(b)) if b.len() == 2 => {
            *b1 = b[0].as_f64().unwrap_or(*b1);
            *b2 = b[1].as_f64().unwrap_or(*b2);
        }
        _ => {}
    }
}
