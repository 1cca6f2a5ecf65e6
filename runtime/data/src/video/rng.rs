//! The random stream of one sample in one epoch.
//!
//! MMAction2 draws its augmentations from process-global generators (`np.random`, `random`),
//! so what a sample gets depends on the worker that happens to load it. weft derives a stream
//! from (seed, epoch, sample index) alone: any number of workers yields the same batches, and
//! a run resumed mid-epoch draws what the uninterrupted run drew.

use crate::splitmix::{SplitMix64, mix};

/// SplitMix64 seeded from (seed, epoch, index) through its own mixer, so neighbouring samples
/// and epochs get unrelated streams.
#[derive(Debug, Clone)]
pub struct SampleRng(SplitMix64);

impl SampleRng {
    /// The stream of sample `index` in `epoch` of a run seeded with `seed`.
    pub fn new(seed: u64, epoch: u64, index: u64) -> SampleRng {
        let a = mix(seed ^ 0x7765_6674_7669_6465); // "weftvide"
        let b = mix(a ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        SampleRng(SplitMix64(mix(
            b ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03)
        )))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next()
    }

    /// Uniform in `0..n` (`n > 0`), without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }

    /// Uniform in `lo..=hi` (Python's `random.randint`).
    pub fn int_inclusive(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)` (`np.random.uniform`).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_seed_epoch_and_index_only() {
        let draw = |s, e, i| {
            let mut r = SampleRng::new(s, e, i);
            (0..4).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 2, 3), draw(1, 2, 3));
        assert_ne!(draw(1, 2, 3), draw(1, 2, 4));
        assert_ne!(draw(1, 2, 3), draw(1, 3, 3));
        assert_ne!(draw(1, 2, 3), draw(2, 2, 3));
    }

    #[test]
    fn draws_stay_in_range_and_cover_it() {
        let mut r = SampleRng::new(0, 0, 0);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            seen[r.below(7) as usize] += 1;
            let u = r.uniform(-2.0, 3.0);
            assert!((-2.0..3.0).contains(&u));
            assert!((5..=9).contains(&r.int_inclusive(5, 9)));
        }
        // Each value about 1000 times: a gross bias would show.
        assert!(seen.iter().all(|&n| (850..1150).contains(&n)), "{seen:?}");
    }
}
