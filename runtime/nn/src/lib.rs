//! # weft-nn: the tensor side of weft on libtorch
//!
//! Everything that touches `tch` except data loading: models built from config with PyTorch's
//! parameter names and initialisation, optimizers with `torch.optim`'s update rules, gradient
//! clipping that never waits for the device, safetensors checkpoints written atomically, and
//! [`TorchEngine`], which implements `weft_core::Engine` over all of it.
//!
//! Types to read first: [`TorchEngine`], [`models::build_model`], [`optim::build_optimizer`],
//! [`store::ParamStore`].

pub mod checkpoint;
pub mod clip;
pub mod convert;
mod device;
mod engine;
mod grads;
pub mod init;
pub mod layers;
mod memory;
pub mod models;
pub mod optim;
pub mod parallel;
pub mod pth;
mod shim;
pub mod store;

pub use device::{
    Device, cuda_available, device_name, parse_device, set_deterministic, set_threads, threads,
};
pub use engine::{Loaders, TorchEngine};
