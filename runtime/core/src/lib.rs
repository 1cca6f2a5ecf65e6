//! # weft-core: the training loop with MMCV 1.x semantics
//!
//! This crate runs training the way MMCV's runners do: the same hook points, counters,
//! priorities, schedules and log formats, checked against recordings of MMCV 1.7.2. It knows
//! nothing about tensors or WebAssembly: the model, optimizer and data sit behind the
//! [`Engine`] trait (implemented on libtorch by `weft-nn`), and plugins are just more
//! [`Hook`]s (implemented on wasmtime by `weft-host`). So the loop is tested with plain
//! numbers and the schedules without any model.
//!
//! Types to read first:
//! - [`Runner`]: the epoch- and iteration-based loops, hook dispatch, checkpoint writes.
//! - [`Hook`] and [`HookSet`]: the hook trait with MMCV's points and the priority order.
//! - [`RunContext`]: what hooks see (counters, log buffer, meta, the engine).
//! - [`Engine`]: the tensor side.
//! - [`build`]: from a config to a runner plan and the built-in hooks.

pub mod action;
pub mod build;
mod clock;
mod context;
pub mod crash;
pub mod dry;
mod engine;
mod error;
mod hook;
mod hook_set;
pub mod hooks;
mod log_buffer;
pub mod metrics;
pub mod mlruns;
pub mod paramwise;
pub mod plugin;
mod priority;
pub mod pyfmt;
mod run_log;
mod runner;
pub mod schedule;
mod stage;
pub mod tfevents;
mod world;

pub use action::{Action, SaveRequest};
pub use clock::{Clock, SteppingClock, SystemClock};
pub use context::{RunContext, RunnerKind};
pub use engine::{
    DeviceValue, Engine, LOAD_REPORT, LoaderPosition, Momentum, ParamGroup, Predictions, Scalar,
    Split, StepOutputs,
};
pub use error::{EngineError, HookError, HookResult, RunError, RunPoint};
pub use hook::Hook;
pub use hook_set::{HookEntry, HookSet};
pub use log_buffer::{LogBuffer, LogValue};
pub use priority::Priority;
pub use run_log::{ConsolePrinter, Level, RunLog};
pub use runner::{ResumePoint, RunOutcome, Runner, TraceEntry};
pub use stage::{Dispatch, Stage, StageSet};
pub use world::{Collective, World, requests};

/// The file name `latest` checkpoints are linked as.
pub use runner::LATEST;
