//! Geometry: `Resize` and `Flip`, and what the crops (`crops.rs`) share, with MMAction2
//! 0.24's rules. One draw serves every frame of a sample (a clip is resized, cropped and
//! flipped as a whole). They change the sample's views, not its pixels: the frames are sampled
//! once, later (see `view.rs`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::video::pipeline::{Stage, Transform};
use crate::video::rng::SampleRng;
use crate::video::sample::Sample;
use crate::video::view::Interpolation;

/// An int or a `[w, h]` pair (torch's `_pair`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum Pair {
    /// The same for width and height.
    One(i64),
    /// `[w, h]`.
    Two([i64; 2]),
}

impl Pair {
    pub(super) fn wh(self, what: &str) -> Result<(usize, usize), String> {
        let (w, h) = match self {
            Pair::One(s) => (s, s),
            Pair::Two([w, h]) => (w, h),
        };
        if w <= 0 || h <= 0 || w > 1 << 16 || h > 1 << 16 {
            return Err(format!("{what} must be positive sizes, not ({w}, {h})"));
        }
        Ok((w as usize, h as usize))
    }
}

/// MMCV's `lazy` mode defers crops and resizes to `Fuse`; weft applies each at once (the
/// result differs only in resampling), so `lazy` is accepted and has no effect.
pub(super) fn lazy_ok(_lazy: Option<bool>) {}

pub(super) fn crop_all(
    sample: &mut Sample,
    x: usize,
    y: usize,
    w: usize,
    h: usize,
) -> Result<(), String> {
    let (ih, iw) = sample.img_shape();
    if x + w > iw || y + h > ih || w == 0 || h == 0 {
        return Err(format!(
            "a {w}x{h} crop at ({x}, {y}) does not fit a {iw}x{ih} frame"
        ));
    }
    for v in &mut sample.views {
        *v = v.cropped(x, y, w, h);
    }
    Ok(())
}

/// `Resize`: to a size, by a factor, or (`keep_ratio`) within a size.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resize {
    scale: Scale,
    #[serde(default = "yes")]
    keep_ratio: bool,
    #[serde(default = "bilinear")]
    interpolation: String,
    lazy: Option<bool>,
    #[serde(skip, default = "default_interp")]
    how: Interpolation,
}

/// `scale`: a factor, or `[w, h]` (with -1 for "any", as in `[-1, 256]`: short side 256).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum Scale {
    Size([i64; 2]),
    Factor(f64),
}

fn yes() -> bool {
    true
}

fn bilinear() -> String {
    "bilinear".into()
}

fn default_interp() -> Interpolation {
    Interpolation::Bilinear
}

impl Resize {
    /// Checks the arguments.
    pub fn validate(mut self) -> Result<Resize, String> {
        lazy_ok(self.lazy);
        self.how = Interpolation::parse(&self.interpolation)?;
        match (self.scale, self.keep_ratio) {
            (Scale::Factor(f), _) if !(f > 0.0 && f <= 64.0) => {
                Err(format!("a scale factor must be in (0, 64], not {f}"))
            }
            (Scale::Factor(_), false) => {
                Err("keep_ratio = false needs `scale = [w, h]`, not a factor".into())
            }
            (Scale::Size([w, h]), keep) => {
                let (lo, hi) = (w.min(h), w.max(h));
                let any = lo == -1;
                if (any && hi <= 0) || (!any && lo <= 0) || hi > 1 << 16 {
                    Err(format!(
                        "scale must be positive sizes (or -1 for one side), not [{w}, {h}]"
                    ))
                } else if any && !keep {
                    Err("keep_ratio = false needs both sizes: -1 only works with keep_ratio".into())
                } else {
                    Ok(self)
                }
            }
            _ => Ok(self),
        }
    }

    /// The output size for an `iw × ih` frame (`mmcv.rescale_size`).
    fn size(&self, iw: usize, ih: usize) -> (usize, usize) {
        let factor = match self.scale {
            Scale::Size([w, h]) if !self.keep_ratio => return (w as usize, h as usize),
            Scale::Factor(f) => f,
            Scale::Size([w, h]) => {
                let (lo, hi) = (w.min(h), w.max(h));
                let long = if lo == -1 { f64::INFINITY } else { hi as f64 };
                let short = if lo == -1 { hi as f64 } else { lo as f64 };
                (long / iw.max(ih) as f64).min(short / iw.min(ih) as f64)
            }
        };
        let scaled = |v: usize| ((v as f64 * factor + 0.5) as usize).max(1);
        (scaled(iw), scaled(ih))
    }
}

impl Transform for Resize {
    fn name(&self) -> &'static str {
        "Resize"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Decoded, Stage::Decoded)
    }

    fn apply(&self, sample: &mut Sample, _rng: &mut SampleRng) -> Result<(), String> {
        let (ih, iw) = sample.img_shape();
        let (w, h) = self.size(iw, ih);
        for v in &mut sample.views {
            *v = v.resized(w, h, self.how);
        }
        Ok(())
    }
}

