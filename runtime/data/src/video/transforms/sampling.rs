//! Temporal sampling: which frames of a clip a sample uses (`SampleFrames`,
//! `DenseSampleFrames`), with MMAction2 0.24's offsets in train and test mode.

use serde::Deserialize;

use crate::video::pipeline::{Stage, Transform};
use crate::video::rng::SampleRng;
use crate::video::sample::Sample;

/// What to do with frame numbers past the clip's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutOfBound {
    /// Wrap around to the clip's start.
    Loop,
    /// Repeat the clip's last sampled frame.
    RepeatLast,
}

fn default_one() -> usize {
    1
}

fn default_loop() -> OutOfBound {
    OutOfBound::Loop
}

/// `SampleFrames` (and the shared part of `DenseSampleFrames`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleFrames {
    clip_len: usize,
    #[serde(default = "default_one")]
    frame_interval: usize,
    #[serde(default = "default_one")]
    num_clips: usize,
    #[serde(default)]
    temporal_jitter: bool,
    #[serde(default)]
    twice_sample: bool,
    #[serde(default = "default_loop")]
    out_of_bound_opt: OutOfBound,
    #[serde(default)]
    test_mode: bool,
    /// Deprecated in MMAction2 (the dataset's `start_index` counts); accepted, unused.
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; the dataset's start_index counts"
    )]
    start_index: Option<usize>,
    #[serde(default)]
    keep_tail_frames: bool,
}

/// `DenseSampleFrames`: clips spread over a window of `sample_range` frames.
#[derive(Debug, Clone)]
pub struct DenseSampleFrames {
    base: SampleFrames,
    sample_range: usize,
    num_sample_positions: usize,
}

/// `DenseSampleFrames`'s keys: `SampleFrames`'s and two of its own. (Spelled out rather than
/// flattened: serde cannot refuse unknown keys through a flattened struct.)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DenseArgs {
    clip_len: usize,
    #[serde(default = "default_one")]
    frame_interval: usize,
    #[serde(default = "default_one")]
    num_clips: usize,
    #[serde(default)]
    temporal_jitter: bool,
    #[serde(default = "default_loop")]
    out_of_bound_opt: OutOfBound,
    #[serde(default)]
    test_mode: bool,
    start_index: Option<usize>,
    #[serde(default = "default_range")]
    sample_range: usize,
    #[serde(default = "default_positions")]
    num_sample_positions: usize,
}

impl<'de> Deserialize<'de> for DenseSampleFrames {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let a = DenseArgs::deserialize(d)?;
        Ok(DenseSampleFrames {
            base: SampleFrames {
                clip_len: a.clip_len,
                frame_interval: a.frame_interval,
                num_clips: a.num_clips,
                temporal_jitter: a.temporal_jitter,
                twice_sample: false,
                out_of_bound_opt: a.out_of_bound_opt,
                test_mode: a.test_mode,
                start_index: a.start_index,
                keep_tail_frames: false,
            },
            sample_range: a.sample_range,
            num_sample_positions: a.num_sample_positions,
        })
    }
}

fn default_range() -> usize {
    64
}

fn default_positions() -> usize {
    10
}

impl SampleFrames {
    /// Checks the arguments' ranges.
    pub fn validate(&self) -> Result<(), String> {
        if self.clip_len == 0 || self.frame_interval == 0 || self.num_clips == 0 {
            return Err("clip_len, frame_interval and num_clips must each be at least 1".into());
        }
        if self.clip_len * self.frame_interval * self.num_clips > 1 << 20 {
            return Err("clip_len × frame_interval × num_clips is implausibly large".into());
        }
        Ok(())
    }

    /// Clip start offsets in train mode.
    fn train_offsets(&self, n: i64, rng: &mut SampleRng) -> Vec<i64> {
        let clips = self.num_clips as i64;
        let ori = (self.clip_len * self.frame_interval) as i64;
        if self.keep_tail_frames {
            let avg = (n - ori + 1) as f64 / clips as f64;
            if n > ori - 1 {
                return (0..clips)
                    .map(|i| (i as f64 * avg + rng.uniform(0.0, avg)) as i64)
                    .collect();
            }
            return vec![0; self.num_clips];
        }
        let avg = (n - ori + 1).div_euclid(clips);
        if avg > 0 {
            (0..clips)
                .map(|i| i * avg + rng.below(avg as u64) as i64)
                .collect()
        } else if n > clips.max(ori) {
            let mut v: Vec<i64> = (0..clips)
                .map(|_| rng.below((n - ori + 1) as u64) as i64)
                .collect();
            v.sort_unstable();
            v
        } else if avg == 0 {
            let ratio = (n - ori + 1) as f64 / clips as f64;
            (0..clips)
                .map(|i| round_half_even(i as f64 * ratio) as i64)
                .collect()
        } else {
            vec![0; self.num_clips]
        }
    }

