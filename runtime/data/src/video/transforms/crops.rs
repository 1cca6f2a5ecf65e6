//! The crops: `RandomCrop`, `RandomResizedCrop`, `MultiScaleCrop`, `CenterCrop`, and the
//! multi-view `ThreeCrop` and `TenCrop`, with MMAction2 0.24's rules and random draws.

use serde::Deserialize;

use super::geometry::{Pair, crop_all, lazy_ok};
use crate::video::pipeline::{Stage, Transform};
use crate::video::rng::SampleRng;
use crate::video::sample::Sample;
use crate::video::view::View;

/// `RandomCrop`: a square of `size` at a random place.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomCrop {
    size: i64,
    lazy: Option<bool>,
}

impl RandomCrop {
    /// Checks the arguments.
    pub fn validate(self) -> Result<RandomCrop, String> {
        lazy_ok(self.lazy);
        Pair::One(self.size).wh("size")?;
        Ok(self)
    }
}

impl Transform for RandomCrop {
    fn name(&self) -> &'static str {
        "RandomCrop"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Decoded, Stage::Decoded)
    }

    fn apply(&self, sample: &mut Sample, rng: &mut SampleRng) -> Result<(), String> {
        let (ih, iw) = sample.img_shape();
        let s = self.size as usize;
        if s > ih || s > iw {
            return Err(format!("a {s}x{s} crop does not fit a {iw}x{ih} frame"));
        }
        // np.random.randint(0, img - size): the last position is never drawn (as in MMAction2).
        let y = if ih > s {
            rng.below((ih - s) as u64) as usize
        } else {
            0
        };
        let x = if iw > s {
            rng.below((iw - s) as u64) as usize
        } else {
            0
        };
        crop_all(sample, x, y, s, s)
    }
}

/// `RandomResizedCrop`: a crop of random area and aspect ratio (it is not resized here; a
/// `Resize` after it sets the size, as in MMAction2's pipelines).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomResizedCrop {
    #[serde(default = "area_range")]
    area_range: [f64; 2],
    #[serde(default = "aspect_range")]
    aspect_ratio_range: [f64; 2],
    lazy: Option<bool>,
}

fn area_range() -> [f64; 2] {
    [0.08, 1.0]
}

fn aspect_range() -> [f64; 2] {
    [3.0 / 4.0, 4.0 / 3.0]
}

impl RandomResizedCrop {
    /// Checks the arguments.
    pub fn validate(self) -> Result<RandomResizedCrop, String> {
        lazy_ok(self.lazy);
        let [a0, a1] = self.area_range;
        let [r0, r1] = self.aspect_ratio_range;
        if !(0.0 < a0 && a0 <= a1 && a1 <= 1.0) {
            return Err(format!(
                "area_range must satisfy 0 < low <= high <= 1, not [{a0}, {a1}]"
            ));
        }
        if !(0.0 < r0 && r0 <= r1 && r1.is_finite()) {
            return Err(format!(
                "aspect_ratio_range must satisfy 0 < low <= high, not [{r0}, {r1}]"
            ));
        }
        Ok(self)
    }
}

impl Transform for RandomResizedCrop {
    fn name(&self) -> &'static str {
        "RandomResizedCrop"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Decoded, Stage::Decoded)
    }

    fn apply(&self, sample: &mut Sample, rng: &mut SampleRng) -> Result<(), String> {
        let (ih, iw) = sample.img_shape();
        let area = (ih * iw) as f64;
        let [a0, a1] = self.area_range;
        let [r0, r1] = self.aspect_ratio_range;
        // Ten attempts at a crop that fits, then the centre square (MMAction2's rule).
        for _ in 0..10 {
            let ratio = rng.uniform(r0.ln(), r1.ln()).exp();
            let target = rng.uniform(a0, a1) * area;
            let w = round_half_even((target * ratio).sqrt()) as usize;
            let h = round_half_even((target / ratio).sqrt()) as usize;
            if w >= 1 && h >= 1 && h <= ih && w <= iw {
                let x = rng.int_inclusive(0, (iw - w) as i64) as usize;
                let y = rng.int_inclusive(0, (ih - h) as i64) as usize;
                return crop_all(sample, x, y, w, h);
            }
        }
        let side = ih.min(iw);
        crop_all(sample, (iw - side) / 2, (ih - side) / 2, side, side)
    }
}

fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

/// `MultiScaleCrop`: a crop whose sides are drawn from `scales` of the short side, at a
/// random or one of 5 or 13 fixed places.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiScaleCrop {
    input_size: Pair,
    #[serde(default = "one_scale")]
    scales: Vec<f64>,
    #[serde(default = "one")]
    max_wh_scale_gap: usize,
    #[serde(default)]
    random_crop: bool,
    #[serde(default = "five")]
    num_fixed_crops: usize,
    lazy: Option<bool>,
    #[serde(skip)]
    wh: (usize, usize),
}

