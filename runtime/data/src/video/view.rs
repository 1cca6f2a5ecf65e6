//! Deferred geometry: what the resizes, crops and flips of a pipeline make of the decoded
//! frames, kept as a box in source pixels, an output size and flips, and sampled once.
//!
//! MMAction2 resizes, crops and resizes again, interpolating twice (its `lazy` mode instead
//! composes them and samples once, at `Fuse`). weft always composes: each geometric transform
//! updates a [`View`], and the frames are sampled when something needs pixels (`ColorJitter`)
//! or straight into the normalised network input (`Normalize`). One bilinear pass from the
//! decoded frames costs a third of MMAction2's eager chain and blurs less; the boxes, sizes,
//! flips and their random draws are MMAction2's.

use crate::Frame;

/// How a resize samples its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// The nearest source pixel (`cv2.INTER_NEAREST`).
    Nearest,
    /// A weighted mean of the four nearest pixels (`cv2.INTER_LINEAR`).
    Bilinear,
}

impl Interpolation {
    /// Parses mmcv's names.
    pub fn parse(name: &str) -> Result<Interpolation, String> {
        match name {
            "bilinear" => Ok(Interpolation::Bilinear),
            "nearest" => Ok(Interpolation::Nearest),
            other => Err(format!(
                "interpolation {other:?} is not supported: use \"bilinear\" or \"nearest\""
            )),
        }
    }
}

/// One view of the decoded frames: the source box it shows, the size it shows it at, and
/// whether it is mirrored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Left, top, right, bottom, in source pixels.
    pub bbox: [f64; 4],
    /// Output width.
    pub width: usize,
    /// Output height.
    pub height: usize,
    /// Mirrored left to right.
    pub flip_h: bool,
    /// Mirrored top to bottom.
    pub flip_v: bool,
    /// How the last resize samples (a crop keeps it).
    pub interpolation: Interpolation,
}

impl View {
    /// The whole of a `width × height` frame, unchanged.
    pub fn whole(width: usize, height: usize) -> View {
        View {
            bbox: [0.0, 0.0, width as f64, height as f64],
            width,
            height,
            flip_h: false,
            flip_v: false,
            interpolation: Interpolation::Bilinear,
        }
    }

    /// Shown at another size.
    pub fn resized(mut self, width: usize, height: usize, how: Interpolation) -> View {
        self.width = width;
        self.height = height;
        self.interpolation = how;
        self
    }

    /// The part `[x, x + w) × [y, y + h)` of what the view shows (in its output pixels).
    pub fn cropped(mut self, x: usize, y: usize, w: usize, h: usize) -> View {
        // A mirrored view's left edge is its box's right edge.
        let x = if self.flip_h { self.width - (x + w) } else { x };
        let y = if self.flip_v {
            self.height - (y + h)
        } else {
            y
        };
        let [x0, y0, x1, y1] = self.bbox;
        let (sx, sy) = (
            (x1 - x0) / self.width as f64,
            (y1 - y0) / self.height as f64,
        );
        self.bbox = [
            x0 + x as f64 * sx,
            y0 + y as f64 * sy,
            x0 + (x + w) as f64 * sx,
            y0 + (y + h) as f64 * sy,
        ];
        self.width = w;
        self.height = h;
        self
    }

    /// Whether the view shows the `width × height` frame as it is.
    fn is_identity(&self, width: usize, height: usize) -> bool {
        !self.flip_h
            && !self.flip_v
            && (self.width, self.height) == (width, height)
            && self.bbox == [0.0, 0.0, width as f64, height as f64]
    }
}

/// For each output coordinate along one axis: the two source coordinates and their weights.
fn taps(
    lo: f64,
    hi: f64,
    src: usize,
    out: usize,
    flip: bool,
    how: Interpolation,
) -> Vec<(usize, usize, f32, f32)> {
    let scale = (hi - lo) / out as f64;
    (0..out)
        .map(|o| {
            let o = if flip { out - 1 - o } else { o };
            match how {
                Interpolation::Nearest => {
                    let s = ((lo + o as f64 * scale) as usize).min(src - 1);
                    (s, s, 1.0, 0.0)
                }
                Interpolation::Bilinear => {
                    // Pixel centres at half-integers, edges replicated (cv2.resize's rule);
                    // weights quantised to 11 bits as OpenCV's are.
                    let f = lo + (o as f64 + 0.5) * scale - 0.5;
                    let a = f.floor();
                    let (a, frac) = if a < 0.0 {
                        (0, 0.0)
                    } else if a as usize >= src - 1 {
                        (src - 1, 0.0)
                    } else {
                        (a as usize, f - a)
                    };
                    let w0 = ((1.0 - frac) * 2048.0).round() as f32 / 2048.0;
                    (a, (a + 1).min(src - 1), w0, 1.0 - w0)
                }
            }
        })
        .collect()
}

