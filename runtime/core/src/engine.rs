//! The boundary between the loop and the tensors.
//!
//! The runner and every hook in this crate drive training through [`Engine`]; `weft-nn`
//! implements it on libtorch, and tests implement it with plain numbers. Nothing here forces a
//! device synchronisation: step outputs are [`Scalar`]s that are read only when someone asks.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use weft_config::schema::Phase;

use crate::error::EngineError;

/// A value produced on the device whose host copy is fetched on first use.
pub trait DeviceValue: Send + Sync {
    /// Copies the value to the host (may wait for the device).
    fn fetch(&self) -> f64;
}

/// A scalar that is either known on the host or still on the device.
#[derive(Clone)]
pub enum Scalar {
    /// Known.
    Host(f64),
    /// Pending on the device; fetched once, then cached.
    Device(Arc<Deferred>),
}

/// A device value with its cached host copy.
pub struct Deferred {
    source: Box<dyn DeviceValue>,
    cached: OnceLock<f64>,
}

impl Scalar {
    /// Wraps a device value.
    pub fn deferred(source: impl DeviceValue + 'static) -> Scalar {
        Scalar::Device(Arc::new(Deferred {
            source: Box::new(source),
            cached: OnceLock::new(),
        }))
    }

    /// The host value if it is known without waiting for the device (a value already
    /// fetched, by a logger for instance).
    pub fn cached(&self) -> Option<f64> {
        match self {
            Scalar::Host(v) => Some(*v),
            Scalar::Device(d) => d.cached.get().copied(),
        }
    }

    /// The host value (fetching it if needed).
    pub fn get(&self) -> f64 {
        match self {
            Scalar::Host(v) => *v,
            Scalar::Device(d) => *d.cached.get_or_init(|| d.source.fetch()),
        }
    }
}

impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar::Host(v)
    }
}

impl fmt::Debug for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Host(v) => write!(f, "{v}"),
            Scalar::Device(d) => match d.cached.get() {
                Some(v) => write!(f, "{v}"),
                None => f.write_str("<on device>"),
            },
        }
    }
}

/// What one train or val step returns (MMCV's `outputs` without the loss tensor, which stays
/// in the engine for the backward pass).
#[derive(Debug, Clone, Default)]
pub struct StepOutputs {
    /// Named scalars for the log buffer (`loss`, `loss_cls`, `top1_acc`, ...), in order.
    pub log_vars: Vec<(String, Scalar)>,
    /// Samples in the batch (the weight of these values in log averages).
    pub num_samples: usize,
}

/// The momentum-like hyperparameter of a group, as MMCV reads it: `momentum`, else `betas[0]`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Momentum {
    /// The optimizer has no momentum (`current_momentum` reports 0).
    #[default]
    None,
    /// A `momentum` option (SGD, RMSprop).
    Momentum(f64),
    /// Adam-style `betas = (beta1, beta2)`; `beta1` plays the role of momentum.
    Betas(f64, f64),
}

impl Momentum {
    /// The value MMCV's `current_momentum()` reports.
    pub fn value(&self) -> f64 {
        match self {
            Momentum::None => 0.0,
            Momentum::Momentum(m) => *m,
            Momentum::Betas(b1, _) => *b1,
        }
    }

    /// Whether there is anything to schedule.
    pub fn is_some(&self) -> bool {
        !matches!(self, Momentum::None)
    }

    /// Sets momentum (or `beta1`, keeping `beta2`).
    pub fn set(&mut self, value: f64) {
        match self {
            Momentum::None => {}
            Momentum::Momentum(m) => *m = value,
            Momentum::Betas(b1, _) => *b1 = value,
        }
    }
}

/// One optimizer parameter group: its parameters and its schedulable hyperparameters.
///
/// This is the one record of a group: optimizers read `lr`, `momentum` and `weight_decay`
/// from here at every step (nowhere else holds a copy), so hooks change them by writing here
/// (as MMCV hooks write `group['lr']`, through [`crate::Action::SetLr`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParamGroup {
    /// Learning rate used by the next step.
    pub lr: f64,
    /// Momentum or Adam's betas.
    pub momentum: Momentum,
    /// Weight decay.
    pub weight_decay: f64,
    /// Qualified names of the parameters in this group (for reports).
    pub params: Vec<String>,
    /// The same parameters as indices into the engine's parameter list.
    pub members: Vec<usize>,
    /// The options the group's constructor set itself (the rest are the optimizer's
    /// defaults), for `weft param-groups`.
    pub explicit: Vec<String>,
}

/// Class scores and labels of a whole evaluation split, on the host.
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    /// `scores[i * num_classes + c]`: score of class `c` for sample `i`.
    pub scores: Vec<f32>,
    /// Number of classes.
    pub num_classes: usize,
    /// Ground-truth label of each sample.
    pub labels: Vec<i64>,
    /// Batches the evaluation ran (MMCV logs `len(dataloader)` as the iteration).
    pub batches: usize,
}

