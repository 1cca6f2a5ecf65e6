//! Formatting: `FormatShape` lays the floats out as the network input (`NCHW` for 2D
//! recognizers, `NCTHW` for 3D ones); `Collect`, `ToTensor` and `Fuse` are accepted so
//! MMAction2 pipelines load unchanged (weft's samples are already the network input and its
//! label).

use serde::Deserialize;

use crate::video::pipeline::{Stage, Transform};
use crate::video::rng::SampleRng;
use crate::video::sample::Sample;

/// The layouts `FormatShape` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `[views × frames, C, H, W]`.
    Nchw,
    /// `[views, C, T, H, W]`: each clip of `clip_len` frames becomes one volume.
    Ncthw,
}

/// `FormatShape`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatShape {
    input_format: String,
    #[serde(default)]
    collapse: bool,
    #[serde(skip, default = "nchw")]
    layout: Layout,
}

fn nchw() -> Layout {
    Layout::Nchw
}

impl FormatShape {
    /// Checks the arguments.
    pub fn validate(mut self) -> Result<FormatShape, String> {
        self.layout = match self.input_format.as_str() {
            "NCHW" => Layout::Nchw,
            "NCTHW" => Layout::Ncthw,
            "NCHW_Flow" | "NPTCHW" => {
                return Err(format!(
                    "input_format {:?} is for optical flow or proposals, which weft does not load: use \"NCHW\" or \"NCTHW\"",
                    self.input_format
                ));
            }
            other => {
                return Err(format!(
                    "input_format must be \"NCHW\" or \"NCTHW\", not {other:?}"
                ));
            }
        };
        if self.collapse {
            return Err("collapse = true is for detectors; recognizers take N views".into());
        }
        Ok(self)
    }
}

impl Transform for FormatShape {
    fn name(&self) -> &'static str {
        "FormatShape"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Normalized, Stage::Shaped)
    }

    fn apply(&self, sample: &mut Sample, _rng: &mut SampleRng) -> Result<(), String> {
        let floats = sample
            .floats
            .take()
            .ok_or("no normalised frames to format")?;
        let (h, w, c) = (floats.height, floats.width, floats.channels);
        let m = floats.len();
        let plane = h * w;
        let (out, shape) = match self.layout {
            // The frames are already [M, C, H, W].
            Layout::Nchw => (floats.data, vec![m as i64, c as i64, h as i64, w as i64]),
            Layout::Ncthw => {
                // [views × clips × L, C, H, W] -> [views × clips, C, L, H, W]: plane copies.
                let l = sample.clip_len.max(1);
                if m % l != 0 {
                    return Err(format!(
                        "{m} frames do not split into clips of clip_len = {l}"
                    ));
                }
                let volumes = m / l;
                let src = &floats.data;
                let mut out = vec![0f32; src.len()];
                for v in 0..volumes {
                    for t in 0..l {
                        for k in 0..c {
                            let from = ((v * l + t) * c + k) * plane;
                            let to = ((v * c + k) * l + t) * plane;
                            out[to..to + plane].copy_from_slice(&src[from..from + plane]);
                        }
                    }
                }
                (
                    out,
                    vec![volumes as i64, c as i64, l as i64, h as i64, w as i64],
                )
            }
        };
        sample.input = Some((out, shape));
        Ok(())
    }
}

/// `Collect` and `ToTensor`: the input and label are what a weft sample carries; asking for
/// anything else is an error (`meta_keys` are accepted: weft keeps no per-sample metadata).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collect {
    keys: Vec<String>,
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; weft keeps no metadata"
    )]
    meta_keys: Option<Vec<String>>,
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; weft keeps no metadata"
    )]
    meta_name: Option<String>,
    #[serde(default)]
    nested: bool,
    #[serde(skip)]
    name: &'static str,
}

impl Collect {
    /// Checks the arguments and names the transform (`Collect` or `ToTensor`).
    pub fn named(mut self, name: &'static str) -> Result<Collect, String> {
        if let Some(other) = self.keys.iter().find(|k| *k != "imgs" && *k != "label") {
            return Err(format!(
                "{name} can keep \"imgs\" and \"label\"; weft does not load {other:?}"
            ));
        }
        if name == "Collect" && !self.keys.iter().any(|k| k == "imgs") {
            return Err("Collect must keep \"imgs\" (the network input)".into());
        }
        if self.nested {
            return Err("nested = true is for detectors; recognizers take flat inputs".into());
        }
        if name == "ToTensor" && (self.meta_keys.is_some() || self.meta_name.is_some()) {
            return Err("ToTensor has only `keys`".into());
        }
        self.name = name;
        Ok(self)
    }
}

impl Transform for Collect {
    fn name(&self) -> &'static str {
        self.name
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Shaped, Stage::Shaped)
    }

    fn apply(&self, _sample: &mut Sample, _rng: &mut SampleRng) -> Result<(), String> {
        Ok(())
    }
}

/// `Fuse`: ends MMCV's lazy mode, which weft does not defer (see `lazy` in geometry.rs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fuse {}

impl Transform for Fuse {
    fn name(&self) -> &'static str {
        "Fuse"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Decoded, Stage::Decoded)
    }

    fn apply(&self, _sample: &mut Sample, _rng: &mut SampleRng) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::sample::{FloatFrames, Source};

    fn shaped(format: &str, frames: usize, clip_len: usize) -> (Vec<f32>, Vec<i64>) {
        let f: FormatShape = toml::from_str(&format!("input_format = {format:?}")).unwrap();
        let f = f.validate().unwrap();
        let mut s = Sample::new(0, Source::Video { path: "x".into() }, Some(1), 0, 0);
        s.clip_len = clip_len;
        // Value = frame * 100 + pixel * 10 + channel, for 2x1 frames in channel planes.
        let data = (0..frames)
            .flat_map(|f| {
                (0..3).flat_map(move |k| (0..2).map(move |p| (f * 100 + p * 10 + k) as f32))
            })
            .collect();
        s.floats = Some(FloatFrames {
            height: 1,
            width: 2,
            channels: 3,
            data,
        });
        f.apply(&mut s, &mut SampleRng::new(0, 0, 0)).unwrap();
        s.input.unwrap()
    }

    #[test]
    fn nchw_moves_channels_first() {
        let (v, shape) = shaped("NCHW", 2, 1);
        assert_eq!(shape, vec![2, 3, 1, 2]);
        assert_eq!(&v[..6], &[0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
        assert_eq!(v[6], 100.0);
    }

    #[test]
    fn ncthw_makes_one_volume_per_clip() {
        let (v, shape) = shaped("NCTHW", 4, 2);
        assert_eq!(shape, vec![2, 3, 2, 1, 2]);
        // Volume 0, channel 1: frames 0 and 1, pixels 0 and 1.
        assert_eq!(&v[4..8], &[1.0, 11.0, 101.0, 111.0]);
        // Volume 1 starts with frame 2, channel 0.
        assert_eq!(v[12], 200.0);
    }
}
