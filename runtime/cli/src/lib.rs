//! # weft: the command-line runner
//!
//! This crate is glue (as ripgrep's `core` is): it turns a config and command-line flags into
//! a [`session::Session`] (datasets, model, optimizer, hooks, runner) and renders results and
//! errors. The binary in `main.rs` only parses arguments and calls into here; tests build
//! sessions directly.

pub mod allocator;
pub mod commands;
pub mod plot;
pub mod plugins;
pub mod progress;
pub mod ranks;
pub mod session;
pub mod validate;
