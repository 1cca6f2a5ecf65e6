//! `weft data moving-fmnist`: writes the Moving-Fashion-MNIST video data set.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, anyhow};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use weft_data::synth::clip::ClipShape;
use weft_data::synth::{Layouts, MovingFmnist, VideoEncoding};

/// `weft data moving-fmnist`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct MovingFmnistOptions {
    /// The folder to write (new or empty; see --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Train clips (items from Fashion-MNIST's train split).
    #[arg(long, default_value_t = 2000)]
    pub train: usize,
    /// Val clips (items from t10k).
    #[arg(long, default_value_t = 500)]
    pub val: usize,
    /// Frames per clip.
    #[arg(long, default_value_t = 16)]
    pub frames: usize,
    /// Side of the square canvas in pixels (at least 28).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Items per clip are 1..=max-items.
    #[arg(long, default_value_t = 2)]
    pub max_items: usize,
    /// Slowest speed in pixels per frame.
    #[arg(long, default_value_t = 1)]
    pub speed_min: usize,
    /// Fastest speed in pixels per frame.
    #[arg(long, default_value_t = 3)]
    pub speed_max: usize,
    /// Add classes 8 (zoom in) and 9 (zoom out).
    #[arg(long)]
    pub zoom: bool,
    /// Seed (below 2^32).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Layouts to write: rawframes, videos.
    #[arg(long, value_delimiter = ',', default_value = "videos,rawframes")]
    pub layouts: Vec<String>,
    /// JPEG quality of the raw frames (1-100).
    #[arg(long, default_value_t = 95)]
    pub jpeg_quality: u8,
    /// libx264 quality (0-51, lower is better).
    #[arg(long, default_value_t = 18)]
    pub crf: u32,
    /// libx264 preset.
    #[arg(long, default_value = "medium")]
    pub preset: String,
    /// Frames per second of the videos.
    #[arg(long, default_value_t = 16)]
    pub fps: u32,
    /// Folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
    #[arg(
        long,
        env = "FASHION_MNIST",
        default_value = "/usr/share/datasets/fashion-mnist"
    )]
    pub fmnist: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Replace --out if it is not empty.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object (with each split's SHA-256 of the raw frames).
    #[arg(long)]
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
