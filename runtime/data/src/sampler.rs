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

#[cfg(test)]
mod tests {
    use super::*;

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
