//! Synthetic data sets made from real images: Moving-Fashion-MNIST, the video data set of
//! weft's action-recognition tests, docs and benchmarks (no labelled action video can be
//! downloaded here, so the clips move real Fashion-MNIST garments, and the label is the
//! motion).

pub mod clip;
mod moving_fmnist;

pub use moving_fmnist::{Generated, Layouts, MovingFmnist, SplitSummary, VideoEncoding};
