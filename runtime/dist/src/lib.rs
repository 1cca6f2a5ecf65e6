//! # weft-dist: data-parallel training on PyTorch's own c10d
//!
//! MMAction2 users run `torchrun` or `tools/dist_train.sh`; their ranks meet in a TCPStore and
//! talk through ProcessGroupGloo (or NCCL). weft's ranks do the same, through a small C++ shim
//! (`csrc/c10d.cpp`) over the c10d classes compiled into libtorch, so a weft rank and a Python
//! `torch.distributed` rank can share one group. This is the only crate that builds it.
//!
//! Types to read first:
//! - [`Rendezvous`]: where the ranks meet, read from torchrun's environment or given by
//!   `weft dist-train`.
//! - [`ProcessGroup`]: the group (allreduce, broadcast, allgather, barrier on tch tensors);
//!   it is also core's [`weft_core::Collective`], so the runner's ranks agree on stops.
//! - [`GradReducer`]: DDP's gradient averaging, in buckets, after the backward pass.
//! - [`launch`]: `weft dist-train`, starting and watching the ranks of one machine.

mod error;
mod group;
pub mod launch;
mod reducer;
mod rendezvous;
mod shim;

pub use error::DistError;
pub use group::{ProcessGroup, ReduceOp};
pub use reducer::{DEFAULT_BUCKET_CAP_MB, GradReducer};
pub use rendezvous::{Backend, Rendezvous};
