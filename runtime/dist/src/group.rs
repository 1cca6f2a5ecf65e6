//! A c10d process group (Gloo on CPU tensors, NCCL on CUDA tensors), as blocking calls.
#![allow(
    unsafe_code,
    reason = "calls into the c10d shim with tensors kept alive by the caller"
)]

use std::ffi::CString;
use std::sync::Mutex;

use tch::{Kind, Tensor};
use torch_sys::C_tensor;

use crate::DistError;
use crate::rendezvous::{Backend, Rendezvous};
use crate::shim::{self, RawGroup};

/// How an allreduce combines the ranks' values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    /// Elementwise sum.
    Sum,
    /// Elementwise maximum.
    Max,
    /// Elementwise minimum.
    Min,
}

/// This process's membership of a c10d group.
pub struct ProcessGroup {
    // c10d's collectives may be issued from one thread at a time per group: the lock makes
    // that hold for callers that share the group (the engine and the runner's agreement).
    raw: Mutex<Handle>,
    rank: usize,
    world_size: usize,
    local_rank: usize,
}

struct Handle(*mut RawGroup);

// SAFETY: the handle is only used under the mutex; c10d objects are not tied to a thread.
unsafe impl Send for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from weft_dist_connect and is closed once.
        unsafe { shim::weft_dist_close(self.0) };
    }
}

impl ProcessGroup {
    /// Meets the other ranks at the rendezvous and forms the group; waits up to the
    /// rendezvous timeout for all of them.
    pub fn connect(rdv: &Rendezvous) -> Result<ProcessGroup, DistError> {
        let host = CString::new(rdv.master_addr.as_str())
            .map_err(|_| DistError::Launch("MASTER_ADDR contains a NUL byte".into()))?;
        let prefix = CString::new(rdv.prefix.as_str())
            .map_err(|_| DistError::Launch("the store prefix contains a NUL byte".into()))?;
        // NCCL ranks bind the GPU of their local rank (the device `weft train` gives them).
        let nccl_device = match rdv.backend {
            Backend::Gloo => -1,
            Backend::Nccl if cfg!(weft_nccl) => rdv.local_rank as i32,
            Backend::Nccl => {
                return Err(DistError::Launch(
                    "dist_params.backend = \"nccl\" needs a build of weft against a CUDA libtorch with NCCL's headers, which this build lacks; use \"gloo\" (CPU tensors)".into(),
                ));
            }
        };
        let mut raw = std::ptr::null_mut();
        // SAFETY: the strings outlive the call; `raw` is written only on success.
        let message = unsafe {
            shim::weft_dist_connect(
                host.as_ptr(),
                i32::from(rdv.master_port),
                rdv.rank as i32,
                rdv.world_size as i32,
                i32::from(rdv.host_store),
                rdv.timeout.as_millis() as i64,
                prefix.as_ptr(),
                nccl_device,
                &mut raw,
            )
        };
        shim::check(message).map_err(|e| {
            DistError::C10d(format!(
                "rank {} cannot join the group at {}:{}: {e}",
                rdv.rank, rdv.master_addr, rdv.master_port
            ))
        })?;
        Ok(ProcessGroup {
            raw: Mutex::new(Handle(raw)),
            rank: rdv.rank,
            world_size: rdv.world_size,
            local_rank: rdv.local_rank,
        })
    }

