//! What flows through a pipeline: MMAction2's `results` dict as a struct, with only the keys
//! weft's transforms read and write.

use std::path::PathBuf;
use std::sync::Arc;

use crate::Frame;
use crate::codec::video::VideoReader;
use crate::video::template::FilenameTemplate;
use crate::video::view::View;

/// Where a sample's frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory of images named by a template (`img_{:05}.jpg`).
    Rawframes {
        /// The frame directory.
        dir: PathBuf,
        /// Added to every frame index.
        offset: usize,
        /// How frame files are named.
        tmpl: Arc<FilenameTemplate>,
    },
    /// A video file.
    Video {
        /// The file.
        path: PathBuf,
    },
}

impl Source {
    /// The directory or file, for messages.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Source::Rawframes { dir, .. } => dir,
            Source::Video { path } => path,
        }
    }
}

/// Floats after `Normalize`: frames of `channels × height × width` (channel planes, the
/// network's layout, so `FormatShape` only has to order the frames).
#[derive(Debug, Clone, PartialEq)]
pub struct FloatFrames {
    /// Rows per frame.
    pub height: usize,
    /// Columns per frame.
    pub width: usize,
    /// Channels per pixel.
    pub channels: usize,
    /// Every frame's values, frame after frame.
    pub data: Vec<f32>,
}

impl FloatFrames {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.data.len() / (self.height * self.width * self.channels).max(1)
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// One sample on its way through the pipeline.
pub struct Sample {
    /// Its index in the dataset.
    pub index: usize,
    /// Where its frames are.
    pub source: Source,
    /// Frames in the clip (`None` for a video until it is opened).
    pub total_frames: Option<usize>,
    /// The number of the first frame (1 for rawframes, 0 for videos).
    pub start_index: usize,
    /// The class (a flip may change it).
    pub label: usize,
    /// An open video (after `*Init`), consumed by `*Decode`.
    pub reader: Option<VideoReader>,
    /// Frame numbers to decode, clip after clip (after sampling).
    pub frame_inds: Vec<usize>,
    /// Frames per clip.
    pub clip_len: usize,
    /// Clips sampled.
    pub num_clips: usize,
    /// Decoded 8-bit frames (clips × frames).
    pub frames: Vec<Frame>,
    /// What the geometric transforms made of the frames, not yet sampled: one view per crop
    /// (`ThreeCrop` makes three); the network sees views × frames.
    pub views: Vec<View>,
    /// The frames after `Normalize`.
    pub floats: Option<FloatFrames>,
    /// The network input after `FormatShape`, and its shape.
    pub input: Option<(Vec<f32>, Vec<i64>)>,
}

impl Sample {
    /// A sample that has not been through any transform.
    pub fn new(
        index: usize,
        source: Source,
        total_frames: Option<usize>,
        start_index: usize,
        label: usize,
    ) -> Sample {
        Sample {
            index,
            source,
            total_frames,
            start_index,
            label,
            reader: None,
            frame_inds: Vec::new(),
            clip_len: 0,
            num_clips: 0,
            frames: Vec::new(),
            views: Vec::new(),
            floats: None,
            input: None,
        }
    }

    /// Sets the decoded frames, shown whole.
    pub fn set_frames(&mut self, frames: Vec<Frame>) {
        self.views = frames
            .first()
            .map(|f| vec![View::whole(f.width, f.height)])
            .unwrap_or_default();
        self.frames = frames;
    }

    /// `(height, width)` of what the network will see (MMAction2's `img_shape`).
    pub fn img_shape(&self) -> (usize, usize) {
        match (&self.floats, self.views.first()) {
            (Some(f), _) => (f.height, f.width),
            (None, Some(v)) => (v.height, v.width),
            (None, None) => (0, 0),
        }
    }
}
