//! Video data: the Moving-Fashion-MNIST generator against the reference generator's hashes,
//! MMAction2's two dataset layouts through their pipelines, draws that depend only on
//! (seed, epoch, sample), and bad input named by file and line.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use weft_config::Config;
use weft_data::synth::{Layouts, MovingFmnist};
use weft_data::{Dataset, Draw, Loader, LoaderSettings, build_dataset, check_dataset};

use crate::support::temp_dir;

const FMNIST: &str = "/usr/share/datasets/fashion-mnist";

/// A small data set in both layouts, made once per test run (24 train clips, 8 val).
pub fn small() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = temp_dir("mfmnist-small").join("data");
        let mut spec = MovingFmnist::defaults(FMNIST.into());
        spec.train = 24;
        spec.val = 8;
        spec.jobs = 2;
        spec.generate(&dir, &|_, _| {})
            .expect("the small data set generates");
        dir
    })
}

#[test]
fn the_generator_reproduces_the_reference_generators_raw_frames() {
    // gen_moving_fmnist.py's defaults (2000 train, 500 val, seed 0) give these SHA-256
    // prefixes over each split's raw frames (shared/peers/video/README.md).
    let dir = temp_dir("mfmnist-hash").join("out");
    let mut spec = MovingFmnist::defaults(FMNIST.into());
    spec.layouts = Layouts {
        rawframes: false,
        videos: false,
    };
    let done = spec.generate(&dir, &|_, _| {}).unwrap();
    assert_eq!(done.splits[0].clips, 2000);
    assert!(
        done.splits[0]
            .sha256_raw_frames
            .starts_with("4c74aa64c78533f5"),
        "train {}",
        done.splits[0].sha256_raw_frames
    );
    assert!(
        done.splits[1]
            .sha256_raw_frames
            .starts_with("4309636326674d7f"),
        "val {}",
        done.splits[1].sha256_raw_frames
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["flip_label_map"]["0"], 1);
    assert_eq!(meta["splits"]["val"]["clips"], 500);
    let counts: u64 = meta["splits"]["train"]["label_counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(counts, 2000);
    // Clips are numbered globally, train first; the meta lines use json.dumps' layout.
    let val = std::fs::read_to_string(dir.join("meta_val.jsonl")).unwrap();
    assert!(
        val.starts_with("{\"name\": \"clip_002001\", \"label\": "),
        "{}",
        &val[..80]
    );
}

#[test]
fn both_layouts_are_written_as_mmaction2_reads_them() {
    let dir = small();
    let list = std::fs::read_to_string(dir.join("train_list_rawframes.txt")).unwrap();
    let first: Vec<&str> = list.lines().next().unwrap().split(' ').collect();
    assert_eq!(first[..2], ["clip_000001", "16"]);
    let videos = std::fs::read_to_string(dir.join("val_list_videos.txt")).unwrap();
    assert!(videos.starts_with("clip_000025.mp4 "), "{videos}");
    assert_eq!(list.lines().count(), 24);
    for t in [1, 16] {
        assert!(
            dir.join(format!("rawframes/clip_000001/img_{t:05}.jpg"))
                .is_file()
        );
    }
    assert!(!dir.join("rawframes/clip_000001/img_00017.jpg").exists());
    assert!(dir.join("videos/clip_000032.mp4").is_file());
}

fn config(dir: &Path, text: &str) -> Config {
    let path = dir.join("cfg.toml");
    std::fs::write(&path, text).unwrap();
    Config::from_file(&path).unwrap()
}

const NORM: &str =
    r#"{ type = "Normalize", mean = [123.675, 116.28, 103.53], std = [58.395, 57.12, 57.375] }"#;

fn tsn_train(prefix: &Path, layout: &str) -> String {
    let (ty, list, decode) = match layout {
        "rawframes" => (
            "RawframeDataset",
            "train_list_rawframes.txt",
            r#"{ type = "RawFrameDecode" },"#,
        ),
        _ => (
            "VideoDataset",
            "train_list_videos.txt",
            r#"{ type = "DecordInit" },"#,
        ),
    };
    let (before, after) = if layout == "rawframes" {
        (String::new(), decode.to_string())
    } else {
        (
            decode.to_string(),
            r#"{ type = "DecordDecode" },"#.to_string(),
        )
    };
    format!(
        r#"
[data.train]
type = "{ty}"
ann_file = "{root}/{list}"
data_prefix = "{root}/{layout}"
pipeline = [
    {before}
    {{ type = "SampleFrames", clip_len = 1, frame_interval = 1, num_clips = 8 }},
    {after}
    {{ type = "Resize", scale = [-1, 72] }},
    {{ type = "MultiScaleCrop", input_size = 64, scales = [1, 0.875, 0.75, 0.66], random_crop = false, max_wh_scale_gap = 1 }},
    {{ type = "Resize", scale = [64, 64], keep_ratio = false }},
    {{ type = "Flip", flip_ratio = 0.5, flip_label_map = {{ 0 = 1, 1 = 0, 4 = 5, 5 = 4, 6 = 7, 7 = 6 }} }},
    {NORM},
    {{ type = "FormatShape", input_format = "NCHW" }},
    {{ type = "Collect", keys = ["imgs", "label"], meta_keys = [] }},
    {{ type = "ToTensor", keys = ["imgs", "label"] }},
]
"#,
        root = prefix.display()
    )
}

fn dataset(cfg: &Config, split: &str) -> Arc<dyn Dataset> {
    let node = cfg.get(&format!("data.{split}")).unwrap();
    check_dataset(node, cfg).unwrap();
    match build_dataset(node, cfg) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    }
}