fn one_scale() -> Vec<f64> {
    vec![1.0]
}

fn one() -> usize {
    1
}

fn five() -> usize {
    5
}

impl MultiScaleCrop {
    /// Checks the arguments.
    pub fn validate(mut self) -> Result<MultiScaleCrop, String> {
        lazy_ok(self.lazy);
        self.wh = self.input_size.wh("input_size")?;
        if self.scales.is_empty() || self.scales.iter().any(|s| !(*s > 0.0 && *s <= 1.0)) {
            return Err(format!(
                "scales must be fractions of the short side in (0, 1], not {:?}",
                self.scales
            ));
        }
        if self.num_fixed_crops != 5 && self.num_fixed_crops != 13 {
            return Err(format!(
                "num_fixed_crops must be 5 or 13, not {}",
                self.num_fixed_crops
            ));
        }
        Ok(self)
    }
}

impl Transform for MultiScaleCrop {
    fn name(&self) -> &'static str {
        "MultiScaleCrop"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Decoded, Stage::Decoded)
    }

    fn apply(&self, sample: &mut Sample, rng: &mut SampleRng) -> Result<(), String> {
        let (ih, iw) = sample.img_shape();
        let base = ih.min(iw) as f64;
        let sizes: Vec<usize> = self.scales.iter().map(|s| (base * s) as usize).collect();
        let mut candidates = Vec::new();
        for (i, &h) in sizes.iter().enumerate() {
            for (j, &w) in sizes.iter().enumerate() {
                if i.abs_diff(j) <= self.max_wh_scale_gap {
                    candidates.push([w, h]);
                }
            }
        }
        let mut size = candidates[rng.below(candidates.len() as u64) as usize];
        // Sides within 2 pixels of the network's input snap to it.
        let target = [self.wh.0, self.wh.1];
        for k in 0..2 {
            if size[k].abs_diff(target[k]) < 3 {
                size[k] = target[k];
            }
        }
        let [cw, ch] = size;
        if cw > iw || ch > ih || cw == 0 || ch == 0 {
            return Err(format!(
                "a {cw}x{ch} crop does not fit a {iw}x{ih} frame (input_size {:?})",
                self.wh
            ));
        }
        let (x, y) = if self.random_crop {
            (
                rng.int_inclusive(0, (iw - cw) as i64) as usize,
                rng.int_inclusive(0, (ih - ch) as i64) as usize,
            )
        } else {
            let (ws, hs) = ((iw - cw) / 4, (ih - ch) / 4);
            let mut places = vec![(0, 0), (4, 0), (0, 4), (4, 4), (2, 2)];
            if self.num_fixed_crops == 13 {
                places.extend([
                    (0, 2),
                    (4, 2),
                    (2, 4),
                    (2, 0),
                    (1, 1),
                    (3, 1),
                    (1, 3),
                    (3, 3),
                ]);
            }
            let (a, b) = places[rng.below(places.len() as u64) as usize];
            (a * ws, b * hs)
        };
        crop_all(sample, x, y, cw, ch)
    }
}

/// `CenterCrop`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CenterCrop {
    crop_size: Pair,
    lazy: Option<bool>,
    #[serde(skip)]
    wh: (usize, usize),
}

impl CenterCrop {
    /// Checks the arguments.
    pub fn validate(mut self) -> Result<CenterCrop, String> {
        lazy_ok(self.lazy);
        self.wh = self.crop_size.wh("crop_size")?;
        Ok(self)
    }
}

impl Transform for CenterCrop {
    fn name(&self) -> &'static str {
        "CenterCrop"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Decoded, Stage::Decoded)
    }

    fn apply(&self, sample: &mut Sample, _rng: &mut SampleRng) -> Result<(), String> {
        let (ih, iw) = sample.img_shape();
        let (cw, ch) = self.wh;
        if cw > iw || ch > ih {
            return Err(format!("a {cw}x{ch} crop does not fit a {iw}x{ih} frame"));
        }
        crop_all(sample, (iw - cw) / 2, (ih - ch) / 2, cw, ch)
    }
}

/// `ThreeCrop` and `TenCrop`: several fixed crops of every frame, each becoming its own
/// view (crops × clips × frames), for multi-view testing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiCrop {
    crop_size: Pair,
    #[serde(skip)]
    wh: (usize, usize),
    #[serde(skip)]
    ten: bool,
}

impl MultiCrop {
    /// Checks the arguments; `ten` selects `TenCrop`.
    pub fn validate(mut self, ten: bool) -> Result<MultiCrop, String> {
        self.wh = self.crop_size.wh("crop_size")?;
        self.ten = ten;
        Ok(self)
    }
}

