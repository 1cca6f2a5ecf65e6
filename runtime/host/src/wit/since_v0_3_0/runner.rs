//! The `runner` interface of `weft:plugin@0.3.0`: the run-state reads as free functions (valid
//! only during a hook call, as the borrowed handle was), the requests, and `fail`.

use super::weft::plugin::runner;
use super::weft::plugin::types::{HookPoint, LogLevel, ParamStat, Phase};
use super::{level_of, point_of};
use crate::requests::Failed;
use crate::state::HostState;

impl runner::Host for HostState {
    run_state_reads!();

    runner_requests!();

    fn fail(&mut self, message: String) -> wasmtime::Result<()> {
        // An error, so that the guest stops where it failed; the message is escaped and
        // bounded where it is shown, as a returned `err` is.
        Err(wasmtime::Error::new(Failed(message)))
    }
}

impl super::weft::plugin::types::Host for HostState {}
