//! Where this process stands among the ranks of a data-parallel run.
//!
//! Every rank runs the same loop over its own share of the data. Files (logs, checkpoints,
//! TensorBoard, MLflow) are written by rank 0 only, as MMCV's `master_only` does; decisions
//! that one rank may take alone (a hook's stop request, Ctrl-C, a plugin's evaluate or
//! checkpoint request) are agreed at the points where the loop checks for a stop, so every
//! rank leaves or evaluates at the same iteration. The collectives themselves live in
//! `weft-dist`; this crate sees them through [`Collective`].

use std::fmt;
use std::sync::Arc;

/// The ranks' means of agreeing (implemented on c10d by `weft-dist`).
pub trait Collective: Send + Sync {
    /// This process's rank.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn world_size(&self) -> usize;
    /// The rank among this machine's ranks.
    fn local_rank(&self) -> usize;
    /// The bitwise OR of `bits` over every rank; every rank calls it at the same point.
    fn any(&self, bits: u32) -> Result<u32, String>;
}

/// What one rank asks the others to do at the next agreement point.
pub mod requests {
    /// A hook asked to stop.
    pub const STOP: u32 = 1;
    /// The process was interrupted (Ctrl-C, SIGTERM from the launcher).
    pub const INTERRUPT: u32 = 1 << 1;
    /// A plugin asked for an evaluation.
    pub const EVALUATE: u32 = 1 << 2;
    /// A plugin asked for a checkpoint.
    pub const CHECKPOINT: u32 = 1 << 3;
}

/// This process's place in the run: rank 0 of 1 unless launched data-parallel.
#[derive(Clone, Default)]
pub struct World {
    comm: Option<Arc<dyn Collective>>,
}

impl World {
    /// A single process.
    pub fn single() -> World {
        World::default()
    }

    /// One rank of a group.
    pub fn ranks(comm: Arc<dyn Collective>) -> World {
        World { comm: Some(comm) }
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.comm.as_ref().map_or(0, |c| c.rank())
    }

    /// The number of ranks.
    pub fn world_size(&self) -> usize {
        self.comm.as_ref().map_or(1, |c| c.world_size())
    }

    /// The rank on this machine.
    pub fn local_rank(&self) -> usize {
        self.comm.as_ref().map_or(0, |c| c.local_rank())
    }

    /// Whether this process writes the run's files (rank 0).
    pub fn is_main(&self) -> bool {
        self.rank() == 0
    }

    /// Whether more than one rank takes part.
    pub fn is_distributed(&self) -> bool {
        self.world_size() > 1
    }

    /// The union of every rank's requests (this process's own when it runs alone).
    pub fn agree(&self, bits: u32) -> Result<u32, String> {
        match &self.comm {
            Some(c) if c.world_size() > 1 => c.any(bits),
            _ => Ok(bits),
        }
    }
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rank {} of {}", self.rank(), self.world_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Two "ranks" in one process: the other rank's bits are fixed.
    struct Pair {
        other: u32,
        calls: Mutex<u32>,
    }

    impl Collective for Pair {
        fn rank(&self) -> usize {
            1
        }
        fn world_size(&self) -> usize {
            2
        }
        fn local_rank(&self) -> usize {
            1
        }
        fn any(&self, bits: u32) -> Result<u32, String> {
            *self.calls.lock().unwrap() += 1;
            Ok(bits | self.other)
        }
    }

    #[test]
    fn a_single_process_agrees_with_itself_without_collectives() {
        let w = World::single();
        assert_eq!((w.rank(), w.world_size(), w.is_main()), (0, 1, true));
        assert_eq!(w.agree(requests::STOP).unwrap(), requests::STOP);
    }

    #[test]
    fn ranks_take_the_union_of_requests() {
        let pair = Arc::new(Pair {
            other: requests::EVALUATE,
            calls: Mutex::new(0),
        });
        let w = World::ranks(pair.clone());
        assert!(!w.is_main() && w.is_distributed());
        assert_eq!(
            w.agree(requests::STOP).unwrap(),
            requests::STOP | requests::EVALUATE
        );
        assert_eq!(*pair.calls.lock().unwrap(), 1);
    }
}
