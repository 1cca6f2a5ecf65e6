//! The order of samples in an epoch: a seeded shuffle that depends only on (seed, epoch), so a
//! resumed run reproduces it without saving any generator state.

use crate::splitmix::SplitMix64;

/// The sample order of `epoch`: `0..len` shuffled (Fisher-Yates) with a generator seeded from
/// `seed` and `epoch`, or in order when `shuffle` is false.
pub fn epoch_order(len: usize, seed: u64, epoch: u64, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    if shuffle && len > 1 {
        let mut rng = SplitMix64(seed ^ epoch.wrapping_mul(0xA24B_AED4_963E_E407) ^ 0x5EED);
        for i in (1..len).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
    }
    order
}

/// One rank's share of the data in a data-parallel run (PyTorch's `DistributedSampler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This rank.
    pub rank: usize,
    /// The number of ranks.
    pub world_size: usize,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard {
            rank: 0,
            world_size: 1,
        }
    }
}

impl Shard {
    /// Samples each rank takes per epoch: `ceil(len / world_size)`, the same on every rank.
    pub fn len(&self, len: usize) -> usize {
        len.div_ceil(self.world_size.max(1))
    }

    /// Whether a rank takes nothing.
    pub fn is_empty(&self, len: usize) -> bool {
        self.len(len) == 0
    }

    /// This rank's part of an epoch's order, as `DistributedSampler` cuts it: the order is
    /// padded with its own first samples to a multiple of the world size, then rank `r`
    /// takes positions `r, r + world_size, ...`. So every rank has as many batches, the
    /// ranks' batches together are the one-process batches of `world_size` times the size,
    /// and evaluation results interleave back into the dataset's order.
    pub fn take(&self, order: Vec<usize>) -> Vec<usize> {
        let world = self.world_size.max(1);
        if world == 1 || order.is_empty() {
            return order;
        }
        let total = self.len(order.len()) * world;
        let padded: Vec<usize> = order.iter().copied().cycle().take(total).collect();
        padded.into_iter().skip(self.rank).step_by(world).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_pad_and_interleave_like_distributed_sampler() {
        let order: Vec<usize> = (10..15).collect();
        let shard = |rank| {
            Shard {
                rank,
                world_size: 2,
            }
            .take(order.clone())
        };
        // torch: indices += indices[:1]; rank 0 takes [0::2], rank 1 [1::2].
        assert_eq!(shard(0), vec![10, 12, 14]);
        assert_eq!(shard(1), vec![11, 13, 10]);
        let three: Vec<Vec<usize>> = (0..3)
            .map(|rank| {
                Shard {
                    rank,
                    world_size: 3,
                }
                .take(vec![0, 1])
            })
            .collect();
        assert_eq!(three, vec![vec![0], vec![1], vec![0]]);
        assert_eq!(Shard::default().take(order.clone()), order);
        assert_eq!(
            Shard {
                rank: 1,
                world_size: 4
            }
            .len(9),
            3
        );
    }

    #[test]
    fn order_is_a_permutation_fixed_by_seed_and_epoch() {
        let a = epoch_order(100, 7, 3, true);
        let b = epoch_order(100, 7, 3, true);
        let c = epoch_order(100, 7, 4, true);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(epoch_order(5, 7, 3, false), vec![0, 1, 2, 3, 4]);
    }
}
