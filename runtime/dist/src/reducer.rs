//! Gradient averaging as DDP does it, after the backward pass: gradients packed into buckets
//! of at most `bucket_cap_mb` (DDP's 25 MB by default, last parameters first, as autograd
//! produces them), every bucket reduced at once, divided by the world size and copied back.
#![allow(
    unsafe_code,
    reason = "gives unused parameters a zero gradient through the shim"
)]

use std::sync::Arc;

use tch::{Kind, Tensor};

use crate::DistError;
use crate::group::{ProcessGroup, ReduceOp};
use crate::shim;

/// DDP's default bucket size.
pub const DEFAULT_BUCKET_CAP_MB: f64 = 25.0;

/// The bucket plan and its flat buffers, made on the first reduction.
struct Bucket {
    /// Indices into the parameter list, in the order packed.
    members: Vec<usize>,
    numels: Vec<i64>,
    flat: Tensor,
}

/// Averages gradients across the ranks of a group.
pub struct GradReducer {
    group: Arc<ProcessGroup>,
    find_unused: bool,
    cap_bytes: usize,
    buckets: Vec<Bucket>,
}

impl GradReducer {
    /// A reducer; `find_unused` is MMCV's `find_unused_parameters`.
    pub fn new(group: Arc<ProcessGroup>, find_unused: bool, bucket_cap_mb: f64) -> GradReducer {
        GradReducer {
            group,
            find_unused,
            cap_bytes: (bucket_cap_mb * 1024.0 * 1024.0) as usize,
            buckets: Vec::new(),
        }
    }

    /// The group.
    pub fn group(&self) -> &Arc<ProcessGroup> {
        &self.group
    }

    /// Replaces every gradient of `params` (the trainable parameters, in the model's order,
    /// `names` alike) by its mean over the ranks; `extra` (the step's logged values) is
    /// averaged in the same round. Parameters no rank used keep no gradient.
    pub fn average(
        &mut self,
        params: &[Tensor],
        names: &[String],
        extra: Option<&Tensor>,
    ) -> Result<(), DistError> {
        let mut used: Vec<bool> = params.iter().map(|p| p.grad().defined()).collect();
        if self.find_unused {
            let flags = Tensor::from_slice(&used.iter().map(|u| i64::from(*u)).collect::<Vec<_>>());
            self.group
                .control_allreduce(std::slice::from_ref(&flags), ReduceOp::Max)?;
            let global: Vec<i64> =
                Vec::try_from(&flags).map_err(|e: tch::TchError| DistError::C10d(e.to_string()))?;
            for (i, p) in params.iter().enumerate() {
                if global[i] != 0 && !used[i] {
                    let mut handle = p.shallow_clone();
                    // SAFETY: the tensor is live for the call.
                    shim::check(unsafe { shim::weft_dist_ensure_grad(handle.as_mut_ptr()) })?;
                    used[i] = true;
                }
            }
        } else if let Some(i) = used.iter().position(|u| !u) {
            return Err(DistError::Launch(format!(
                "parameter `{}` received no gradient on rank {}; DDP needs every parameter to take part in the loss. \
                 Set find_unused_parameters = true in the config if some parameters are unused",
                names.get(i).map_or("?", String::as_str),
                self.group.rank()
            )));
        }
        if self.buckets.is_empty() || self.plan_changed(&used) {
            self.buckets = self.plan(params, &used);
        }
        let mut reduced: Vec<Tensor> = Vec::with_capacity(self.buckets.len() + 1);
        for bucket in &self.buckets {
            let mut offset = 0;
            for (&i, &n) in bucket.members.iter().zip(&bucket.numels) {
                let mut dst = bucket.flat.narrow(0, offset, n);
                dst.copy_(&params[i].grad().view(-1));
                offset += n;
            }
            reduced.push(bucket.flat.shallow_clone());
        }
        reduced.extend(extra.map(Tensor::shallow_clone));
        self.group.allreduce(&reduced, ReduceOp::Sum)?;
        let world = self.group.world_size() as f64;
        for t in &mut reduced {
            let _ = t.divide_scalar_(world);
        }
        for bucket in &self.buckets {
            let mut offset = 0;
            for (&i, &n) in bucket.members.iter().zip(&bucket.numels) {
                let mut grad = params[i].grad();
                grad.copy_(&bucket.flat.narrow(0, offset, n).view_as(&grad));
                offset += n;
            }
        }
        Ok(())
    }

    fn plan_changed(&self, used: &[bool]) -> bool {
        let planned: usize = self.buckets.iter().map(|b| b.members.len()).sum();
        planned != used.iter().filter(|u| **u).count()
            || self
                .buckets
                .iter()
                .flat_map(|b| &b.members)
                .any(|&i| !used[i])
    }

    /// Buckets of the used parameters, last first (the order backward finishes them), one
    /// dtype per bucket.
    fn plan(&self, params: &[Tensor], used: &[bool]) -> Vec<Bucket> {
        let mut buckets: Vec<(Kind, Vec<usize>, usize)> = Vec::new();
        for i in (0..params.len()).rev().filter(|&i| used[i]) {
            let p = &params[i];
            let bytes = p.numel() * p.kind().elt_size_in_bytes();
            match buckets.last_mut() {
                Some((kind, members, size))
                    if *kind == p.kind() && *size + bytes <= self.cap_bytes.max(1) =>
                {
                    members.push(i);
                    *size += bytes;
                }
                _ => buckets.push((p.kind(), vec![i], bytes)),
            }
        }
        buckets
            .into_iter()
            .map(|(kind, members, _)| {
                let numels: Vec<i64> = members.iter().map(|&i| params[i].numel() as i64).collect();
                let total: i64 = numels.iter().sum();
                let flat = Tensor::zeros([total], (kind, params[members[0]].device()));
                Bucket {
                    members,
                    numels,
                    flat,
                }
            })
            .collect()
    }
}
