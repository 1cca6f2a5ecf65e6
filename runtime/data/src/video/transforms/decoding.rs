//! Decoding: frame images (`RawFrameDecode`) and video files (`DecordInit`/`DecordDecode`,
//! `PyAVInit`/`PyAVDecode`, `OpenCVInit`/`OpenCVDecode`).
//!
//! MMAction2 offers three video backends that return the same RGB frames; weft has one
//! decoder (libavcodec, the library under all three) behind all their names, so configs keep
//! their pipelines. Their `mode = "efficient"` (key frames only) decodes accurately here.

use std::collections::HashMap;

use serde::Deserialize;

use crate::Frame;
use crate::codec::jpeg;
use crate::codec::video::VideoReader;
use crate::video::pipeline::{Stage, Transform};
use crate::video::rng::SampleRng;
use crate::video::sample::{Sample, Source};

fn disk() -> String {
    "disk".into()
}

/// Only local files are read (MMCV's `FileClient` backends for object stores are not).
pub fn check_backend(io_backend: &str) -> Result<(), String> {
    if io_backend == "disk" {
        Ok(())
    } else {
        Err(format!(
            "io_backend {io_backend:?} is not supported: weft reads local files (\"disk\")"
        ))
    }
}

/// `RawFrameDecode`: reads the sampled frames of a frame directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFrameDecode {
    #[serde(default = "disk")]
    io_backend: String,
    /// MMCV's image backend (`cv2`, `pillow`, `turbojpeg`): all decode to the same RGB.
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; one JPEG decoder serves all"
    )]
    decoding_backend: Option<String>,
}

impl RawFrameDecode {
    /// Checks the arguments.
    pub fn validate(&self) -> Result<(), String> {
        check_backend(&self.io_backend)
    }
}

impl Transform for RawFrameDecode {
    fn name(&self) -> &'static str {
        "RawFrameDecode"
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Sampled, Stage::Decoded)
    }

    fn apply(&self, sample: &mut Sample, _rng: &mut SampleRng) -> Result<(), String> {
        let Source::Rawframes { dir, offset, tmpl } = &sample.source else {
            return Err("this sample is a video: decode it with DecordDecode".into());
        };
        // A frame sampled twice is read once (as MMAction2's cache does).
        let mut seen: HashMap<usize, usize> = HashMap::new();
        let mut frames: Vec<Frame> = Vec::with_capacity(sample.frame_inds.len());
        for &index in &sample.frame_inds {
            if let Some(&at) = seen.get(&index) {
                let again = frames[at].clone();
                frames.push(again);
                continue;
            }
            let path = dir.join(tmpl.format(index + offset));
            let bytes = std::fs::read(&path)
                .map_err(|e| format!("cannot read frame {}: {e}", path.display()))?;
            let frame =
                jpeg::decode_rgb(&bytes).map_err(|e| format!("frame {}: {e}", path.display()))?;
            if let Some(first) = frames.first()
                && (first.height, first.width) != (frame.height, frame.width)
            {
                return Err(format!(
                    "frame {} is {}x{} but the clip's first frame is {}x{}",
                    path.display(),
                    frame.width,
                    frame.height,
                    first.width,
                    first.height
                ));
            }
            seen.insert(index, frames.len());
            frames.push(frame);
        }
        sample.set_frames(frames);
        Ok(())
    }
}

/// `DecordInit`, `PyAVInit`, `OpenCVInit`: open the video and count its frames.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoInit {
    #[serde(default = "disk")]
    io_backend: String,
    /// Decord's decoding threads (weft decodes one video per data worker).
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; decoding is single-threaded"
    )]
    num_threads: Option<u64>,
    #[serde(skip)]
    name: &'static str,
}

impl VideoInit {
    /// Checks the arguments and names the transform.
    pub fn named(mut self, name: &'static str) -> Result<VideoInit, String> {
        check_backend(&self.io_backend)?;
        if name != "DecordInit" && self.num_threads.is_some() {
            return Err(format!("{name} has no `num_threads` (DecordInit has)"));
        }
        self.name = name;
        Ok(self)
    }
}

impl Transform for VideoInit {
    fn name(&self) -> &'static str {
        self.name
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Listed, Stage::Counted)
    }

    fn apply(&self, sample: &mut Sample, _rng: &mut SampleRng) -> Result<(), String> {
        let Source::Video { path } = &sample.source else {
            return Err("this sample is a frame directory: decode it with RawFrameDecode".into());
        };
        let reader = VideoReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if reader.is_empty() {
            return Err(format!("{}: the video has no frames", path.display()));
        }
        sample.total_frames = Some(reader.len());
        sample.reader = Some(reader);
        Ok(())
    }
}

/// `DecordDecode`, `PyAVDecode`, `OpenCVDecode`: decode the sampled frames.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoDecode {
    /// `accurate` or `efficient` (decoded accurately either way).
    mode: Option<String>,
    /// PyAV's threaded decoding (weft decodes one video per data worker).
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; decoding is single-threaded"
    )]
    multi_thread: Option<bool>,
    #[serde(skip)]
    name: &'static str,
}

impl VideoDecode {
    /// Checks the arguments and names the transform.
    pub fn named(mut self, name: &'static str) -> Result<VideoDecode, String> {
        match (name, self.mode.as_deref()) {
            (_, None) => {}
            ("OpenCVDecode", Some(m)) => {
                return Err(format!("OpenCVDecode has no `mode` (found {m:?})"));
            }
            (_, Some("accurate" | "efficient")) => {}
            (_, Some(m)) => {
                return Err(format!(
                    "mode must be \"accurate\" or \"efficient\", not {m:?}"
                ));
            }
        }
        if name != "PyAVDecode" && self.multi_thread.is_some() {
            return Err(format!("{name} has no `multi_thread` (PyAVDecode has)"));
        }
        self.name = name;
        Ok(self)
    }
}

impl Transform for VideoDecode {
    fn name(&self) -> &'static str {
        self.name
    }

    fn stages(&self) -> (Stage, Stage) {
        (Stage::Sampled, Stage::Decoded)
    }

    fn apply(&self, sample: &mut Sample, _rng: &mut SampleRng) -> Result<(), String> {
        let Some(mut reader) = sample.reader.take() else {
            return Err("the video was not opened (put DecordInit before SampleFrames)".into());
        };
        // The frame numbers are the video's own (`start_index` is 0 for videos), as decord
        // takes them.
        let indices = std::mem::take(&mut sample.frame_inds);
        let frames = reader
            .read(&indices)
            .map_err(|e| format!("{}: {e}", sample.source.path().display()))?;
        sample.set_frames(frames);
        sample.frame_inds = indices;
        Ok(())
    }
}