impl Transform for MultiCrop {
    fn name(&self) -> &'static str {
        if self.ten { "TenCrop" } else { "ThreeCrop" }
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Decoded, Stage::Decoded)
    }

    fn apply(&self, sample: &mut Sample, _rng: &mut SampleRng) -> Result<(), String> {
        let (ih, iw) = sample.img_shape();
        let (cw, ch) = self.wh;
        if cw > iw || ch > ih {
            return Err(format!("a {cw}x{ch} crop does not fit a {iw}x{ih} frame"));
        }
        let offsets: Vec<(usize, usize)> = if self.ten {
            let (ws, hs) = ((iw - cw) / 4, (ih - ch) / 4);
            vec![
                (0, 0),
                (4 * ws, 0),
                (0, 4 * hs),
                (4 * ws, 4 * hs),
                (2 * ws, 2 * hs),
            ]
        } else if ch == ih {
            let ws = (iw - cw) / 2;
            vec![(0, 0), (2 * ws, 0), (ws, 0)]
        } else if cw == iw {
            let hs = (ih - ch) / 2;
            vec![(0, 0), (0, 2 * hs), (0, hs)]
        } else {
            return Err(format!(
                "ThreeCrop's {cw}x{ch} crop must span the {iw}x{ih} frame's height or width \
                 (resize the short side to the crop size first)"
            ));
        };
        // Crops outer, the views before them inner (MMAction2: crops outer, frames inner).
        let mut views = Vec::with_capacity(sample.views.len() * offsets.len() * 2);
        for (x, y) in offsets {
            let crops: Vec<View> = sample
                .views
                .iter()
                .map(|v| v.cropped(x, y, cw, ch))
                .collect();
            if self.ten {
                let flipped: Vec<View> = crops
                    .iter()
                    .map(|v| View {
                        flip_h: !v.flip_h,
                        ..*v
                    })
                    .collect();
                views.extend(crops);
                views.extend(flipped);
            } else {
                views.extend(crops);
            }
        }
        sample.views = views;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Frame;
    use crate::video::transforms::geometry::tests::{pixels, run, sample};

    #[test]
    fn multi_scale_crop_snaps_to_the_input_size_and_uses_fixed_places() {
        let m: MultiScaleCrop =
            toml::from_str("input_size = 64\nscales = [1, 0.875, 0.75, 0.66]").unwrap();
        let m = m.validate().unwrap();
        let mut sizes = std::collections::BTreeSet::new();
        for seed in 0..300 {
            let mut s = sample(96, 72, 1);
            run(&m, &mut s, seed);
            let (h, w) = s.img_shape();
            // Short side 72: sides 72, 63 -> 64 (snapped), 54, 47; scale gap at most 1.
            assert!([72, 64, 54, 47].contains(&h) && [72, 64, 54, 47].contains(&w));
            sizes.insert((w, h));
        }
        assert_eq!(sizes.len(), 10, "{sizes:?}");
    }

    #[test]
    fn three_and_ten_crop_make_views_in_mmaction2_order() {
        let t: MultiCrop = toml::from_str("crop_size = 4").unwrap();
        let t = t.validate(false).unwrap();
        let mut s = sample(8, 4, 2);
        run(&t, &mut s, 0);
        let f = pixels(&s);
        assert_eq!(f.len(), 6);
        // Crops left (x 0), right (x 4), middle (x 2); first pixel of frame 0 = x.
        assert_eq!([f[0].data[0], f[2].data[0], f[4].data[0]], [0, 4, 2]);
        let ten: MultiCrop = toml::from_str("crop_size = [4, 2]").unwrap();
        let ten = ten.validate(true).unwrap();
        let mut s = sample(8, 4, 1);
        run(&ten, &mut s, 0);
        let f = pixels(&s);
        assert_eq!(f.len(), 10);
        // The second view mirrors the first: its rows reversed pixel by pixel.
        let row = |fr: &Frame| fr.row(0).chunks(3).map(|p| p[0]).collect::<Vec<_>>();
        let mut mirrored = row(&f[0]);
        mirrored.reverse();
        assert_eq!(mirrored, row(&f[1]));
    }

    #[test]
    fn random_resized_crop_fits_the_frame() {
        let r: RandomResizedCrop = toml::from_str("").unwrap();
        let r = r.validate().unwrap();
        for seed in 0..100 {
            let mut s = sample(40, 30, 1);
            run(&r, &mut s, seed);
            let (h, w) = s.img_shape();
            assert!(h <= 30 && w <= 40 && h * w >= 40 * 30 / 20, "{w}x{h}");
        }
    }
}
