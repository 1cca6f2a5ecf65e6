//! This process's place in a data-parallel run, as plugins read it (`weft:plugin/ranks`).
//! A process-wide fact, set once before plugins load (the launcher's environment decides it,
//! before the ranks have even met), like libtorch's process-wide settings.

use std::sync::OnceLock;

/// Rank, number of ranks and rank on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranks {
    /// This process's rank.
    pub rank: u32,
    /// The number of ranks.
    pub world_size: u32,
    /// The rank among this machine's ranks.
    pub local_rank: u32,
}

static RANKS: OnceLock<Ranks> = OnceLock::new();

/// Sets this process's place; the first call wins (a process is one rank for its lifetime).
pub fn set(ranks: Ranks) {
    let _ = RANKS.set(ranks);
}

/// This process's place: rank 0 of 1 unless [`set`] said otherwise.
pub fn get() -> Ranks {
    RANKS.get().copied().unwrap_or(Ranks {
        rank: 0,
        world_size: 1,
        local_rank: 0,
    })
}
