//! Colour: `ColorJitter` on 8-bit frames, and `Normalize`, which turns them into floats.

use serde::Deserialize;

use crate::Frame;
use crate::video::pipeline::{Stage, Transform};
use crate::video::rng::SampleRng;
use crate::video::sample::{FloatFrames, Sample};
use crate::video::view::{materialize, normalized};

/// A jitter strength: `x` for `[base - x, base + x]`, or the range itself.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum Jitter {
    /// Symmetric around the neutral value.
    Amount(f64),
    /// `[low, high]`.
    Range([f64; 2]),
}

impl Jitter {
    /// MMAction2's `check_input`: the range, which must lie within `base ± max`.
    fn range(self, max: f64, base: f64, what: &str) -> Result<(f64, f64), String> {
        let (lo, hi) = match self {
            Jitter::Amount(x) if (0.0..=max).contains(&x) => (base - x, base + x),
            Jitter::Amount(x) => return Err(format!("{what} must be in [0, {max}], not {x}")),
            Jitter::Range([lo, hi]) => (lo, hi),
        };
        if !(base - max <= lo && lo <= hi && hi <= base + max) {
            return Err(format!(
                "{what} must be a range within [{}, {}], not [{lo}, {hi}]",
                base - max,
                base + max
            ));
        }
        Ok((lo, hi))
    }
}

/// `ColorJitter`: brightness, contrast, saturation and hue, each by a factor drawn per
/// sample, applied in a random order.
///
/// MMAction2 draws the order once when the transform is built (so one order per worker
/// process); weft draws it per sample from the sample's stream, which gives every sample the
/// same distribution over orders and keeps runs independent of the worker count.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorJitter {
    #[serde(default = "half")]
    brightness: Jitter,
    #[serde(default = "half")]
    contrast: Jitter,
    #[serde(default = "half")]
    saturation: Jitter,
    #[serde(default = "tenth")]
    hue: Jitter,
    #[serde(skip)]
    ranges: [(f64, f64); 4],
}

fn half() -> Jitter {
    Jitter::Amount(0.5)
}

fn tenth() -> Jitter {
    Jitter::Amount(0.1)
}

impl ColorJitter {
    /// Checks the arguments.
    pub fn validate(mut self) -> Result<ColorJitter, String> {
        self.ranges = [
            self.brightness.range(1.0, 1.0, "brightness")?,
            self.contrast.range(1.0, 1.0, "contrast")?,
            self.saturation.range(1.0, 1.0, "saturation")?,
            self.hue.range(0.5, 0.0, "hue")?,
        ];
        Ok(self)
    }
}

fn grey(p: &[f32]) -> f32 {
    0.2989 * p[0] + 0.587 * p[1] + 0.114 * p[2]
}

/// OpenCV's 8-bit RGB to HSV (H in 0-179), in floats.
fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let v = r.max(g).max(b);
    let diff = v - r.min(g).min(b);
    let s = if v > 0.0 {
        (diff * 255.0 / v).round()
    } else {
        0.0
    };
    let mut h = if diff == 0.0 {
        0.0
    } else if v == r {
        60.0 * (g - b) / diff
    } else if v == g {
        120.0 + 60.0 * (b - r) / diff
    } else {
        240.0 + 60.0 * (r - g) / diff
    };
    if h < 0.0 {
        h += 360.0;
    }
    ((h / 2.0).round() % 180.0, s, v)
}

/// OpenCV's 8-bit HSV to RGB.
fn hsv_to_rgb(h: f32, s: f32, v: f32) -> [f32; 3] {
    let (s, v) = (s / 255.0, v / 255.0);
    let h = (h * 2.0) / 60.0;
    let sector = h.floor();
    let f = h - sector;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    let [r, g, b] = match sector as i32 % 6 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    };
    [
        (r * 255.0).round(),
        (g * 255.0).round(),
        (b * 255.0).round(),
    ]
}

fn jitter_frame(frame: &mut Frame, order: &[usize; 4], f: [f64; 4]) {
    let mut img: Vec<f32> = frame.data.iter().map(|&p| p as f32).collect();
    let [b, c, s, h] = f.map(|x| x as f32);
    for &op in order {
        match op {
            0 if b != 1.0 => img.iter_mut().for_each(|p| *p *= b),
            1 if c != 1.0 => {
                let mean = img.chunks(3).map(grey).sum::<f32>() / (img.len() / 3) as f32;
                img.iter_mut().for_each(|p| *p = c * *p + (1.0 - c) * mean);
            }
            2 if s != 1.0 => {
                for px in img.chunks_mut(3) {
                    let g = grey(px);
                    px.iter_mut().for_each(|p| *p = s * *p + (1.0 - s) * g);
                }
            }
            3 if h != 0.0 => {
                let offset = (h * 255.0) as i32 as f32;
                for px in img.chunks_mut(3) {
                    let q = |v: f32| v.clamp(0.0, 255.0).trunc();
                    let (hh, ss, vv) = rgb_to_hsv(q(px[0]), q(px[1]), q(px[2]));
                    let hh = (hh + offset).rem_euclid(180.0);
                    px.copy_from_slice(&hsv_to_rgb(hh, ss, vv));
                }
            }
            _ => {}
        }
    }
    for (out, v) in frame.data.iter_mut().zip(img) {
        // `np.clip(img, 0, 255).astype(np.uint8)` truncates.
        *out = v.clamp(0.0, 255.0) as u8;
    }
}