fn batches(
    ds: &Arc<dyn Dataset>,
    workers: usize,
    epoch: u64,
    skip: u64,
) -> Vec<(Vec<f32>, Vec<i64>)> {
    let mut loader = Loader::new(
        ds.clone(),
        LoaderSettings {
            batch_size: 5,
            workers,
            shuffle: true,
            drop_last: false,
            prefetch: 2,
            seed: 7,
            pin_memory: false,
            shard: weft_data::Shard::default(),
        },
    );
    loader.start_epoch(epoch, skip);
    let mut out = Vec::new();
    while let Some(b) = loader.next_batch().unwrap() {
        out.push((
            Vec::<f32>::try_from(b.inputs.flatten(0, -1)).unwrap(),
            Vec::<i64>::try_from(&b.labels).unwrap(),
        ));
    }
    out
}

#[test]
fn a_tsn_pipeline_gives_the_same_batches_with_any_number_of_workers() {
    let dir = temp_dir("video-tsn");
    for layout in ["rawframes", "videos"] {
        let cfg = config(&dir, &tsn_train(small(), layout));
        let ds = dataset(&cfg, "train");
        assert_eq!(ds.len(), 24);
        let b = ds.collate(&[0, 3], Draw { seed: 1, epoch: 0 }).unwrap();
        assert_eq!(b.inputs.size(), vec![2, 8, 3, 64, 64], "{layout}");
        let serial = batches(&ds, 0, 2, 0);
        let threaded = batches(&ds, 2, 2, 0);
        assert_eq!(serial.len(), 5);
        assert!(serial == threaded, "{layout}: workers changed the batches");
        // Resuming at batch 3 of the epoch gives the rest of the same epoch.
        assert!(batches(&ds, 2, 2, 3) == serial[3..], "{layout}");
        // Another epoch draws other augmentations.
        assert!(batches(&ds, 0, 3, 0) != serial, "{layout}");
        for (_, labels) in &serial {
            assert!(labels.iter().all(|l| (0..8).contains(l)));
        }
    }
}

#[test]
fn rawframes_and_videos_decode_to_nearly_the_same_clips() {
    let dir = temp_dir("video-agree");
    let root = small();
    let val = |ty: &str, list: &str, layout: &str, decode: &str| {
        format!(
            r#"
[data.val]
type = "{ty}"
ann_file = "{root}/{list}"
data_prefix = "{root}/{layout}"
test_mode = true
pipeline = [
    {decode}
    {{ type = "CenterCrop", crop_size = 48 }},
    {NORM},
    {{ type = "FormatShape", input_format = "NCTHW" }},
    {{ type = "Collect", keys = ["imgs", "label"], meta_keys = [] }},
]
"#,
            root = root.display()
        )
    };
    let raw = config(
        &dir,
        &val(
            "RawframeDataset",
            "val_list_rawframes.txt",
            "rawframes",
            r#"{ type = "SampleFrames", clip_len = 8, frame_interval = 2, num_clips = 1, test_mode = true }, { type = "RawFrameDecode" },"#,
        ),
    );
    let raw = dataset(&raw, "val")
        .collate(&[0, 1, 2], Draw { seed: 0, epoch: 0 })
        .unwrap();
    let vid = config(
        &dir,
        &val(
            "VideoDataset",
            "val_list_videos.txt",
            "videos",
            r#"{ type = "PyAVInit" }, { type = "SampleFrames", clip_len = 8, frame_interval = 2, num_clips = 1, test_mode = true }, { type = "PyAVDecode" },"#,
        ),
    );
    let vid = dataset(&vid, "val")
        .collate(&[0, 1, 2], Draw { seed: 0, epoch: 0 })
        .unwrap();
    assert_eq!(raw.inputs.size(), vec![3, 1, 3, 8, 48, 48]);
    assert_eq!(raw.inputs.size(), vid.inputs.size());
    assert_eq!(
        Vec::<i64>::try_from(&raw.labels).unwrap(),
        Vec::<i64>::try_from(&vid.labels).unwrap()
    );
    // Normalised by std ~58: one grey level is ~0.017. JPEG q95 and H.264 crf 18 differ
    // from the raw frames by a few levels on average.
    let diff = (&raw.inputs - &vid.inputs)
        .abs()
        .mean(tch::Kind::Float)
        .double_value(&[]);
    assert!(diff < 0.1, "mean difference {diff}");
}

