//! `weft dist-train`: the local ranks of a data-parallel run.

use anyhow::Result;
use weft_dist::launch::{LaunchOutcome, LaunchSpec, launch};

/// Starts the ranks and waits; returns the exit code (the failed rank's, if one failed).
pub fn run(spec: LaunchSpec) -> Result<i32> {
    // Ctrl-C reaches every rank from the terminal; each finishes its iteration and rank 0
    // saves. The launcher waits for them instead of leaving first.
    let _ = ctrlc::set_handler(|| {});
    match launch(&spec)? {
        LaunchOutcome::Success => Ok(0),
        LaunchOutcome::Failed { rank, code, how } => {
            eprintln!(
                "weft dist-train: rank {rank} {how}; the other ranks were stopped (see rank {rank}'s messages above)"
            );
            Ok(code)
        }
    }
}
