//! # weft-host: WebAssembly plugins, sandboxed
//!
//! Plugins are WebAssembly components written against the `weft:plugin` WIT package
//! (`wit/`, one folder per version, served by one module per version, `src/wit/`) in any
//! language. This crate is the only one that names wasmtime:
//! it loads components listed in `custom_imports` (checking digests and WIT versions,
//! caching compiled code), runs each plugin instance in its own store with a memory cap, a
//! per-call deadline, optional fuel and an empty WASI context, and adapts the three plugin
//! kinds to the core's traits:
//!
//! - [`hook::WasmHook`] implements `weft_core::Hook` (a `custom_hooks` entry);
//! - [`constructor::WasmConstructor`] implements `weft_core::plugin::ExternalConstructor`;
//! - [`optimizer::WasmOptimizer`] implements `weft_core::plugin::ExternalOptimizer`, with
//!   tensors kept in the engine and reached through `weft_core::plugin::TensorRef`.
//!
//! Start at [`load_imports`], which turns `custom_imports` into registry entries.

pub mod budget;
mod cache;
pub mod component;
pub mod componentize;
pub mod constructor;
mod engine;
pub mod hook;
mod imports;
pub mod inspect;
mod limits;
pub mod optimizer;
mod output;
mod plugin;
pub mod profile;
pub mod ranks;
mod requests;
mod sandbox;
mod state;
mod tensors;
mod trace;
mod watchdog;
mod wit;

pub use component::World;
pub use engine::{Runtime, runtime};
pub use imports::{LoadedPlugins, load_imports};
pub use inspect::{inspect, open, open_with};
pub use limits::{Limits, OnError};
pub use plugin::{Plugin, PluginInfo};
pub use wit::SUPPORTED as WIT_VERSIONS;
