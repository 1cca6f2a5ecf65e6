//! Action recognizers end to end on a small Moving-Fashion-MNIST: TSM and I3D train, evaluate
//! and test with several views, resume exactly, and take MMAction2's TSM optimizer
//! constructor; MMAction2's parameter names reach the checkpoint.

use std::path::{Path, PathBuf};

use crate::support::{temp_dir, weft_json, weft_ok};
use crate::training::{json_lines, model_tensors};

/// Trains in a `weft` process of its own: dropout draws from libtorch's process-wide
/// generator, which other tests' runs in this process would otherwise share.
fn train(cfg: &Path, work: &Path, extra: &[&str]) {
    let mut args = vec![
        "train",
        cfg.to_str().unwrap(),
        "--work-dir",
        work.to_str().unwrap(),
    ];
    args.extend(extra);
    weft_ok(&args);
}

/// A TSM (`three_d` false) or I3D run on the small data set, shrunk to 32x32 frames and a
/// ResNet-18 four channels wide, so an epoch takes a second or two on the CPU.
fn config(dir: &Path, three_d: bool) -> PathBuf {
    config_on(dir, crate::video_data::small(), three_d)
}

/// [`config`] over the data set in `root`.
fn config_on(dir: &Path, root: &Path, three_d: bool) -> PathBuf {
    let root = root.display().to_string();
    let norm = r#"{ type = "Normalize", mean = [72.9, 72.9, 72.9], std = [90.0, 90.0, 90.0] }"#;
    let (model, fmt, train_sampler, test_sampler) = if three_d {
        (
            r#"type = "Recognizer3D"
backbone = { type = "ResNet3d", depth = 18, base_channels = 4, conv1_kernel = [3, 7, 7], pretrained2d = false }
cls_head = { type = "I3DHead", num_classes = 8, in_channels = 32, dropout_ratio = 0.5 }
test_cfg = { average_clips = "prob" }"#,
            "NCTHW",
            r#"{ type = "SampleFrames", clip_len = 8, frame_interval = 2, num_clips = 1 }"#,
            r#"{ type = "SampleFrames", clip_len = 8, frame_interval = 2, num_clips = 2, test_mode = true }"#,
        )
    } else {
        (
            r#"type = "Recognizer2D"
backbone = { type = "ResNetTSM", depth = 18, base_channels = 4, num_segments = 4, shift_div = 4 }
cls_head = { type = "TSMHead", num_classes = 8, in_channels = 32, num_segments = 4, dropout_ratio = 0.5 }
test_cfg = { average_clips = "prob" }"#,
            "NCHW",
            r#"{ type = "SampleFrames", clip_len = 1, frame_interval = 1, num_clips = 4 }"#,
            r#"{ type = "SampleFrames", clip_len = 1, frame_interval = 1, num_clips = 4, test_mode = true, twice_sample = true }"#,
        )
    };
    let text = format!(
        r#"
optimizer = {{ type = "SGD", lr = 0.01, momentum = 0.9, weight_decay = 1e-4 }}
optimizer_config = {{ grad_clip = {{ max_norm = 40, norm_type = 2 }} }}
lr_config = {{ policy = "CosineAnnealing", min_lr = 0 }}
total_epochs = 2
checkpoint_config = {{ interval = 1 }}
log_config = {{ interval = 2, hooks = [{{ type = "TextLoggerHook" }}] }}
workflow = [["train", 1], ["val", 1]]
evaluation = {{ interval = 1, metrics = ["top_k_accuracy", "mean_class_accuracy"] }}
seed = 5
device = "cpu"

[model]
{model}

[data]
videos_per_gpu = 4
workers_per_gpu = 2

[data.train]
type = "RawframeDataset"
ann_file = "{root}/train_list_rawframes.txt"
data_prefix = "{root}/rawframes"
pipeline = [
    {train_sampler},
    {{ type = "RawFrameDecode" }},
    {{ type = "RandomResizedCrop" }},
    {{ type = "Resize", scale = [32, 32], keep_ratio = false }},
    {{ type = "Flip", flip_ratio = 0.5, flip_label_map = {{ 0 = 1, 1 = 0, 4 = 5, 5 = 4, 6 = 7, 7 = 6 }} }},
    {norm},
    {{ type = "FormatShape", input_format = "{fmt}" }},
    {{ type = "Collect", keys = ["imgs", "label"], meta_keys = [] }},
]

[data.val]
type = "RawframeDataset"
ann_file = "{root}/val_list_rawframes.txt"
data_prefix = "{root}/rawframes"
test_mode = true
pipeline = [
    {test_sampler},
    {{ type = "RawFrameDecode" }},
    {{ type = "Resize", scale = [-1, 32] }},
    {{ type = "ThreeCrop", crop_size = [28, 32] }},
    {norm},
    {{ type = "FormatShape", input_format = "{fmt}" }},
    {{ type = "Collect", keys = ["imgs", "label"], meta_keys = [] }},
]
"#
    );
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(if three_d { "i3d.toml" } else { "tsm.toml" });
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn tsm_trains_tests_with_several_views_and_resumes_exactly() {
    let dir = temp_dir("recog-tsm");
    let cfg = config(&dir, false);
    let straight = dir.join("straight");
    train(&cfg, &straight, &[]);
    let logs = json_lines(&straight);
    let losses: Vec<f64> = logs
        .iter()
        .filter(|l| l["mode"] == "train")
        .map(|l| l["loss"].as_f64().unwrap())
        .collect();
    assert!(
        !losses.is_empty() && losses.iter().all(|l| l.is_finite()),
        "{losses:?}"
    );
    let evals: Vec<&serde_json::Value> = logs
        .iter()
        .filter(|l| l["mode"] == "val" && l.get("top5_acc").is_some())
        .collect();
    assert_eq!(evals.len(), 2);
    let top1 = evals[1]["top1_acc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&top1));

    // MMAction2's names: the shifted convolution sits under `.conv.net`.
    let ckpt = straight.join("epoch_2.safetensors");
    let names: Vec<String> = model_tensors(&ckpt).into_iter().map(|(n, _)| n).collect();
    for n in [
        "backbone.conv1.conv.weight",
        "backbone.conv1.bn.running_mean",
        "backbone.layer1.0.conv1.conv.net.weight",
        "backbone.layer2.0.downsample.conv.weight",
        "cls_head.fc_cls.weight",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} not in {names:?}");
    }

    // 8 val clips, each tested as 2 x 4 segments x 3 crops, averaged by probability: the
    // evaluation hook's numbers.
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let v = weft_json(&["test", &s(&cfg), &s(&ckpt), "--split", "val", "--json"]);
    assert_eq!(v["samples"], 8);
    assert!((v["metrics"]["top1_acc"].as_f64().unwrap() - top1).abs() < 1e-9);

    // Resumed from epoch 1, with another number of data workers, the run ends on the
    // same weights: augmentations draw from (seed, epoch, sample).
    let resumed = dir.join("resumed");
    let epoch1 = straight.join("epoch_1.safetensors");
    train(
        &cfg,
        &resumed,
        &[
            "--resume-from",
            epoch1.to_str().unwrap(),
            "--cfg-options",
            "data.workers_per_gpu=0",
        ],
    );
    assert!(
        model_tensors(&resumed.join("epoch_2.safetensors")) == model_tensors(&ckpt),
        "the resumed run ended on other weights"
    );
}

#[test]
fn i3d_trains_on_clips_and_averages_test_clips() {
    let dir = temp_dir("recog-i3d");
    let cfg = config(&dir, true);
    let work = dir.join("work");
    train(&cfg, &work, &["--cfg-options", "total_epochs=1"]);
    let logs = json_lines(&work);
    let val = logs
        .iter()
        .find(|l| l["mode"] == "val" && l.get("top5_acc").is_some())
        .expect("an evaluation line");
    assert!(val["top1_acc"].as_f64().is_some());
    let names: Vec<String> = model_tensors(&work.join("epoch_1.safetensors"))
        .into_iter()
        .map(|(n, t)| {
            if n == "backbone.layer1.0.conv1.conv.weight" {
                // Inflated: 3 x 3 x 3 kernels over 4 channels in and out.
                assert_eq!(t.len(), 4 * 4 * 27);
            }
            n
        })
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n == "backbone.layer4.1.conv2.bn.weight")
    );
}