    /// Whether this build can form NCCL groups (a CUDA libtorch and NCCL's headers at build
    /// time); a machine without GPUs is refused when the group forms.
    pub fn nccl_built() -> bool {
        cfg!(weft_nccl)
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub fn world_size(&self) -> usize {
        self.world_size
    }

    /// The rank among the ranks of this machine.
    pub fn local_rank(&self) -> usize {
        self.local_rank
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(*mut RawGroup) -> T) -> T {
        let guard = self.raw.lock().unwrap_or_else(|p| p.into_inner());
        f(guard.0)
    }

    /// Reduces every tensor (on [`ProcessGroup::device`]) in place across the ranks (each its
    /// own collective, all in flight together).
    pub fn allreduce(&self, tensors: &[Tensor], op: ReduceOp) -> Result<(), DistError> {
        self.reduce(tensors, op, Lane::Data)
    }

    /// [`ProcessGroup::allreduce`] of small CPU tensors on the control group: for what the
    /// host decides (stops, which parameters were used), so no GPU work is waited for.
    pub fn control_allreduce(&self, tensors: &[Tensor], op: ReduceOp) -> Result<(), DistError> {
        self.reduce(tensors, op, Lane::Control)
    }

    fn reduce(&self, tensors: &[Tensor], op: ReduceOp, lane: Lane) -> Result<(), DistError> {
        let ptrs = pointers(tensors);
        let op = match op {
            ReduceOp::Sum => 0,
            ReduceOp::Max => 1,
            ReduceOp::Min => 2,
        };
        // SAFETY: the pointers come from live tensors borrowed for the call.
        self.with(|g| {
            shim::check(unsafe {
                shim::weft_dist_allreduce(g, ptrs.as_ptr(), ptrs.len(), op, lane as i32)
            })
        })
    }

    /// Every tensor takes rank `root`'s values.
    pub fn broadcast(&self, tensors: &[Tensor], root: usize) -> Result<(), DistError> {
        let ptrs = pointers(tensors);
        // SAFETY: as in `allreduce`.
        self.with(|g| {
            shim::check(unsafe {
                shim::weft_dist_broadcast(g, ptrs.as_ptr(), ptrs.len(), root as i32)
            })
        })
    }

    /// Every rank's `input` (the same shape and dtype on every rank), in rank order.
    pub fn allgather(&self, input: &Tensor) -> Result<Vec<Tensor>, DistError> {
        self.gather(input, Lane::Data)
    }

    fn gather(&self, input: &Tensor, lane: Lane) -> Result<Vec<Tensor>, DistError> {
        let outputs: Vec<Tensor> = (0..self.world_size).map(|_| input.empty_like()).collect();
        let ptrs = pointers(&outputs);
        let mut input = input.shallow_clone();
        // SAFETY: as in `allreduce`; the outputs are written by the collective.
        self.with(|g| {
            shim::check(unsafe {
                shim::weft_dist_allgather(
                    g,
                    input.as_mut_ptr(),
                    ptrs.as_ptr(),
                    ptrs.len(),
                    lane as i32,
                )
            })
        })?;
        Ok(outputs)
    }

    /// Returns once every rank has called it.
    pub fn barrier(&self) -> Result<(), DistError> {
        // SAFETY: the handle is live for the call.
        self.with(|g| shim::check(unsafe { shim::weft_dist_barrier(g) }))
    }

    /// Bitwise OR of one word over the ranks.
    pub fn any_bits(&self, bits: u32) -> Result<u32, DistError> {
        let flags: Vec<i64> = (0..32).map(|i| i64::from((bits >> i) & 1)).collect();
        let t = Tensor::from_slice(&flags);
        self.control_allreduce(std::slice::from_ref(&t), ReduceOp::Max)?;
        let reduced: Vec<i64> =
            Vec::try_from(&t).map_err(|e: tch::TchError| DistError::C10d(e.to_string()))?;
        Ok(reduced
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, v)| acc | (u32::from(*v != 0) << i)))
    }

    /// Checks that every rank holds the same `digest` (of its config and plugins); names the
    /// ranks that differ from rank 0.
    pub fn check_same(&self, what: &str, digest: u64) -> Result<(), DistError> {
        let t = Tensor::from_slice(&[digest as i64]).to_kind(Kind::Int64);
        let all = self.gather(&t, Lane::Control)?;
        let values: Vec<i64> = all.iter().map(|t| t.int64_value(&[0])).collect();
        let differing: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != values[0])
            .map(|(r, _)| r.to_string())
            .collect();
        if differing.is_empty() {
            Ok(())
        } else {
            Err(DistError::Launch(format!(
                "rank(s) {} have a different {what} than rank 0; every rank must run the same",
                differing.join(", ")
            )))
        }
    }
}

impl weft_core::Collective for ProcessGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world_size
    }

    fn local_rank(&self) -> usize {
        self.local_rank
    }

    fn any(&self, bits: u32) -> Result<u32, String> {
        self.any_bits(bits).map_err(|e| e.to_string())
    }
}

/// Which of the shim's groups a collective runs on (the shim's `control` flag).
#[derive(Clone, Copy)]
enum Lane {
    Data = 0,
    Control = 1,
}

/// Pointers to the tensors, with the shallow handles that keep them valid.
pub(crate) struct Pointers {
    _owned: Vec<Tensor>,
    ptrs: Vec<*mut C_tensor>,
}

impl Pointers {
    pub(crate) fn as_ptr(&self) -> *const *mut C_tensor {
        self.ptrs.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.ptrs.len()
    }
}

pub(crate) fn pointers(tensors: &[Tensor]) -> Pointers {
    let mut owned: Vec<Tensor> = tensors.iter().map(Tensor::shallow_clone).collect();
    let ptrs = owned.iter_mut().map(Tensor::as_mut_ptr).collect();
    Pointers {
        _owned: owned,
        ptrs,
    }
}