/// The bytes of a row the column taps read (a crop reads only part of each row).
fn columns(xs: &[(usize, usize, f32, f32)], channels: usize) -> std::ops::Range<usize> {
    let first = xs.iter().map(|t| t.0).min().unwrap_or(0);
    let last = xs.iter().map(|t| t.1).max().unwrap_or(0);
    first * channels..(last + 1) * channels
}

/// `row[span] = a * w0 + b * w1` for the two source rows of one output row's tap.
fn blend_rows(
    frame: &Frame,
    (a, b, w0, w1): (usize, usize, f32, f32),
    span: std::ops::Range<usize>,
    row: &mut [f32],
) {
    let (ra, rb) = (&frame.row(a)[span.clone()], &frame.row(b)[span.clone()]);
    for ((r, &pa), &pb) in row[span].iter_mut().zip(ra).zip(rb) {
        *r = pa as f32 * w0 + pb as f32 * w1;
    }
}

/// Samples one view of a frame, calling `emit(channel, index, value)` for each output value
/// (`index` runs over the output's `height × width` pixels).
fn sample(frame: &Frame, view: &View, mut emit: impl FnMut(usize, usize, f32)) {
    let c = frame.channels;
    let (w, h) = (view.width, view.height);
    let [x0, y0, x1, y1] = view.bbox;
    let xs = taps(x0, x1, frame.width, w, view.flip_h, view.interpolation);
    let ys = taps(y0, y1, frame.height, h, view.flip_v, view.interpolation);
    // Rows first (a contiguous blend that vectorises), then the columns of that one row.
    let span = columns(&xs, c);
    let mut row = vec![0f32; frame.width * c];
    for (oy, &y) in ys.iter().enumerate() {
        blend_rows(frame, y, span.clone(), &mut row);
        let base = oy * w;
        for (ox, &(a, b, u0, u1)) in xs.iter().enumerate() {
            let (pa, pb) = (&row[a * c..a * c + c], &row[b * c..b * c + c]);
            for k in 0..c {
                emit(k, base + ox, pa[k] * u0 + pb[k] * u1);
            }
        }
    }
}

/// The 8-bit frames every view shows, views outer, frames inner (MMAction2's order for
/// multi-crop views).
pub fn materialize(frames: &[Frame], views: &[View]) -> Vec<Frame> {
    let mut out = Vec::with_capacity(frames.len() * views.len());
    for view in views {
        for frame in frames {
            if view.is_identity(frame.width, frame.height) {
                out.push(frame.clone());
                continue;
            }
            let c = frame.channels;
            let mut data = vec![0u8; view.width * view.height * c];
            sample(frame, view, |k, i, v| {
                // Round half up; a blend of 0-255 values stays in 0-255.
                data[i * c + k] = (v + 0.5).min(255.0) as u8;
            });
            out.push(Frame {
                height: view.height,
                width: view.width,
                channels: c,
                data,
            });
        }
    }
    out
}

/// Every view of every frame, normalised (`(v - mean[k]) * inv_std[k]`, channel `k` taken from
/// source channel `order[k]`) into channel planes: views outer, frames inner, `C × H × W` each.
/// Frames must be RGB.
pub fn normalized(
    frames: &[Frame],
    views: &[View],
    order: [usize; 3],
    mean: [f32; 3],
    inv_std: [f32; 3],
) -> Vec<f32> {
    let Some(view) = views.first() else {
        return Vec::new();
    };
    let plane = view.width * view.height;
    let mut out = vec![0f32; views.len() * frames.len() * 3 * plane];
    let mut chunks = out.chunks_exact_mut(3 * plane);
    for view in views {
        for frame in frames {
            let dst = chunks.next().expect("one chunk per view and frame");
            normalize_one(frame, view, order, mean, inv_std, dst);
        }
    }
    out
}