    /// Clip start offsets in test mode: evenly spaced, shifted to the middle of each segment
    /// (and, with `twice_sample`, unshifted too).
    fn test_offsets(&self, n: i64) -> Vec<i64> {
        let clips = self.num_clips as i64;
        let ori = (self.clip_len * self.frame_interval) as i64;
        let avg = (n - ori + 1) as f64 / clips as f64;
        if n > ori - 1 {
            let base: Vec<f64> = (0..clips).map(|i| i as f64 * avg).collect();
            let mut offsets: Vec<i64> = base.iter().map(|b| (b + avg / 2.0) as i64).collect();
            if self.twice_sample {
                offsets.extend(base.iter().map(|b| *b as i64));
            }
            offsets
        } else {
            vec![0; self.num_clips]
        }
    }

    /// Turns clip offsets into frame numbers, as `SampleFrames.__call__` does.
    fn frames(&self, sample: &mut Sample, offsets: &[i64], total: i64, rng: &mut SampleRng) {
        let interval = self.frame_interval as i64;
        let mut inds = Vec::with_capacity(offsets.len() * self.clip_len);
        for &o in offsets {
            let mut clip: Vec<i64> = (0..self.clip_len as i64)
                .map(|k| o + k * interval)
                .collect();
            if self.temporal_jitter {
                for f in &mut clip {
                    *f += rng.below(interval as u64) as i64;
                }
            }
            match self.out_of_bound_opt {
                OutOfBound::Loop => clip.iter_mut().for_each(|f| *f = f.rem_euclid(total)),
                OutOfBound::RepeatLast => {
                    let last = clip
                        .iter()
                        .copied()
                        .filter(|&f| f < total)
                        .max()
                        .unwrap_or(0);
                    clip.iter_mut()
                        .filter(|f| **f >= total)
                        .for_each(|f| *f = last);
                }
            }
            inds.extend(clip);
        }
        let start = sample.start_index as i64;
        sample.frame_inds = inds.into_iter().map(|f| (f + start) as usize).collect();
        sample.clip_len = self.clip_len;
        sample.num_clips = self.num_clips;
    }
}

/// numpy's `around`: halves go to the even neighbour.
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

fn total_frames(sample: &Sample) -> Result<i64, String> {
    match sample.total_frames {
        Some(n) if n > 0 => Ok(n as i64),
        Some(_) => Err("the clip has no frames".into()),
        None => Err("the clip's frame count is unknown".into()),
    }
}

impl Transform for SampleFrames {
    fn name(&self) -> &'static str {
        "SampleFrames"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Counted, Stage::Sampled)
    }

    fn apply(&self, sample: &mut Sample, rng: &mut SampleRng) -> Result<(), String> {
        let n = total_frames(sample)?;
        let offsets = if self.test_mode {
            self.test_offsets(n)
        } else {
            self.train_offsets(n, rng)
        };
        self.frames(sample, &offsets, n, rng);
        Ok(())
    }
}

impl DenseSampleFrames {
    /// Checks the arguments' ranges.
    pub fn validate(&self) -> Result<(), String> {
        self.base.validate()?;
        if self.sample_range == 0 || self.num_sample_positions == 0 {
            return Err("sample_range and num_sample_positions must be at least 1".into());
        }
        Ok(())
    }
}