impl Transform for ColorJitter {
    fn name(&self) -> &'static str {
        "ColorJitter"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Decoded, Stage::Decoded)
    }

    fn apply(&self, sample: &mut Sample, rng: &mut SampleRng) -> Result<(), String> {
        if sample.frames.iter().any(|f| f.channels != 3) {
            return Err("ColorJitter needs RGB frames".into());
        }
        let mut order = [0, 1, 2, 3];
        for i in (1..4).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let factors = self.ranges.map(|(lo, hi)| rng.uniform(lo, hi));
        // Colour works on pixels: the views are sampled now, and their frames (views outer,
        // as the network will see them) become the sample's frames, shown whole.
        let mut frames = materialize(&sample.frames, &sample.views);
        for frame in &mut frames {
            jitter_frame(frame, &order, factors);
        }
        sample.set_frames(frames);
        Ok(())
    }
}

/// `Normalize`: `(pixel - mean) / std` per channel, into floats (after reversing the
/// channels when `to_bgr`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
    #[serde(default)]
    to_bgr: bool,
    #[serde(default)]
    adjust_magnitude: bool,
}

impl Normalize {
    /// Checks the arguments.
    pub fn validate(self) -> Result<Normalize, String> {
        if self.mean.len() != 3 || self.std.len() != 3 {
            return Err(format!(
                "mean and std need one value per RGB channel, not {} and {}",
                self.mean.len(),
                self.std.len()
            ));
        }
        if self.std.iter().any(|s| !(s.is_finite() && *s != 0.0))
            || self.mean.iter().any(|m| !m.is_finite())
        {
            return Err("mean must be finite and std finite and non-zero".into());
        }
        if self.adjust_magnitude {
            return Err("adjust_magnitude is for optical flow, which weft does not load".into());
        }
        Ok(self)
    }
}

impl Transform for Normalize {
    fn name(&self) -> &'static str {
        "Normalize"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Decoded, Stage::Normalized)
    }

    fn apply(&self, sample: &mut Sample, _rng: &mut SampleRng) -> Result<(), String> {
        let Some(view) = sample.views.first().copied() else {
            return Err("no frames to normalise".into());
        };
        if sample.frames.iter().any(|f| f.channels != 3) {
            return Err("Normalize needs RGB frames".into());
        }
        let order = if self.to_bgr { [2, 1, 0] } else { [0, 1, 2] };
        let mean = [self.mean[0], self.mean[1], self.mean[2]];
        let inv = [1.0 / self.std[0], 1.0 / self.std[1], 1.0 / self.std[2]];
        let data = normalized(&sample.frames, &sample.views, order, mean, inv);
        let (height, width) = (view.height, view.width);
        sample.frames.clear();
        sample.views.clear();
        sample.floats = Some(FloatFrames {
            height,
            width,
            channels: 3,
            data,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::sample::Source;

    #[test]
    fn hsv_round_trips_and_neutral_jitter_changes_nothing() {
        for (r, g, b) in [(200.0, 30.0, 90.0), (10.0, 250.0, 40.0), (77.0, 77.0, 77.0)] {
            let (h, s, v) = rgb_to_hsv(r, g, b);
            let back = hsv_to_rgb(h, s, v);
            for (x, y) in back.iter().zip([r, g, b]) {
                assert!((x - y).abs() <= 4.0, "{:?} vs {:?}", back, (r, g, b));
            }
        }
        let mut f = Frame {
            height: 1,
            width: 2,
            channels: 3,
            data: vec![10, 20, 30, 200, 100, 50],
        };
        let before = f.clone();
        jitter_frame(&mut f, &[0, 1, 2, 3], [1.0, 1.0, 1.0, 0.0]);
        assert_eq!(f, before);
        jitter_frame(&mut f, &[0, 1, 2, 3], [2.0, 1.0, 1.0, 0.0]);
        assert_eq!(f.data, vec![20, 40, 60, 255, 200, 100]);
    }

    #[test]
    fn normalize_subtracts_and_divides_per_channel() {
        let n: Normalize =
            toml::from_str("mean = [1, 2, 3]\nstd = [2, 4, 0.5]\nto_bgr = true").unwrap();
        let n = n.validate().unwrap();
        let mut s = Sample::new(0, Source::Video { path: "x".into() }, Some(1), 0, 0);
        s.set_frames(vec![Frame {
            height: 1,
            width: 2,
            channels: 3,
            data: vec![10, 20, 30, 40, 50, 60],
        }]);
        n.apply(&mut s, &mut SampleRng::new(0, 0, 0)).unwrap();
        let f = s.floats.unwrap();
        // Channel planes, BGR: (30 - 1) / 2, (60 - 1) / 2; (20 - 2) / 4, ...; (10 - 3) / 0.5, ...
        assert_eq!(f.data, vec![14.5, 29.5, 4.5, 12.0, 14.0, 74.0]);
        let bad: Normalize = toml::from_str("mean = [1]\nstd = [1]").unwrap();
        assert!(bad.validate().is_err());
    }
}
