//! `weft data moving-fmnist`: writes the Moving-Fashion-MNIST video data set.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, anyhow};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use weft_data::synth::clip::ClipShape;
use weft_data::synth::{Layouts, MovingFmnist, VideoEncoding};

/// `weft data moving-fmnist`'s arguments.
#[derive(Debug, Clone)]
pub struct MovingFmnistOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Train clips.
    pub train: usize,
    /// Val clips.
    pub val: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Canvas side.
    pub size: usize,
    /// Items per clip at most.
    pub max_items: usize,
    /// Slowest speed.
    pub speed_min: usize,
    /// Fastest speed.
    pub speed_max: usize,
    /// Add the zoom classes.
    pub zoom: bool,
    /// Seed.
    pub seed: u64,
    /// `rawframes`, `videos` or both.
    pub layouts: Vec<String>,
    /// JPEG quality.
    pub jpeg_quality: u8,
    /// libx264 CRF.
    pub crf: u32,
    /// libx264 preset.
    pub preset: String,
    /// Frames per second.
    pub fps: u32,
    /// Fashion-MNIST's folder.
    pub fmnist: PathBuf,
    /// Worker threads (default: one per core).
    pub jobs: Option<usize>,
    /// Replace a non-empty output folder.
    pub force: bool,
    /// Print one JSON object instead of a summary.
    pub json: bool,
}

/// Generates the data set and prints what was written.
pub fn moving_fmnist(o: &MovingFmnistOptions) -> Result<()> {
    let mut layouts = Layouts {
        rawframes: false,
        videos: false,
    };
    for l in &o.layouts {
        match l.as_str() {
            "rawframes" => layouts.rawframes = true,
            "videos" => layouts.videos = true,
            other => {
                return Err(anyhow!(
                    "unknown layout {other:?}: --layouts takes rawframes, videos or both"
                ));
            }
        }
    }
    let mut spec = MovingFmnist::defaults(o.fmnist.clone());
    spec.shape = ClipShape {
        frames: o.frames,
        size: o.size,
        max_items: o.max_items,
        speed_min: o.speed_min,
        speed_max: o.speed_max,
        zoom: o.zoom,
    };
    spec.train = o.train;
    spec.val = o.val;
    spec.seed = o.seed;
    spec.layouts = layouts;
    spec.jpeg_quality = o.jpeg_quality;
    spec.video = VideoEncoding {
        crf: o.crf,
        preset: o.preset.clone(),
        fps: o.fps,
    };
    if let Some(j) = o.jobs {
        spec.jobs = j;
    }
    spec.force = o.force;
    spec.check().map_err(|m| anyhow!(m))?;
    let bar = if std::io::stderr().is_terminal() && !o.json {
        let bar = ProgressBar::with_draw_target(
            Some((o.train + o.val) as u64),
            ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:32}] {pos}/{len} eta {eta}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix("clips");
        Some(bar)
    } else {
        None
    };
    let started = Instant::now();
    let done = spec
        .generate(&o.out, &|n, _| {
            if let Some(b) = &bar {
                b.set_position(n as u64);
            }
        })
        .map_err(|e| anyhow!(e))?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let wall = started.elapsed().as_secs_f64();
    let clips = o.train + o.val;
    if o.json {
        let splits: serde_json::Map<String, serde_json::Value> = done
            .splits
            .iter()
            .map(|s| {
                (
                    s.name.to_string(),
                    serde_json::json!({
                        "clips": s.clips,
                        "sha256_raw_frames": s.sha256_raw_frames,
                        "label_counts": s.label_counts,
                    }),
                )
            })
            .collect();
        let sizes: serde_json::Map<String, serde_json::Value> = done
            .sizes
            .iter()
            .map(|(l, files, bytes)| {
                (
                    l.to_string(),
                    serde_json::json!({"files": files, "bytes": bytes}),
                )
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "out": o.out.display().to_string(),
                "clips": clips,
                "wall_s": (wall * 1000.0).round() / 1000.0,
                "clips_per_s": (clips as f64 / wall * 10.0).round() / 10.0,
                "splits": splits,
                "sizes": sizes,
            })
        );
    } else {
        println!(
            "wrote {clips} clips to {} in {wall:.1} s ({:.0} clips/s)",
            o.out.display(),
            clips as f64 / wall
        );
        for s in &done.splits {
            println!(
                "  {:<5} {:>6} clips  raw frames sha256 {}",
                s.name, s.clips, s.sha256_raw_frames
            );
        }
        for (l, files, bytes) in &done.sizes {
            println!(
                "  {l:<9} {files} files, {:.1} MiB",
                *bytes as f64 / (1 << 20) as f64
            );
        }
    }
    Ok(())
}