fn expect_error(dir: &Path, text: &str, wanted: &[&str]) {
    let cfg = config(dir, text);
    let node = cfg.get("data.train").unwrap();
    let message = match check_dataset(node, &cfg) {
        Err(e) => e.to_string(),
        Ok(()) => match build_dataset(node, &cfg) {
            Err(e) => e.to_string(),
            Ok(ds) => match ds.collate(&[0, 1], Draw { seed: 0, epoch: 0 }) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("no error for:\n{text}"),
            },
        },
    };
    for w in wanted {
        assert!(message.contains(w), "{message:?} lacks {w:?}");
    }
}

#[test]
fn bad_input_is_named_by_file_and_line() {
    let dir = temp_dir("video-bad");
    // A copy of the small data set to damage.
    let root = dir.join("data");
    copy_dir(small(), &root);
    let good = tsn_train(&root, "rawframes");

    // Transform errors point at the config.
    let unknown = good.replace("\"Flip\"", "\"Flipp\"");
    expect_error(&dir, &unknown, &["cfg.toml:", "Flipp", "Flip"]);
    let zero = good.replace("clip_len = 1,", "clip_len = 0,");
    expect_error(&dir, &zero, &["cfg.toml:", "clip_len"]);
    let order = good.replace(&format!("{NORM},"), "").replace(
        "{ type = \"SampleFrames\"",
        &format!("{NORM}, {{ type = \"SampleFrames\""),
    );
    expect_error(&dir, &order, &["cfg.toml:", "Normalize", "8-bit frames"]);
    let video_decoder = good.replace("RawFrameDecode", "DecordDecode");
    expect_error(&dir, &video_decoder, &["DecordDecode reads video files"]);

    // List errors name the file and line.
    let list = root.join("train_list_rawframes.txt");
    let text = std::fs::read_to_string(&list).unwrap();
    std::fs::write(&list, text.replacen(" 16 ", " sixteen ", 1)).unwrap();
    expect_error(
        &dir,
        &good,
        &["train_list_rawframes.txt", "line 1", "frame count"],
    );
    std::fs::write(&list, text.replacen("\n", " 9\n", 1)).unwrap();
    expect_error(&dir, &good, &["line 1", "multi_class"]);
    std::fs::write(&list, &text).unwrap();
    let classes = good.replace("data_prefix", "num_classes = 2\ndata_prefix");
    expect_error(&dir, &classes, &["outside num_classes = 2"]);

    // A missing last frame is found at start-up.
    let last = root.join("rawframes/clip_000002/img_00016.jpg");
    std::fs::rename(&last, root.join("moved.jpg")).unwrap();
    expect_error(&dir, &good, &["line 2", "img_00016.jpg not found"]);
    std::fs::rename(root.join("moved.jpg"), &last).unwrap();

    // A corrupt frame fails when it is decoded, naming the sample and the file.
    for t in 1..=16 {
        std::fs::write(
            root.join(format!("rawframes/clip_000002/img_{t:05}.jpg")),
            b"not a jpeg",
        )
        .unwrap();
    }
    expect_error(
        &dir,
        &good,
        &[
            "sample 1",
            "clip_000002",
            "line 2",
            "RawFrameDecode",
            "not a valid JPEG",
        ],
    );

    // A truncated video.
    let video = root.join("videos/clip_000001.mp4");
    let bytes = std::fs::read(&video).unwrap();
    std::fs::write(&video, &bytes[..bytes.len() / 3]).unwrap();
    expect_error(&dir, &tsn_train(&root, "videos"), &["clip_000001.mp4"]);
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_cli_generates_with_a_summary_and_refuses_a_full_folder() {
    let dir = temp_dir("mfmnist-cli");
    let out = dir.join("d");
    let args = [
        "data",
        "moving-fmnist",
        "--out",
        out.to_str().unwrap(),
        "--train",
        "4",
        "--val",
        "2",
        "--layouts",
        "rawframes",
        "--json",
    ];
    let v = crate::support::weft_json(&args);
    assert_eq!(v["clips"], 6);
    assert_eq!(v["splits"]["train"]["clips"], 4);
    assert!(out.join("rawframes/clip_000006/img_00016.jpg").is_file());
    assert!(!out.join("videos").exists());
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "data",
            "moving-fmnist",
            "--out",
            out.to_str().unwrap(),
            "--size",
            "20",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--size must be at least 28"));
}
