//! One Moving-Fashion-MNIST clip: its drawn parameters and its frames.
//!
//! The rules are those of `gen_moving_fmnist.py`'s docstring (the reference generator in
//! `shared/peers/video/`), in integer arithmetic, so the raw frames match it bit for bit:
//! a SplitMix64 stream per clip draws the label and each item's source image, start and speed;
//! each item then moves (or zooms) on a torus, and a frame is the pixelwise maximum of its
//! items.

use crate::splitmix::SplitMix64;

/// Side of a Fashion-MNIST item in pixels.
pub const ITEM: usize = 28;

/// The motion of each translation class as (dx, dy) per unit of speed: right, left, up, down,
/// up-right, up-left, down-right, down-left. Classes 8 and 9 zoom in and out.
const DIRECTIONS: [(i64, i64); 8] = [
    (1, 0),
    (-1, 0),
    (0, -1),
    (0, 1),
    (1, -1),
    (-1, -1),
    (1, 1),
    (-1, 1),
];

/// The class names, in label order.
pub const CLASS_NAMES: [&str; 10] = [
    "right",
    "left",
    "up",
    "down",
    "up_right",
    "up_left",
    "down_right",
    "down_left",
    "zoom_in",
    "zoom_out",
];

/// The label a horizontal flip turns each class into (classes not listed keep theirs).
pub const FLIP_LABEL_MAP: [(u32, u32); 6] = [(0, 1), (1, 0), (4, 5), (5, 4), (6, 7), (7, 6)];

/// The shape of a clip and the ranges its parameters are drawn from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipShape {
    /// Frames per clip (T).
    pub frames: usize,
    /// Side of the square canvas in pixels (S, at least [`ITEM`]).
    pub size: usize,
    /// Items per clip are drawn from `1..=max_items`.
    pub max_items: usize,
    /// Slowest speed in pixels per frame (per axis; also the zoom rate).
    pub speed_min: usize,
    /// Fastest speed.
    pub speed_max: usize,
    /// 10 classes (with zoom in and out) instead of 8.
    pub zoom: bool,
}

impl ClipShape {
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        if self.zoom { 10 } else { 8 }
    }
}

/// One item of a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Index of the source image in its split of Fashion-MNIST.
    pub src: usize,
    /// Start column.
    pub x0: usize,
    /// Start row.
    pub y0: usize,
    /// Speed in pixels per frame.
    pub v: usize,
}

/// A clip's drawn parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipParams {
    /// The motion class.
    pub label: usize,
    /// The items, in draw order.
    pub items: Vec<Item>,
}

/// Draws the parameters of clip `index` of a split (`split_id` 0 for train, 1 for val) whose
/// source images number `sources`.
pub fn clip_params(
    seed: u64,
    split_id: u64,
    index: u64,
    sources: usize,
    shape: &ClipShape,
) -> ClipParams {
    let mut rng = SplitMix64(
        (seed << 32)
            .wrapping_add(split_id << 28)
            .wrapping_add(index),
    );
    let label = rng.below_modulo(shape.num_classes() as u64) as usize;
    let count = 1 + rng.below_modulo(shape.max_items as u64) as usize;
    let items = (0..count)
        .map(|_| Item {
            src: rng.below_modulo(sources as u64) as usize,
            x0: rng.below_modulo(shape.size as u64) as usize,
            y0: rng.below_modulo(shape.size as u64) as usize,
            v: shape.speed_min
                + rng.below_modulo((shape.speed_max - shape.speed_min + 1) as u64) as usize,
        })
        .collect();
    ClipParams { label, items }
}

