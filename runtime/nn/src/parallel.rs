//! The engine's data-parallel side, as MMCV's `MMDistributedDataParallel` runs a model: the
//! weights and buffers of rank 0 at the start, buffers again before every training forward
//! (`broadcast_buffers`), gradients averaged by c10d's Reducer during the last backward of a
//! step, the logged values averaged after it (MMCV's `_parse_losses` all-reduces them), and evaluation
//! results gathered from every rank's share back into the dataset's order.

use std::sync::Arc;

use tch::{Kind, Tensor};
use weft_core::EngineError;
use weft_dist::{GradReducer, ProcessGroup};

use crate::store::ParamStore;

/// What a data-parallel engine adds to a one-process one.
pub struct DataParallel {
    reducer: GradReducer,
    broadcast_buffers: bool,
    // Handles on the model's buffers, taken once: the store's tensors are fixed when the
    // group forms (checkpoint loads copy into them), so the step does not rebuild these.
    buffers: Vec<Tensor>,
    /// The current step's logged values, averaged after the step's last backward.
    logs: Option<Tensor>,
}

/// MMCV's `find_unused_parameters` and DDP's `broadcast_buffers`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParallelOptions {
    /// Parameters may receive no gradient on some steps or ranks.
    pub find_unused_parameters: bool,
    /// Rank 0's buffers (BatchNorm statistics) replace the others' before every forward.
    pub broadcast_buffers: bool,
    /// The gradient bucket size in MiB (DDP's `bucket_cap_mb`).
    pub bucket_cap_mb: f64,
}

impl Default for ParallelOptions {
    fn default() -> Self {
        ParallelOptions {
            find_unused_parameters: false,
            broadcast_buffers: true,
            bucket_cap_mb: weft_dist::DEFAULT_BUCKET_CAP_MB,
        }
    }
}

fn dist_err(e: weft_dist::DistError) -> EngineError {
    EngineError::new(e.to_string())
}

/// A failed collective of the training step, said as what it means for the run.
fn lost(group: &ProcessGroup, what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::new(format!(
        "rank {} of {}: {what} failed; another rank died, hung or left: {e}",
        group.rank(),
        group.world_size()
    ))
}

impl DataParallel {
    /// Joins a model to the group: every rank takes rank 0's parameters and buffers.
    pub fn new(
        group: Arc<ProcessGroup>,
        store: &ParamStore,
        options: ParallelOptions,
    ) -> Result<DataParallel, EngineError> {
        let state: Vec<Tensor> = store
            .params()
            .iter()
            .map(|p| p.tensor.shallow_clone())
            .chain(store.buffers().iter().map(|b| b.tensor.shallow_clone()))
            .collect();
        tch::no_grad(|| group.broadcast(&state, 0)).map_err(dist_err)?;
        let (trainable, names): (Vec<Tensor>, Vec<String>) = store
            .params()
            .iter()
            .filter(|p| p.requires_grad)
            .map(|p| (p.tensor.shallow_clone(), p.name.clone()))
            .unzip();
        let buffers = store
            .buffers()
            .iter()
            .map(|b| b.tensor.shallow_clone())
            .collect();
        let reducer = GradReducer::new(
            group,
            &trainable,
            names,
            options.find_unused_parameters,
            options.bucket_cap_mb,
        )
        .map_err(dist_err)?;
        Ok(DataParallel {
            buffers,
            reducer,
            broadcast_buffers: options.broadcast_buffers,
            logs: None,
        })
    }

    /// The group.
    pub fn group(&self) -> &Arc<ProcessGroup> {
        self.reducer.group()
    }

    /// Before a training forward: rank 0's buffers.
    pub fn before_forward(&self) -> Result<(), EngineError> {
        if !self.broadcast_buffers || self.buffers.is_empty() {
            return Ok(());
        }
        tch::no_grad(|| self.group().broadcast(&self.buffers, 0))
            .map_err(|e| lost(self.group(), "the broadcast of rank 0's buffers", e))
    }

    /// Packs a step's logged values into one tensor (no device sync) and returns views of
    /// it, which hold the averages once [`DataParallel::reduce`] has run.
    pub fn pack_logs(&mut self, values: &[Tensor]) -> Result<Vec<Tensor>, EngineError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let flat: Vec<Tensor> = values
            .iter()
            .map(|v| v.detach().to_kind(Kind::Double).reshape([1]))
            .collect();
        let packed = Tensor::f_cat(&flat, 0).map_err(|e| EngineError::new(e.to_string()))?;
        let views = (0..values.len() as i64).map(|i| packed.get(i)).collect();
        self.logs = Some(packed);
        Ok(views)
    }

    /// Before the backward of a step's last micro-batch, from `loss`: that backward averages
    /// the gradients bucket by bucket as it produces them.
    pub fn prepare(&mut self, loss: &Tensor) -> Result<(), EngineError> {
        self.reducer
            .prepare(loss)
            .map_err(|e| lost(self.group(), "arming the gradient reducer", e))
    }

    /// Whether the next backward averages the gradients ([`DataParallel::prepare`] ran).
    pub fn armed(&self) -> bool {
        self.reducer.armed()
    }

    /// What a failed backward that averaged gradients means: the collectives inside it wait
    /// for every rank, so a rank that died, hung or left fails it (after the group's timeout).
    pub fn backward_failed(&self, e: tch::TchError) -> EngineError {
        lost(
            self.group(),
            "the backward pass with the gradient allreduce",
            e,
        )
    }

    /// After that backward: checks every gradient was averaged and averages the step's
    /// logged values.
    pub fn reduce(&mut self) -> Result<(), EngineError> {
        let logs = self.logs.take();
        let result = tch::no_grad(|| self.reducer.finish(logs.as_ref()));
        result.map_err(|e| match e {
            // A parameter without a gradient is this rank's own finding, not a lost peer.
            weft_dist::DistError::Step(_) | weft_dist::DistError::Launch(_) => dist_err(e),
            weft_dist::DistError::C10d(_) => lost(self.group(), "the gradient allreduce", e),
        })
    }

    /// Every rank's evaluation results, interleaved back into the order of the dataset's
    /// `len` samples (the padding `DistributedSampler` added is cut off, as MMCV's
    /// `collect_results` does).
    pub fn gather(
        &self,
        scores: &Tensor,
        labels: &Tensor,
        len: usize,
    ) -> Result<(Tensor, Tensor), EngineError> {
        let group = self.group();
        let gather = |t: &Tensor| -> Result<Tensor, EngineError> {
            let parts = group
                .allgather(t)
                .map_err(|e| lost(group, "gathering the evaluation results", e))?;
            let stacked =
                Tensor::f_stack(&parts, 1).map_err(|e| EngineError::new(e.to_string()))?;
            // [n, world, ...] → rank r's i-th sample lands at i * world + r.
            let mut shape = stacked.size();
            let rows = shape.remove(0) * shape.remove(0);
            shape.insert(0, rows);
            Ok(stacked.reshape(&shape).narrow(0, 0, (len as i64).min(rows)))
        };
        Ok((gather(scores)?, gather(labels)?))
    }
}
