//! Image and video codecs: JPEG (pure Rust) and H.264 (libavcodec).
//!
//! Decoders return [`Frame`](crate::Frame)s in RGB, as MMAction2's decoders do (OpenCV's
//! `IMREAD_COLOR` turned to RGB, decord's RGB output), so a grey JPEG becomes three equal
//! channels.

pub mod jpeg;
pub mod video;
