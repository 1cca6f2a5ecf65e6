//! The `runner` interface of `weft:plugin@0.1.0`: reads of the borrowed run state, and
//! requests that are checked when made and applied when the hook returns (both written once,
//! in `wit/runner.rs`, for every version).

use wasmtime::component::Resource;

use super::weft::plugin::runner;
use super::weft::plugin::types::{HookPoint, LogLevel, ParamStat, Phase};
use super::{level_of, point_of};
use crate::state::{HostState, RunState};

impl runner::HostRunState for HostState {
    run_state_reads!(_state: Resource<RunState>);

    fn drop(&mut self, _: Resource<RunState>) -> wasmtime::Result<()> {
        // The run state is the host's, created once per instance; a guest never owns it.
        Ok(())
    }
}

impl runner::Host for HostState {
    runner_requests!();
}

impl super::weft::plugin::types::Host for HostState {}