/// [`sample`] specialised to RGB with the normalisation folded in: the hot loop of a video
/// pipeline, written so each output plane is a straight run of stores.
fn normalize_one(
    frame: &Frame,
    view: &View,
    order: [usize; 3],
    mean: [f32; 3],
    inv: [f32; 3],
    dst: &mut [f32],
) {
    let (w, h) = (view.width, view.height);
    let [x0, y0, x1, y1] = view.bbox;
    let xs = taps(x0, x1, frame.width, w, view.flip_h, view.interpolation);
    let ys = taps(y0, y1, frame.height, h, view.flip_v, view.interpolation);
    let span = columns(&xs, 3);
    let mut row = vec![0f32; frame.width * 3];
    let (p0, rest) = dst.split_at_mut(w * h);
    let (p1, p2) = rest.split_at_mut(w * h);
    let [s0, s1, s2] = order;
    for (oy, &y) in ys.iter().enumerate() {
        blend_rows(frame, y, span.clone(), &mut row);
        let line = oy * w..(oy + 1) * w;
        let (o0, o1, o2) = (&mut p0[line.clone()], &mut p1[line.clone()], &mut p2[line]);
        for (((&(a, b, u0, u1), d0), d1), d2) in xs.iter().zip(o0).zip(o1).zip(o2) {
            let (pa, pb) = (&row[a * 3..a * 3 + 3], &row[b * 3..b * 3 + 3]);
            *d0 = (pa[s0] * u0 + pb[s0] * u1 - mean[0]) * inv[0];
            *d1 = (pa[s1] * u0 + pb[s1] * u1 - mean[1]) * inv[1];
            *d2 = (pa[s2] * u0 + pb[s2] * u1 - mean[2]) * inv[2];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(width: usize, height: usize, f: impl Fn(usize, usize) -> u8) -> Frame {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                data.push(f(x, y));
            }
        }
        Frame {
            height,
            width,
            channels: 1,
            data,
        }
    }

    fn one(frame: &Frame, view: View) -> Vec<u8> {
        materialize(std::slice::from_ref(frame), &[view])[0]
            .data
            .clone()
    }

    #[test]
    fn bilinear_resizing_matches_opencv_on_simple_rows() {
        // cv2.resize of [[0, 100, 200, 250]] to width 2: centres at 0.5 and 2.5 -> 50, 225.
        let f = grey(4, 1, |x, _| [0, 100, 200, 250][x]);
        assert_eq!(
            one(&f, View::whole(4, 1).resized(2, 1, Interpolation::Bilinear)),
            vec![50, 225]
        );
        // Doubling: edges replicate; inner pixels interpolate at quarter positions.
        let f = grey(2, 1, |x, _| [0, 100][x]);
        assert_eq!(
            one(&f, View::whole(2, 1).resized(4, 1, Interpolation::Bilinear)),
            vec![0, 25, 75, 100]
        );
    }

    #[test]
    fn crops_and_flips_compose_into_one_box() {
        let f = grey(4, 4, |x, y| (y * 4 + x) as u8);
        let whole = View::whole(4, 4);
        assert_eq!(
            one(&f, whole.resized(2, 2, Interpolation::Nearest)),
            vec![0, 2, 8, 10]
        );
        assert_eq!(one(&f, whole.cropped(1, 2, 2, 2)), vec![9, 10, 13, 14]);
        let mut h = whole.cropped(1, 2, 2, 2);
        h.flip_h = true;
        assert_eq!(one(&f, h), vec![10, 9, 14, 13]);
        let mut v = whole.cropped(1, 2, 2, 2);
        v.flip_v = true;
        assert_eq!(one(&f, v), vec![13, 14, 9, 10]);
        // Flip, then crop the left half of what is shown: the source's right half, mirrored.
        let mut flipped = whole;
        flipped.flip_h = true;
        assert_eq!(one(&f, flipped.cropped(0, 0, 2, 1)), vec![3, 2]);
        // Resize to 8x8 then crop the 4x4 centre: the source's centre 2x2 box at 4x4.
        let zoom = whole
            .resized(8, 8, Interpolation::Bilinear)
            .cropped(2, 2, 4, 4);
        assert_eq!(zoom.bbox, [1.0, 1.0, 3.0, 3.0]);
    }

    #[test]
    fn normalisation_writes_channel_planes_in_the_asked_order() {
        let f = Frame {
            height: 1,
            width: 2,
            channels: 3,
            data: vec![10, 20, 30, 40, 50, 60],
        };
        let v = normalized(
            &[f],
            &[View::whole(2, 1)],
            [2, 1, 0],
            [1.0, 2.0, 3.0],
            [0.5, 0.25, 2.0],
        );
        // BGR planes: (30 - 1) / 2, (60 - 1) / 2; (20 - 2) / 4, (50 - 2) / 4; (10 - 3) * 2, ...
        assert_eq!(v, vec![14.5, 29.5, 4.5, 12.0, 14.0, 74.0]);
    }
}
