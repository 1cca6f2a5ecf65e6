//! An 8-bit image in height × width × channels order: what the decoders produce and the
//! geometric transforms work on, before normalisation turns it into floats.

/// Interleaved 8-bit pixels, row-major (`HWC`, as OpenCV and MMAction2 hold frames).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Channels per pixel (3 for RGB).
    pub channels: usize,
    /// `height * width * channels` bytes.
    pub data: Vec<u8>,
}

impl Frame {
    /// A black frame.
    pub fn zeros(height: usize, width: usize, channels: usize) -> Frame {
        Frame {
            height,
            width,
            channels,
            data: vec![0; height * width * channels],
        }
    }

    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.width * self.channels
    }

    /// One row's bytes.
    pub fn row(&self, y: usize) -> &[u8] {
        let s = self.stride();
        &self.data[y * s..(y + 1) * s]
    }
}