#[test]
fn the_tsm_optimizer_constructor_sees_the_real_module_tree() {
    let dir = temp_dir("recog-constructor");
    let cfg = config(&dir, false);
    let s = cfg.to_str().unwrap();
    let v = weft_json(&[
        "param-groups",
        s,
        "--json",
        "--cfg-options",
        "optimizer.constructor=TSMOptimizerConstructor",
        "optimizer.paramwise_cfg.fc_lr5=true",
    ]);
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 7);
    let params = |g: usize| -> Vec<String> {
        groups[g]["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(params(0), vec!["backbone.conv1.conv.weight"]);
    assert!(
        params(4).iter().all(|p| p.contains(".bn.")),
        "{:?}",
        params(4)
    );
    assert_eq!(params(5), vec!["cls_head.fc_cls.weight"]);
    assert_eq!(params(6), vec!["cls_head.fc_cls.bias"]);
    assert!((groups[5]["lr"].as_f64().unwrap() - 0.05).abs() < 1e-12);
}

#[test]
fn a_model_that_does_not_fit_is_named_by_file_and_line() {
    let dir = temp_dir("recog-bad");
    let cfg = config(&dir, false);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let check = |from: &str, to: &str, wanted: &[&str]| {
        std::fs::write(&cfg, text.replace(from, to)).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["print-config", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{err}");
        for w in wanted {
            assert!(err.contains(w), "{err:?} lacks {w:?}");
        }
    };
    check(
        "in_channels = 32",
        "in_channels = 64",
        &["tsm.toml:", "backbone gives 32"],
    );
    check(
        "type = \"TSMHead\"",
        "type = \"I3DHead\"",
        &["tsm.toml:", "use TSNHead or TSMHead"],
    );
    check("depth = 18", "depth = 19", &["tsm.toml:", "18, 34, 50"]);
    check(
        "type = \"ResNetTSM\"",
        "type = \"ResNetTMS\"",
        &["tsm.toml:", "ResNetTSM"],
    );
}

#[test]
fn a_frame_that_breaks_mid_training_names_the_sample_and_keeps_the_state() {
    let dir = temp_dir("recog-broken");
    let root = dir.join("data");
    crate::video_data::copy_dir(crate::video_data::small(), &root);
    // Clip 5's inner frames are corrupt; its first and last frame (checked at start-up) are
    // not, so the run starts and fails when the clip is first sampled.
    for t in 2..=15 {
        std::fs::write(
            root.join(format!("rawframes/clip_000005/img_{t:05}.jpg")),
            b"broken",
        )
        .unwrap();
    }
    let cfg = config_on(&dir, &root, false);
    let work = dir.join("work");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "train",
            cfg.to_str().unwrap(),
            "--work-dir",
            work.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for wanted in [
        "sample 4",
        "clip_000005",
        "line 5",
        "RawFrameDecode",
        "not a valid JPEG",
    ] {
        assert!(err.contains(wanted), "{err:?} lacks {wanted:?}");
    }
    // The state before the failing batch is saved, and readable.
    let saved = work.join("emergency.safetensors");
    assert!(weft_nn::checkpoint::read(&saved).is_ok(), "{err}");
}

/// The backbone's tensors of a weft checkpoint under torchvision's names (written out here
/// rule by rule, apart from weft's own mapping): `conv1.weight`, `bn1.*`,
/// `layer1.0.downsample.0.weight`; TSM's `.net` dropped, as MMAction2 loads before shifting.
fn torchvision_names(ckpt: &Path) -> Vec<(String, tch::Tensor)> {
    let loaded = weft_nn::checkpoint::read(ckpt).unwrap();
    let mut out: Vec<(String, tch::Tensor)> = loaded
        .tensors
        .into_iter()
        .filter_map(|(name, t)| {
            let mut n = name
                .strip_prefix("backbone.")?
                .replace(".conv.net.", ".conv.");
            n = n.replace("downsample.conv.", "downsample.0.");
            n = n.replace("downsample.bn.", "downsample.1.");
            for k in 1..=3 {
                n = n.replace(&format!("conv{k}.conv."), &format!("conv{k}."));
                n = n.replace(&format!("conv{k}.bn."), &format!("bn{k}."));
            }
            // New values, so that loading shows.
            Some((
                n,
                tch::Tensor::randn_like(&t.to_kind(tch::Kind::Float)).to_kind(t.kind()),
            ))
        })
        .collect();
    // torchvision's classifier, which a backbone has no use for.
    out.push((
        "fc.weight".into(),
        tch::Tensor::zeros([10, 32], tch::kind::FLOAT_CPU),
    ));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn a_backbone_loads_torchvision_weights_and_a_3d_one_inflates_them() {
    let dir = temp_dir("pretrained");
    let first = dir.join("first");
    train(
        &config(&dir, false),
        &first,
        &["--cfg-options", "total_epochs=1"],
    );
    let file = dir.join("resnet18_tv.pth");
    let tv = torchvision_names(&first.join("epoch_1.safetensors"));
    weft_nn::pth::write(&file, &tv, &serde_json::Value::Null).unwrap();
    let get = |name: &str| &tv.iter().find(|(n, _)| n == name).unwrap().1;
    // lr 0: what the run saves after an epoch is what it loaded.
    let frozen = [
        "total_epochs=1",
        "optimizer.lr=0",
        "optimizer.weight_decay=0",
    ];
    let pretrained = format!("model.backbone.pretrained={}", file.display());

    let tsm = dir.join("tsm");
    let mut args = vec!["--cfg-options", &pretrained];
    args.extend(frozen);
    train(&config(&dir, false), &tsm, &args);
    let saved = weft_nn::checkpoint::read(&tsm.join("epoch_1.safetensors")).unwrap();
    for (ours, theirs) in [
        ("backbone.conv1.conv.weight", "conv1.weight"),
        ("backbone.conv1.bn.weight", "bn1.weight"),
        (
            "backbone.layer1.0.conv1.conv.net.weight",
            "layer1.0.conv1.weight",
        ),
        ("backbone.layer2.0.conv2.bn.bias", "layer2.0.bn2.bias"),
        (
            "backbone.layer3.0.downsample.conv.weight",
            "layer3.0.downsample.0.weight",
        ),
    ] {
        assert!(
            saved.tensors[ours].equal(get(theirs)),
            "{ours} is not {theirs}"
        );
    }
    let log = std::fs::read_dir(&tsm)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("load torchvision checkpoint from local path"),
        "{text}"
    );

    // I3D from the same 2D file: each kernel repeated over time and divided by its length.
    let i3d = dir.join("i3d");
    let mut args = vec![
        "--cfg-options",
        &pretrained,
        "model.backbone.pretrained2d=true",
    ];
    args.extend(frozen);
    train(&config(&dir, true), &i3d, &args);
    let saved = weft_nn::checkpoint::read(&i3d.join("epoch_1.safetensors")).unwrap();
    let stem = &saved.tensors["backbone.conv1.conv.weight"];
    assert_eq!(stem.size(), [4, 3, 3, 7, 7]);
    let want = get("conv1.weight")
        .unsqueeze(2)
        .expand([4, 3, 3, 7, 7], false)
        / 3.0;
    assert!(stem.allclose(&want, 1e-6, 1e-7, false));
    assert!(saved.tensors["backbone.conv1.bn.weight"].equal(get("bn1.weight")));

    // A URL, and a file of another model, are refused with the backbone named.
    let err = weft_err(
        &config(&dir, false),
        &[
            "--cfg-options",
            "model.backbone.pretrained=torchvision://resnet18",
        ],
    );
    assert!(err.contains("does not download"), "{err}");
    let other = crate::support::fixture("pth/bare_state_dict.pth");
    let err = weft_err(
        &config(&dir, false),
        &[
            "--cfg-options",
            &format!("model.backbone.pretrained={}", other.display()),
        ],
    );
    assert!(
        err.contains("ResNetTSM") && err.contains("none of the file's names"),
        "{err}"
    );
    // Saved from DataParallel (`module.conv1.weight`): the names reach the backbone, and
    // LeNet's 5x5 kernel is named as the shape it is.
    let lenet = crate::support::fixture("pth/mmcv_lenet.pth");
    let err = weft_err(
        &config(&dir, false),
        &[
            "--cfg-options",
            &format!("model.backbone.pretrained={}", lenet.display()),
        ],
    );
    assert!(
        err.contains("conv1.conv.weight has shape [6, 1, 5, 5] in the file"),
        "{err}"
    );
}

fn weft_err(cfg: &Path, extra: &[&str]) -> String {
    let dir = cfg.parent().unwrap().join("refused");
    let mut args = vec![
        "train",
        cfg.to_str().unwrap(),
        "--work-dir",
        dir.to_str().unwrap(),
    ];
    args.extend(extra);
    crate::support::weft_err(&args)
}
