//! The `ranks` interface of `weft:plugin@0.2.0`: this process's place in a data-parallel run.

use super::weft::plugin::ranks;
use crate::state::HostState;

impl ranks::Host for HostState {
    fn rank(&mut self) -> wasmtime::Result<u32> {
        Ok(crate::ranks::get().rank)
    }

    fn world_size(&mut self) -> wasmtime::Result<u32> {
        Ok(crate::ranks::get().world_size)
    }

    fn local_rank(&mut self) -> wasmtime::Result<u32> {
        Ok(crate::ranks::get().local_rank)
    }
}
