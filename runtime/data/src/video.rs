//! # Video datasets: MMAction2's `RawframeDataset` and `VideoDataset`
//!
//! ```text
//! annotation list ──► Entry (path, frame count, label)          ann.rs
//!        │
//!        ▼  per sample, on a loader worker, with its own random stream (rng.rs: seed, epoch, index)
//! Sample ──► SampleFrames ──► RawFrameDecode | DecordInit+DecordDecode ──► Resize, crops, Flip
//!            (composed into views, view.rs) ──► ColorJitter (8-bit frames) ──► Normalize
//!            (sampled once, into floats) ──► FormatShape (NCHW | NCTHW)
//!        │                                                     transforms/*.rs, run by pipeline.rs
//!        ▼
//! Batch: inputs [N, views, C, H, W] or [N, views, C, T, H, W], labels [N]     dataset.rs
//! ```
//!
//! The pipeline is checked when the config is read (every transform's keys, and their order:
//! see [`pipeline::Stage`]); the list and the files it names are checked when the dataset is
//! built; a sample that still fails names its index, path and list line.

pub mod ann;
pub mod dataset;
pub mod pipeline;
pub mod rng;
pub mod sample;
pub mod template;
pub mod transforms;
pub mod view;

pub use dataset::ClipDataset;