/// Renders a clip: `T × S × S` grey bytes, frame after frame. `images` holds the split's
/// source images, `28 × 28` bytes each.
pub fn render(params: &ClipParams, images: &[u8], shape: &ClipShape) -> Vec<u8> {
    let (s, t_len) = (shape.size, shape.frames);
    let mut clip = vec![0u8; t_len * s * s];
    let wrap = |v: i64| v.rem_euclid(s as i64) as usize;
    let mut patch = vec![0u8; s * s];
    for item in &params.items {
        let image = &images[item.src * ITEM * ITEM..(item.src + 1) * ITEM * ITEM];
        let v = item.v as i64;
        for t in 0..t_len {
            let frame = &mut clip[t * s * s..(t + 1) * s * s];
            let (x, y, side, source): (usize, usize, usize, &[u8]) = if params.label < 8 {
                let (dx, dy) = DIRECTIONS[params.label];
                let x = wrap(item.x0 as i64 + dx * v * t as i64);
                let y = wrap(item.y0 as i64 + dy * v * t as i64);
                (x, y, ITEM, image)
            } else {
                let tt = if params.label == 8 { t } else { t_len - 1 - t } as i64;
                let grown = ITEM as i64 - v * ((t_len as i64 - 1) / 2) + v * tt;
                let side = grown.clamp(4, s as i64) as usize;
                // Nearest-neighbour resize: out[r, c] = item[(r * 28) / L, (c * 28) / L].
                for r in 0..side {
                    let sr = r * ITEM / side;
                    for c in 0..side {
                        patch[r * side + c] = image[sr * ITEM + c * ITEM / side];
                    }
                }
                let half = (side / 2) as i64;
                let x = wrap(item.x0 as i64 - half);
                let y = wrap(item.y0 as i64 - half);
                (x, y, side, &patch[..side * side])
            };
            for r in 0..side {
                let row = (y + r) % s;
                for c in 0..side {
                    let px = &mut frame[row * s + (x + c) % s];
                    *px = (*px).max(source[r * side + c]);
                }
            }
        }
    }
    clip
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(zoom: bool) -> ClipShape {
        ClipShape {
            frames: 16,
            size: 64,
            max_items: 2,
            speed_min: 1,
            speed_max: 3,
            zoom,
        }
    }

    #[test]
    fn draws_follow_the_stream_in_order() {
        // Seed 0, train, clip 0: the stream starts at state 0.
        let first = SplitMix64(0).next();
        let p = clip_params(0, 0, 0, 60000, &shape(false));
        assert_eq!(p.label, (first % 8) as usize);
        assert!((1..=2).contains(&p.items.len()));
        for item in &p.items {
            assert!(item.src < 60000 && item.x0 < 64 && item.y0 < 64);
            assert!((1..=3).contains(&item.v));
        }
    }

    #[test]
    fn a_translated_item_wraps_around_the_torus() {
        let mut image = vec![0u8; ITEM * ITEM];
        image[0] = 200; // the item's top-left pixel
        let params = ClipParams {
            label: 1, // left
            items: vec![Item {
                src: 0,
                x0: 1,
                y0: 5,
                v: 2,
            }],
        };
        let s = shape(false);
        let clip = render(&params, &image, &s);
        // Frame t: x = (1 - 2t) mod 64.
        for t in 0..4usize {
            let x = (1 - 2 * t as i64).rem_euclid(64) as usize;
            assert_eq!(clip[t * 64 * 64 + 5 * 64 + x], 200, "frame {t}");
        }
        assert_eq!(clip.iter().filter(|&&p| p > 0).count(), 16);
    }

    #[test]
    fn zoom_in_grows_the_item_and_zoom_out_shrinks_it() {
        let image = vec![255u8; ITEM * ITEM];
        let lit = |label| {
            let params = ClipParams {
                label,
                items: vec![Item {
                    src: 0,
                    x0: 32,
                    y0: 32,
                    v: 1,
                }],
            };
            let clip = render(&params, &image, &shape(true));
            (0..16)
                .map(|t| {
                    clip[t * 4096..(t + 1) * 4096]
                        .iter()
                        .filter(|&&p| p > 0)
                        .count()
                })
                .collect::<Vec<_>>()
        };
        let zoom_in = lit(8);
        // L_t = clamp(28 - 7 + t, 4, 64): 21 at t = 0, 36 at t = 15.
        assert_eq!(zoom_in[0], 21 * 21);
        assert_eq!(zoom_in[15], 36 * 36);
        let zoom_out = lit(9);
        assert_eq!(zoom_out, zoom_in.into_iter().rev().collect::<Vec<_>>());
    }
}
