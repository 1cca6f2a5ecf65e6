//! Benchmark: clips per second through weft's video data pipeline into collated batches, on
//! the two pipelines of `shared/peers/video/bench_pipeline.py` (the TSN 1x1x8 and I3D 8x2x1
//! training pipelines of MMAction2 0.24.1, scaled to 64x64 crops of 72-pixel short sides),
//! on both layouts, with 0 and 2 data workers. `benches/video_pipeline.sh` runs it next to
//! MMAction2's own pipeline on the same data.
//!
//! Per configuration: a fresh loader, 10 warm-up batches, then at least 100 batches of 16 and
//! 5 seconds; configurations interleaved `BENCH_REPEATS` (3) times; the median is printed as
//! one JSON line with every run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use weft_config::Config;
use weft_data::{Dataset, Loader, LoaderSettings, build_dataset};

const BATCH: usize = 16;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The data set: `BENCH_DATA`, else `data/mfmnist`, made with the defaults when missing.
fn data_root() -> PathBuf {
    let root = std::env::var("BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("data/mfmnist"));
    if !root.join("meta.json").is_file() {
        eprintln!("generating {} (2000 + 500 clips)", root.display());
        let spec =
            weft_data::synth::MovingFmnist::defaults("/usr/share/datasets/fashion-mnist".into());
        spec.generate(&root, &|_, _| {})
            .expect("the benchmark data set generates");
    }
    root
}

fn dataset(root: &Path, layout: &str, pipe: &str) -> Arc<dyn Dataset> {
    let (sampler, scales, gap, fmt) = match pipe {
        "tsn" => (
            "clip_len = 1, frame_interval = 1, num_clips = 8",
            "[1, 0.875, 0.75, 0.66]",
            1,
            "NCHW",
        ),
        _ => (
            "clip_len = 8, frame_interval = 2, num_clips = 1",
            "[1, 0.8]",
            0,
            "NCTHW",
        ),
    };
    let sample = format!(r#"{{ type = "SampleFrames", {sampler} }}"#);
    let (ty, list, decode) = if layout == "rawframes" {
        (
            "RawframeDataset",
            "train_list_rawframes.txt",
            format!(r#"{sample}, {{ type = "RawFrameDecode" }}"#),
        )
    } else {
        (
            "VideoDataset",
            "train_list_videos.txt",
            format!(r#"{{ type = "DecordInit" }}, {sample}, {{ type = "DecordDecode" }}"#),
        )
    };
    let text = format!(
        r#"
[data.train]
type = "{ty}"
ann_file = "{root}/{list}"
data_prefix = "{root}/{layout}"
pipeline = [
    {decode},
    {{ type = "Resize", scale = [-1, 72] }},
    {{ type = "MultiScaleCrop", input_size = 64, scales = {scales}, random_crop = false, max_wh_scale_gap = {gap} }},
    {{ type = "Resize", scale = [64, 64], keep_ratio = false }},
    {{ type = "Flip", flip_ratio = 0.5, flip_label_map = {{ 0 = 1, 1 = 0, 4 = 5, 5 = 4, 6 = 7, 7 = 6 }} }},
    {{ type = "Normalize", mean = [123.675, 116.28, 103.53], std = [58.395, 57.12, 57.375], to_bgr = false }},
    {{ type = "FormatShape", input_format = "{fmt}" }},
    {{ type = "Collect", keys = ["imgs", "label"], meta_keys = [] }},
    {{ type = "ToTensor", keys = ["imgs", "label"] }},
]
"#,
        root = root.display()
    );
    let dir = std::env::temp_dir().join(format!("weft-bench-video-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{layout}_{pipe}.toml"));
    std::fs::write(&path, text).unwrap();
    let cfg = Config::from_file(&path).unwrap();
    match build_dataset(cfg.get("data.train").unwrap(), &cfg) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    }
}

/// Clips per second of one timed run.
fn run(ds: &Arc<dyn Dataset>, workers: usize, min_batches: usize, min_secs: f64) -> f64 {
    let mut loader = Loader::new(
        ds.clone(),
        LoaderSettings {
            batch_size: BATCH,
            workers,
            shuffle: true,
            drop_last: true,
            prefetch: 2,
            seed: 0,
            pin_memory: false,
            shard: weft_data::Shard::default(),
        },
    );
    let mut epoch = 0;
    let mut next = |loader: &mut Loader| loop {
        match loader.next_batch().expect("a batch") {
            Some(b) => return b,
            None => {
                epoch += 1;
                loader.start_epoch(epoch, 0);
            }
        }
    };
    loader.start_epoch(0, 0);
    for _ in 0..10 {
        next(&mut loader);
    }
    let started = Instant::now();
    let mut batches = 0;
    while batches < min_batches || started.elapsed().as_secs_f64() < min_secs {
        let b = next(&mut loader);
        std::hint::black_box(&b.inputs);
        batches += 1;
    }
    (batches * BATCH) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    // As the `weft` binary does (see its allocator module).
    weft::allocator::keep_freed_memory();
    // One libtorch thread: batches are collated on the workers, and the training step (not
    // measured here) would own the cores.
    tch::set_num_threads(1);
    let repeats: usize = env_or("BENCH_REPEATS", 3);
    let min_batches: usize = env_or("BENCH_ITERS", 100);
    let min_secs: f64 = env_or("BENCH_MIN_TIME", 5.0);
    let layouts: Vec<String> = std::env::var("BENCH_LAYOUTS")
        .unwrap_or_else(|_| "rawframes,videos".into())
        .split(',')
        .map(str::to_string)
        .collect();
    let workers: Vec<usize> = std::env::var("BENCH_WORKERS")
        .unwrap_or_else(|_| "0,2".into())
        .split(',')
        .filter_map(|w| w.parse().ok())
        .collect();
    let root = data_root();
    let mut configs = Vec::new();
    for layout in &layouts {
        for pipe in ["tsn", "i3d"] {
            let ds = dataset(&root, layout, pipe);
            for &w in &workers {
                configs.push((layout.clone(), pipe, w, ds.clone(), Vec::new()));
            }
        }
    }
    for _ in 0..repeats {
        for (_, _, w, ds, runs) in configs.iter_mut() {
            runs.push(run(ds, *w, min_batches, min_secs));
        }
    }
    for (layout, pipe, w, _, mut runs) in configs {
        let all = runs.clone();
        runs.sort_by(f64::total_cmp);
        let median = runs[runs.len() / 2];
        println!(
            "{}",
            serde_json::json!({
                "impl": "weft",
                "layout": layout,
                "pipeline": pipe,
                "workers": w,
                "batch": BATCH,
                "clips_per_s": (median * 10.0).round() / 10.0,
                "runs": all.iter().map(|r| (r * 10.0).round() / 10.0).collect::<Vec<_>>(),
            })
        );
    }
}
