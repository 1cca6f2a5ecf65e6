//! `RankProbe`, a hook of the Rust SDK (which builds hooks against `weft:plugin@0.2.0`): says
//! its rank before the run (rank 0 at INFO, the others at WARNING, which they print), and at
//! iteration `stop_iter` on rank `stop_rank` asks the run to stop, which every rank must then
//! do at the same iteration; at `save_iter` on that rank it asks for a checkpoint, which rank 0
//! must write.

use serde::Deserialize;
use weft_guest::hook::{
    Hook, HookPoint, LogLevel, RunState, local_rank, log, rank, register_hook, request_checkpoint,
    request_stop, world_size,
};

#[derive(Deserialize)]
struct RankProbe {
    stop_rank: Option<u32>,
    stop_iter: Option<u64>,
    save_iter: Option<u64>,
}

impl Hook for RankProbe {
    const TYPE_NAME: &'static str = "RankProbe";

    fn new(config: serde_json::Value) -> Result<Self, String> {
        weft_guest::config(config)
    }

    fn points(&self) -> Vec<HookPoint> {
        vec![HookPoint::BeforeRun, HookPoint::AfterTrainIter]
    }

    fn before_run(&mut self, _s: &RunState) -> Result<(), String> {
        let (rank, world, local) = (rank(), world_size(), local_rank());
        let level = if rank == 0 {
            LogLevel::Info
        } else {
            LogLevel::Warning
        };
        log(
            level,
            &format!("rank {rank} of {world} (local rank {local})"),
        );
        Ok(())
    }

    fn after_train_iter(&mut self, state: &RunState) -> Result<(), String> {
        if self.stop_rank != Some(rank()) {
            return Ok(());
        }
        if let Some(iter) = self.stop_iter
            && state.iter() == iter
        {
            request_stop(&format!("rank {} stops at iteration {iter}", rank()));
        }
        if self.save_iter == Some(state.iter()) {
            request_checkpoint();
        }
        Ok(())
    }
}

register_hook!(RankProbe);