impl Transform for DenseSampleFrames {
    fn name(&self) -> &'static str {
        "DenseSampleFrames"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Counted, Stage::Sampled)
    }

    fn apply(&self, sample: &mut Sample, rng: &mut SampleRng) -> Result<(), String> {
        let n = total_frames(sample)?;
        let positions = (1 + n - self.sample_range as i64).max(1);
        let interval = (self.sample_range / self.base.num_clips) as i64;
        let base = |start: i64| {
            (0..self.base.num_clips as i64).map(move |i| (i * interval + start).rem_euclid(n))
        };
        let offsets: Vec<i64> = if self.base.test_mode {
            // np.linspace(0, positions - 1, num, dtype=int): evenly spaced, truncated.
            let k = self.num_sample_positions;
            (0..k)
                .flat_map(|j| {
                    let start = if k == 1 {
                        0.0
                    } else {
                        (positions - 1) as f64 * j as f64 / (k - 1) as f64
                    };
                    base(start as i64)
                })
                .collect()
        } else {
            let start = if positions == 1 {
                0
            } else {
                // np.random.randint(0, positions - 1): the last position is never drawn.
                rng.below((positions - 1) as u64) as i64
            };
            base(start).collect()
        };
        self.base.frames(sample, &offsets, n, rng);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::sample::Source;

    fn sampler(text: &str) -> SampleFrames {
        toml::from_str(text).unwrap()
    }

    fn run(s: &SampleFrames, total: usize, seed: u64) -> Vec<usize> {
        let mut sample = Sample::new(0, Source::Video { path: "x".into() }, Some(total), 0, 0);
        s.apply(&mut sample, &mut SampleRng::new(seed, 0, 0))
            .unwrap();
        sample.frame_inds
    }

    #[test]
    fn test_mode_takes_the_middle_of_each_segment() {
        // 16 frames, 8 clips of 1: avg 2, offsets 1, 3, ..., 15.
        let s = sampler("clip_len = 1\nnum_clips = 8\ntest_mode = true");
        assert_eq!(run(&s, 16, 0), vec![1, 3, 5, 7, 9, 11, 13, 15]);
        // I3D-style 8x2x1 on 16 frames: avg (16 - 16 + 1) / 1 = 1, offset 0.
        let s = sampler("clip_len = 8\nframe_interval = 2\ntest_mode = true");
        assert_eq!(run(&s, 16, 0), vec![0, 2, 4, 6, 8, 10, 12, 14]);
        let s = sampler("clip_len = 1\nnum_clips = 2\ntest_mode = true\ntwice_sample = true");
        assert_eq!(run(&s, 10, 0), vec![2, 7, 0, 5]);
    }

    #[test]
    fn train_mode_draws_one_frame_per_segment() {
        let s = sampler("clip_len = 1\nnum_clips = 4");
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let inds = run(&s, 16, seed);
            for (k, &f) in inds.iter().enumerate() {
                assert!((4 * k..4 * k + 4).contains(&f), "{inds:?}");
            }
            seen.insert(inds[0]);
        }
        assert_eq!(seen.len(), 4, "every offset of the first segment is drawn");
    }

    #[test]
    fn short_clips_loop_or_repeat_the_last_frame() {
        // 8 x 2 needs 16 frames; 5 exist: avg < 0 and 5 <= max(1, 16): offsets 0.
        let looping = sampler("clip_len = 8\nframe_interval = 2");
        assert_eq!(run(&looping, 5, 0), vec![0, 2, 4, 1, 3, 0, 2, 4]);
        let repeating =
            sampler("clip_len = 8\nframe_interval = 2\nout_of_bound_opt = \"repeat_last\"");
        assert_eq!(run(&repeating, 5, 0), vec![0, 2, 4, 4, 4, 4, 4, 4]);
        // avg == 0: offsets from np.around(arange * ratio) with halves to even, [0, 0, 1, 2],
        // then looped into the clip's two frames.
        let s = sampler("clip_len = 1\nnum_clips = 4");
        assert_eq!(run(&s, 2, 0), vec![0, 0, 1, 0]);
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(1.5), 2.0);
    }

    #[test]
    fn dense_sampling_in_test_mode_spreads_positions() {
        let d: DenseSampleFrames = toml::from_str(
            "clip_len = 2\nnum_clips = 2\nsample_range = 8\nnum_sample_positions = 3\ntest_mode = true",
        )
        .unwrap();
        let mut sample = Sample::new(0, Source::Video { path: "x".into() }, Some(20), 0, 0);
        d.apply(&mut sample, &mut SampleRng::new(0, 0, 0)).unwrap();
        // positions = 13, starts 0, 6, 12; interval 4.
        assert_eq!(
            sample.frame_inds,
            vec![0, 1, 4, 5, 6, 7, 10, 11, 12, 13, 16, 17]
        );
    }
}
