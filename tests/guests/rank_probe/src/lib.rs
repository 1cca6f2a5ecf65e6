//! `RankProbe`, against `weft:plugin@0.2.0` (the repository's own WIT, not an SDK): says its
//! rank before the run (rank 0 at INFO, the others at WARNING, which they print), and at
//! iteration `stop_iter` on rank `stop_rank` asks the run to stop, which every rank must then
//! do at the same iteration; at `save_iter` on that rank it asks for a checkpoint, which rank 0
//! must write.

wit_bindgen::generate!({ path: "../../../wit/since_v0.2.0", world: "hook" });

use exports::weft::plugin::hooks::Guest;
use weft::plugin::ranks;
use weft::plugin::runner::{self, RunState};
use weft::plugin::types::{HookPoint, LogLevel};

struct Probe;

/// (rank, iteration) of the stop request, from the config.
static STOP: std::sync::OnceLock<Option<(u32, u64)>> = std::sync::OnceLock::new();
/// The iteration of the checkpoint request (on the stop rank).
static SAVE: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();

/// `{"stop_rank": R, "stop_iter": I}` (both optional), read without a JSON library.
fn number(config: &str, key: &str) -> Option<u64> {
    let at = config.find(&format!("\"{key}\""))?;
    let rest = config[at..].split_once(':')?.1.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

impl Guest for Probe {
    fn type_name() -> String {
        "RankProbe".into()
    }

    fn init(config_json: String) -> Result<Vec<HookPoint>, String> {
        let stop = number(&config_json, "stop_rank")
            .zip(number(&config_json, "stop_iter"))
            .map(|(r, i)| (r as u32, i));
        let _ = STOP.set(stop);
        let _ = SAVE.set(number(&config_json, "save_iter"));
        Ok(vec![HookPoint::BeforeRun, HookPoint::AfterTrainIter])
    }

    fn before_run(_: &RunState) -> Result<(), String> {
        let (rank, world, local) = (ranks::rank(), ranks::world_size(), ranks::local_rank());
        let level = if rank == 0 {
            LogLevel::Info
        } else {
            LogLevel::Warning
        };
        runner::log(
            level,
            &format!("rank {rank} of {world} (local rank {local})"),
        );
        Ok(())
    }

    fn after_train_iter(state: &RunState) -> Result<(), String> {
        if let Some(&Some((rank, iter))) = STOP.get()
            && ranks::rank() == rank
        {
            if state.iter() == iter {
                runner::request_stop(&format!("rank {rank} stops at iteration {iter}"));
            }
            if SAVE.get().copied().flatten() == Some(state.iter()) {
                runner::request_checkpoint();
            }
        }
        Ok(())
    }

    fn after_run(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn before_train_epoch(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn after_train_epoch(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn before_val_epoch(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn after_val_epoch(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn before_train_iter(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn before_val_iter(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn after_val_iter(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn before_epoch(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn after_epoch(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn after_backward(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn before_iter(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn after_iter(_: &RunState) -> Result<(), String> {
        Ok(())
    }
    fn save_state() -> Result<Option<String>, String> {
        Ok(None)
    }
    fn load_state(_: String) -> Result<(), String> {
        Ok(())
    }
}

export!(Probe);
