//! Crash points for the durability tests (`tests/all/checkpoint_atomicity.rs`,
//! docs/reliability.md): with `WEFT_TEST_CRASH_AT=N.S` in the environment the process aborts,
//! as a kill would (no unwinding, no flushing), when the N-th checkpoint write of the process
//! reaches stage S. Without it (always, outside those tests) a check is one atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The stages of a checkpoint write, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    /// The temporary file exists, empty.
    TempCreated = 1,
    /// Half of its bytes are written.
    HalfWritten = 2,
    /// Every byte is written, not yet synced.
    Written = 3,
    /// The file is synced, not yet renamed into place.
    Synced = 4,
    /// It is renamed into place; the directory is not yet synced.
    Renamed = 5,
    /// Every file of the hook point is written; `latest` has not moved.
    FilesDone = 6,
    /// `latest`'s replacement link exists, not yet renamed over it.
    LatestTemp = 7,
    /// `latest` points at the new file; old checkpoints are not yet removed.
    LatestLinked = 8,
    /// The first old checkpoint is removed, the others not yet.
    Removing = 9,
}

/// The number of stages (the test crashes at each).
pub const STAGES: u8 = 9;

static WRITES: AtomicU64 = AtomicU64::new(0);

fn target() -> Option<(u64, u8)> {
    static AT: OnceLock<Option<(u64, u8)>> = OnceLock::new();
    *AT.get_or_init(|| {
        let v = std::env::var("WEFT_TEST_CRASH_AT").ok()?;
        let (n, s) = v.split_once('.')?;
        Some((n.parse().ok()?, s.parse().ok()?))
    })
}

/// A checkpoint write begins.
pub fn begin_write() {
    if target().is_some() {
        WRITES.fetch_add(1, Ordering::Relaxed);
    }
}

/// The current write reached `stage`: abort if that is where the test asked.
pub fn at(stage: Stage) {
    if let Some((n, s)) = target()
        && WRITES.load(Ordering::Relaxed) == n
        && s == stage as u8
    {
        std::process::abort();
    }
}
