//! `weft train`: run a config.

use std::sync::atomic::Ordering;

use anyhow::Result;
use weft_core::RunOutcome;

use crate::session::{TrainOptions, prepare};

/// Exit code after Ctrl-C (128 + SIGINT), as shells report it.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Trains; returns the process exit code.
pub fn run(opts: &TrainOptions) -> Result<i32> {
    let mut session = prepare(opts)?;
    let flag = session.runner.ctx.interrupt_flag();
    // First Ctrl-C: finish the iteration and save; second: leave at once (no file is ever
    // left half-written: checkpoints are renamed into place).
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(EXIT_INTERRUPTED);
        }
        eprintln!(
            "weft: interrupted; finishing the current iteration and saving (Ctrl-C again to quit now)"
        );
    });
    let outcome = session.runner.run()?;
    Ok(match outcome {
        RunOutcome::Completed | RunOutcome::Stopped(_) => 0,
        RunOutcome::Interrupted(_) => EXIT_INTERRUPTED,
        // Said in the log already (a resumed run with nothing left to do).
        RunOutcome::AlreadyDone(_) => 0,
    })
}
