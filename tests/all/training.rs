//! Real training on small Fashion-MNIST subsets with libtorch on the CPU.

use std::path::{Path, PathBuf};

use serde_json::Value;
use weft::session::{TrainOptions, prepare};
use weft_core::RunOutcome;
use weft_nn::checkpoint;

use crate::support::temp_dir;

/// A small LeNet-5 run: 960 training and 256 validation samples, batch 32.
fn base_config(dir: &Path) -> PathBuf {
    let text = r#"
model = { type = "LeNet5" }
optimizer = { type = "SGD", lr = 0.05, momentum = 0.9, weight_decay = 5e-4 }
optimizer_config = { grad_clip = { max_norm = 35, norm_type = 2 } }
lr_config = { policy = "step", step = [2] }
checkpoint_config = { interval = 1 }
log_config = { interval = 10, hooks = [{ type = "TextLoggerHook" }] }
workflow = [["train", 1], ["val", 1]]
evaluation = { interval = 1, metrics = ["top_k_accuracy", "mean_class_accuracy"] }
seed = 3
device = "cpu"

[data]
samples_per_gpu = 32
workers_per_gpu = 2
train = { type = "FashionMNIST", split = "train", num_samples = 960 }
val = { type = "FashionMNIST", split = "test", num_samples = 256 }
"#;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("small.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn train(
    config: &Path,
    work_dir: &Path,
    options: &[&str],
    resume: Option<PathBuf>,
) -> RunOutcome {
    let opts = TrainOptions {
        config: config.to_path_buf(),
        work_dir: Some(work_dir.to_path_buf()),
        cfg_options: options.iter().map(|s| s.to_string()).collect(),
        resume_from: resume,
        ..TrainOptions::default()
    };
    let mut session = prepare(&opts).unwrap();
    session.runner.run().unwrap()
}

pub fn json_lines(work_dir: &Path) -> Vec<Value> {
    let path = std::fs::read_dir(work_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".log.json"))
        .expect("a .log.json file");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn model_tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let loaded = checkpoint::read(path).unwrap();
    let mut out: Vec<(String, Vec<f32>)> = loaded
        .tensors
        .iter()
        .filter(|(k, _)| !k.starts_with("optimizer.") && !k.ends_with("num_batches_tracked"))
        .map(|(k, t)| (k.clone(), Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn short_training_lowers_the_loss_and_writes_every_output() {
    let dir = temp_dir("train-small");
    let cfg = small_config(&dir, &[], "total_epochs = 3");
    let work = dir.join("work");
    assert_eq!(train(&cfg, &work, &[], None), RunOutcome::Completed);
    let lines = json_lines(&work);
    assert!(
        lines[0].get("seed").is_some(),
        "first JSON line is the run meta: {}",
        lines[0]
    );
    let losses: Vec<f64> = lines
        .iter()
        .filter(|l| l["mode"] == "train")
        .map(|l| l["loss"].as_f64().unwrap())
        .collect();
    assert_eq!(
        losses.len(),
        9,
        "3 epochs x 3 log lines (30 iterations, interval 10)"
    );
    assert!(losses[8] < losses[0] * 0.8, "loss should fall: {losses:?}");
    let evals: Vec<&Value> = lines
        .iter()
        .filter(|l| l["mode"] == "val" && l.get("top1_acc").is_some() && l.get("loss").is_none())
        .collect();
    assert_eq!(evals.len(), 3, "one evaluation per epoch");
    assert!(evals[2]["top1_acc"].as_f64().unwrap() > 0.5, "{}", evals[2]);
    assert!(evals[2]["top5_acc"].as_f64().unwrap() >= evals[2]["top1_acc"].as_f64().unwrap());
    let val_losses = lines
        .iter()
        .filter(|l| l["mode"] == "val" && l.get("loss").is_some())
        .count();
    assert_eq!(
        val_losses, 3,
        "the val workflow logs its averaged loss once per epoch"
    );
    for f in [
        "epoch_1.safetensors",
        "epoch_2.safetensors",
        "epoch_3.safetensors",
        "small.toml",
    ] {
        assert!(work.join(f).is_file(), "{f} missing");
    }
    let latest = std::fs::read_link(work.join("latest.safetensors")).unwrap();
    assert_eq!(latest, PathBuf::from("epoch_3.safetensors"));
    let ckpt = checkpoint::read(&work.join("epoch_3.safetensors")).unwrap();
    assert!(ckpt.tensors.contains_key("conv1.weight"));
    assert!(
        ckpt.tensors
            .contains_key("optimizer.conv1.weight.momentum_buffer")
    );
    assert_eq!(ckpt.meta["meta"]["epoch"], 3);
    assert_eq!(ckpt.meta["meta"]["iter"], 90);
    assert_eq!(
        ckpt.meta["optimizer"]["groups"][0]["lr"],
        0.005000000000000001
    );
}

#[test]
fn resumed_epoch_run_ends_with_the_same_weights_as_an_uninterrupted_one() {
    let dir = temp_dir("resume-epoch");
    let cfg = small_config(&dir, &[], "total_epochs = 3");
    let full = dir.join("full");
    train(&cfg, &full, &[], None);
    let resumed = dir.join("resumed");
    train(&cfg, &resumed, &[], Some(full.join("epoch_1.safetensors")));
    resumed_matches(&resumed, &full);
}

#[test]
fn optimizer_state_of_every_kind_survives_resume() {
    for optimizer in ["Adam", "RMSprop", "Adagrad", "NAdam"] {
        let dir = temp_dir(&format!("resume-{optimizer}"));
        let cfg = small_config(&dir, &[], "total_epochs = 2");
        let opts = [
            format!("optimizer.type={optimizer}"),
            "optimizer.lr=0.001".into(),
        ];
        let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
        let opts: Vec<&str> = opts
            .into_iter()
            .chain(["optimizer.momentum=None"])
            .collect();
        let full = dir.join("full");
        train(&cfg, &full, &opts, None);
        let resumed = dir.join("resumed");
        train(
            &cfg,
            &resumed,
            &opts,
            Some(full.join("epoch_1.safetensors")),
        );
        let same = model_tensors(&resumed.join("epoch_2.safetensors"))
            == model_tensors(&full.join("epoch_2.safetensors"));
        assert!(
            same,
            "{optimizer}: the resumed run ends with different weights"
        );
    }
}

fn resumed_matches(resumed: &Path, full: &Path) {
    let lines = json_lines(resumed);
    let first_train = lines.iter().find(|l| l["mode"] == "train").unwrap();
    assert_eq!(
        first_train["epoch"], 2,
        "resume continues with the next epoch"
    );
    assert!(!resumed.join("epoch_1.safetensors").exists());
    assert_eq!(
        model_tensors(&resumed.join("epoch_3.safetensors")),
        model_tensors(&full.join("epoch_3.safetensors"))
    );
}

#[test]
fn resumed_iter_run_continues_at_the_next_iteration_and_matches() {
    let dir = temp_dir("resume-iter");
    let extra = r#"
runner = { type = "IterBasedRunner", max_iters = 50 }
checkpoint_config = { interval = 20 }
workflow = [["train", 1]]
evaluation = { interval = 25, by_epoch = false }
lr_config = { policy = "CosineAnnealing", min_lr = 0.001, warmup = "linear", warmup_iters = 10 }
"#;
    // TOML forbids defining a key twice, so the shared keys are replaced, not repeated.
    let cfg = small_config(
        &dir,
        &["checkpoint_config", "workflow", "evaluation", "lr_config"],
        extra,
    );
    let full = dir.join("full");
    train(&cfg, &full, &[], None);
    let resumed = dir.join("resumed");
    let outcome = train(&cfg, &resumed, &[], Some(full.join("iter_20.safetensors")));
    assert_eq!(outcome, RunOutcome::Completed);
    let lines = json_lines(&resumed);
    let iters: Vec<u64> = lines
        .iter()
        .filter(|l| l["mode"] == "train")
        .map(|l| l["iter"].as_u64().unwrap())
        .collect();
    assert_eq!(iters, [30, 40, 50], "no iteration is run twice");
    let full_lr: Vec<f64> = json_lines(&full)
        .iter()
        .filter(|l| l["mode"] == "train")
        .map(|l| l["lr"].as_f64().unwrap())
        .collect();
    let resumed_lr: Vec<f64> = lines
        .iter()
        .filter(|l| l["mode"] == "train")
        .map(|l| l["lr"].as_f64().unwrap())
        .collect();
    assert_eq!(resumed_lr, full_lr[2..], "same lr schedule");
    assert_eq!(
        model_tensors(&resumed.join("iter_50.safetensors")),
        model_tensors(&full.join("iter_50.safetensors"))
    );
}

/// The small config without the top-level keys in `drop`, plus `extra` top-level keys.
pub fn small_config(dir: &Path, drop: &[&str], extra: &str) -> PathBuf {
    let path = base_config(dir);
    let text: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !drop.iter().any(|d| l.starts_with(&format!("{d} "))))
        .map(|l| format!("{l}\n"))
        .collect();
    // Top-level keys must precede the [data] table.
    let (head, tail) = text.split_at(text.find("[data]").unwrap());
    std::fs::write(&path, format!("{head}{extra}\n{tail}")).unwrap();
    path
}