/// `Flip`: mirrors a sample with probability `flip_ratio`, mapping its label through
/// `flip_label_map` when it does (left becomes right).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flip {
    #[serde(default = "half")]
    flip_ratio: f64,
    #[serde(default = "horizontal")]
    direction: String,
    flip_label_map: Option<BTreeMap<String, usize>>,
    /// Keypoint pairs (MMAction2's pose pipelines): only empty lists make sense here.
    left_kp: Option<Vec<i64>>,
    right_kp: Option<Vec<i64>>,
    lazy: Option<bool>,
    #[serde(skip)]
    labels: BTreeMap<usize, usize>,
}

fn half() -> f64 {
    0.5
}

fn horizontal() -> String {
    "horizontal".into()
}

impl Flip {
    /// Checks the arguments.
    pub fn validate(mut self) -> Result<Flip, String> {
        lazy_ok(self.lazy);
        if !(0.0..=1.0).contains(&self.flip_ratio) {
            return Err(format!(
                "flip_ratio must be a probability in [0, 1], not {}",
                self.flip_ratio
            ));
        }
        if self.direction != "horizontal" && self.direction != "vertical" {
            return Err(format!(
                "direction must be \"horizontal\" or \"vertical\", not {:?}",
                self.direction
            ));
        }
        if self.left_kp.as_ref().is_some_and(|k| !k.is_empty())
            || self.right_kp.as_ref().is_some_and(|k| !k.is_empty())
        {
            return Err("left_kp and right_kp are for keypoints, which weft does not load".into());
        }
        for (from, to) in self.flip_label_map.iter().flatten() {
            let from: usize = from
                .parse()
                .map_err(|_| format!("flip_label_map keys must be class numbers, not {from:?}"))?;
            self.labels.insert(from, *to);
        }
        Ok(self)
    }
}

impl Transform for Flip {
    fn name(&self) -> &'static str {
        "Flip"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Decoded, Stage::Decoded)
    }

    fn apply(&self, sample: &mut Sample, rng: &mut SampleRng) -> Result<(), String> {
        if rng.unit() < self.flip_ratio {
            if let Some(&to) = self.labels.get(&sample.label) {
                sample.label = to;
            }
            let horizontal = self.direction == "horizontal";
            for v in &mut sample.views {
                if horizontal {
                    v.flip_h = !v.flip_h;
                } else {
                    v.flip_v = !v.flip_v;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Frame;
    use crate::video::sample::Source;

    pub(crate) fn sample(w: usize, h: usize, frames: usize) -> Sample {
        let mut s = Sample::new(0, Source::Video { path: "x".into() }, Some(frames), 0, 1);
        s.set_frames(
            (0..frames)
                .map(|t| Frame {
                    height: h,
                    width: w,
                    channels: 3,
                    data: (0..w * h * 3).map(|i| (i / 3 + t) as u8).collect(),
                })
                .collect(),
        );
        s
    }

    /// The pixels the sample's views show.
    pub(crate) fn pixels(s: &Sample) -> Vec<Frame> {
        crate::video::view::materialize(&s.frames, &s.views)
    }

    pub(crate) fn run(t: &dyn Transform, s: &mut Sample, seed: u64) {
        t.apply(s, &mut SampleRng::new(seed, 0, 0)).unwrap();
    }

    #[test]
    fn resize_keeps_the_ratio_for_a_short_side_and_obeys_exact_sizes() {
        let r: Resize = toml::from_str("scale = [-1, 72]").unwrap();
        let r = r.validate().unwrap();
        let mut s = sample(128, 64, 2);
        run(&r, &mut s, 0);
        assert_eq!(s.img_shape(), (72, 144));
        let r: Resize = toml::from_str("scale = [64, 48]\nkeep_ratio = false").unwrap();
        let r = r.validate().unwrap();
        run(&r, &mut s, 0);
        assert_eq!(s.img_shape(), (48, 64));
        // (w, h) within a box: factor min(200 / 64, 100 / 48).
        let r: Resize = toml::from_str("scale = [200, 100]").unwrap();
        run(&r.validate().unwrap(), &mut s, 0);
        assert_eq!(s.img_shape(), (100, 133));
        let bad: Resize = toml::from_str("scale = [-1, 72]\nkeep_ratio = false").unwrap();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn flip_maps_the_label_when_it_flips() {
        let f: Flip =
            toml::from_str("flip_ratio = 1.0\nflip_label_map = { 0 = 1, 1 = 0 }").unwrap();
        let f = f.validate().unwrap();
        let mut s = sample(4, 2, 1);
        s.label = 1;
        let before = pixels(&s);
        run(&f, &mut s, 0);
        assert_eq!(s.label, 0);
        assert_ne!(pixels(&s), before);
        let never: Flip = toml::from_str("flip_ratio = 0.0\nflip_label_map = { 0 = 1 }").unwrap();
        let mut s = sample(4, 2, 1);
        s.label = 0;
        run(&never.validate().unwrap(), &mut s, 0);
        assert_eq!(s.label, 0);
    }
}