/// Which split an evaluation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// `data.val`.
    Val,
    /// `data.test`.
    Test,
}

/// Where the data order stands, saved in checkpoints so that resume continues exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LoaderPosition {
    /// The loader's epoch (the shuffle seed).
    pub epoch: u64,
    /// Batches already taken in that epoch.
    pub batch: u64,
}

/// The key of the metadata [`Engine::load_checkpoint`] returns that holds, when a weights load
/// left names out, MMCV's text saying which (for the run's log, as a warning).
pub const LOAD_REPORT: &str = "load_report";

/// The model, optimizer and data behind a run.
pub trait Engine: Send {
    /// Batches per epoch of a phase's loader (0 if the phase has no data).
    fn loader_len(&self, phase: Phase) -> usize;

    /// Starts a pass over a phase's loader; the order depends on `epoch` and the seed only,
    /// and the first `skip` batches are passed over without being prepared.
    fn start_epoch(&mut self, phase: Phase, epoch: u64, skip: u64) -> Result<(), EngineError>;

    /// Makes the next batch current; `false` when the pass is over.
    fn next_batch(&mut self, phase: Phase) -> Result<bool, EngineError>;

    /// Forward pass and loss on the current batch, keeping the graph for [`Engine::backward`].
    /// `iter` seeds the randomness of this step (dropout), so a resumed run repeats it.
    fn train_step(&mut self, iter: u64) -> Result<StepOutputs, EngineError>;

    /// Loss on the current batch in eval mode under no-grad; never changes parameters.
    fn val_step(&mut self) -> Result<StepOutputs, EngineError>;

    /// Backpropagates the last train loss multiplied by `scale`.
    fn backward(&mut self, scale: f64) -> Result<(), EngineError>;

    /// Says that the next backward is the last of an optimizer step, so a data-parallel
    /// engine averages its gradients across the ranks while it runs (DDP's overlap of
    /// communication with backward); a backward not announced so only accumulates (DDP's
    /// `no_sync`). Nothing to do in one process.
    fn prepare_reduce(&mut self) -> Result<(), EngineError> {
        Ok(())
    }

    /// After the backward announced by [`Engine::prepare_reduce`]: makes the gradients those
    /// of the whole data-parallel batch (the ranks' mean) and averages the step's logged
    /// values. Nothing to do in one process.
    fn reduce_grads(&mut self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Clears the gradients.
    fn zero_grad(&mut self);

    /// The joint norm of all gradients (`norm_type` may be infinite).
    fn grad_norm(&mut self, norm_type: f64) -> Result<Scalar, EngineError>;

    /// `torch.nn.utils.clip_grad_norm_` over all parameters with gradients; returns the norm
    /// before clipping.
    fn clip_grad_norm(
        &mut self,
        max_norm: f64,
        norm_type: f64,
        error_if_nonfinite: bool,
    ) -> Result<Scalar, EngineError>;

    /// Multiplies every gradient by `factor`.
    fn scale_grads(&mut self, factor: f64) -> Result<(), EngineError>;

    /// Parameters that require grad but received none in the last backward pass, with shapes.
    fn unused_params(&self) -> Vec<(String, Vec<i64>)>;

    /// One optimizer step with the hyperparameters in [`Engine::param_groups`].
    fn optimizer_step(&mut self) -> Result<(), EngineError>;

    /// The optimizer's parameter groups.
    fn param_groups(&self) -> &[ParamGroup];

    /// The optimizer's parameter groups, for schedules and hooks to change.
    fn param_groups_mut(&mut self) -> &mut [ParamGroup];

    /// Runs the model over a split in eval mode and returns scores and labels.
    fn predict(&mut self, split: Split) -> Result<Predictions, EngineError>;

    /// Writes a checkpoint atomically (temporary file, fsync, rename).
    fn save_checkpoint(
        &mut self,
        path: &Path,
        meta: &serde_json::Value,
        with_optimizer: bool,
    ) -> Result<(), EngineError>;

    /// Resumes from a checkpoint (`with_optimizer`: weights, optimizer state, every name
    /// matching) or loads weights from one (MMCV's non-strict load: names the model lacks or
    /// the file lacks are left out and listed under [`LOAD_REPORT`] in the returned
    /// metadata); returns the checkpoint's metadata.
    fn load_checkpoint(
        &mut self,
        path: &Path,
        with_optimizer: bool,
    ) -> Result<serde_json::Value, EngineError>;

    /// A view of the current gradients for plugins (`after-backward`); `None` if the engine
    /// has no gradients to show.
    fn grad_view(&self) -> Option<Box<dyn crate::plugin::GradView>> {
        None
    }

    /// Peak device memory in MiB, where the device reports it (CUDA).
    fn max_memory_mb(&self) -> Option<u64> {
        None
    }

    /// The device, as text (`cpu`, `cuda:0`).
    fn device_name(&self) -> String;
}
