//! Gradient averaging as DDP does it: PyTorch's own `c10d::Reducer`. Built once over the
//! trainable parameters, it hooks each one's gradient accumulator; armed before a backward
//! ([`GradReducer::prepare`]), it all-reduces each bucket of gradients (at most
//! `bucket_cap_mb`, DDP's 25 MB by default, the first 1 MiB) as soon as backward has produced
//! it, so communication overlaps the rest of backward, and when backward returns the gradients
//! are the ranks' mean. A backward it was not armed for (a micro-step of gradient
//! accumulation, DDP's `no_sync`) only accumulates.
#![allow(
    unsafe_code,
    reason = "drives c10d's Reducer through the shim with tensors it keeps alive"
)]

use std::sync::Arc;

use tch::Tensor;

use crate::DistError;
use crate::group::{ProcessGroup, ReduceOp, pointers};
use crate::shim::{self, RawReducer};

/// DDP's default bucket size.
pub const DEFAULT_BUCKET_CAP_MB: f64 = 25.0;

/// Averages gradients across the ranks of a group.
pub struct GradReducer {
    group: Arc<ProcessGroup>,
    raw: *mut RawReducer,
    // The parameters the reducer hooks (handles that keep them alive as long as it is), and
    // their names for the error a parameter without a gradient gets.
    params: Vec<Tensor>,
    names: Vec<String>,
    find_unused: bool,
    armed: bool,
}

// SAFETY: the reducer is used from one thread at a time (`&mut self`); c10d objects are not
// tied to the thread that made them.
unsafe impl Send for GradReducer {}

impl Drop for GradReducer {
    fn drop(&mut self) {
        // SAFETY: made by weft_dist_reducer_new and freed once; the shim swallows what the
        // destructor throws.
        unsafe { shim::weft_dist_reducer_free(self.raw) };
    }
}

impl GradReducer {
    /// A reducer over `params` (the trainable parameters in the model's order, `names`
    /// alike); `find_unused` is MMCV's `find_unused_parameters`.
    pub fn new(
        group: Arc<ProcessGroup>,
        params: &[Tensor],
        names: Vec<String>,
        find_unused: bool,
        bucket_cap_mb: f64,
    ) -> Result<GradReducer, DistError> {
        let handles: Vec<Tensor> = params.iter().map(Tensor::shallow_clone).collect();
        let ptrs = pointers(&handles);
        let bytes = (bucket_cap_mb * 1024.0 * 1024.0).max(1.0) as i64;
        let mut raw = std::ptr::null_mut();
        // SAFETY: the tensors are live for the call (and kept by the reducer and `handles`);
        // `raw` is written only on success.
        group.with(|g| {
            shim::check(unsafe {
                shim::weft_dist_reducer_new(
                    g,
                    ptrs.as_ptr(),
                    ptrs.len(),
                    bytes,
                    i32::from(find_unused),
                    &mut raw,
                )
            })
        })?;
        Ok(GradReducer {
            group,
            raw,
            params: handles,
            names,
            find_unused,
            armed: false,
        })
    }

    /// The group.
    pub fn group(&self) -> &Arc<ProcessGroup> {
        &self.group
    }

    /// Arms the reducer for the next backward, whose gradients are then averaged as they are
    /// produced; `loss` is the tensor that backward starts from (searched for unused
    /// parameters under `find_unused`).
    pub fn prepare(&mut self, loss: &Tensor) -> Result<(), DistError> {
        let mut loss = loss.shallow_clone();
        // SAFETY: the reducer and the loss are live for the call.
        shim::check(unsafe { shim::weft_dist_reducer_prepare(self.raw, loss.as_mut_ptr()) })?;
        self.armed = true;
        Ok(())
    }

    /// Whether [`GradReducer::prepare`] armed the next backward.
    pub fn armed(&self) -> bool {
        self.armed
    }

    /// After the armed backward: checks that it averaged every gradient (without
    /// `find_unused`, a parameter that took no part in the loss is an error, as in DDP), and
    /// averages `extra` (the step's logged values) across the ranks.
    pub fn finish(&mut self, extra: Option<&Tensor>) -> Result<(), DistError> {
        if !std::mem::take(&mut self.armed) {
            return Err(DistError::Step(
                "gradients were to be averaged after a backward the reducer was not armed for"
                    .into(),
            ));
        }
        if !self.find_unused
            && let Some(i) = self.params.iter().position(|p| !p.grad().defined())
        {
            return Err(DistError::Step(format!(
                "parameter `{}` received no gradient on rank {}; DDP needs every parameter to take part in the loss. \
                 Set find_unused_parameters = true in the config if some parameters are unused",
                self.names.get(i).map_or("?", String::as_str),
                self.group.rank()
            )));
        }
        if let Some(extra) = extra {
            self.group
                .allreduce(std::slice::from_ref(extra), ReduceOp::Sum)?;
            let mut extra = extra.shallow_clone();
            let _ = extra.divide_scalar_(self.group.world_size() as f64);
        }
        Ok(())
    }
}
