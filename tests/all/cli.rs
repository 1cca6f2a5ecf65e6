//! The `weft` binary: bad input gets one clear message and a non-zero exit, never a panic;
//! an interrupted or killed run never leaves a partial checkpoint behind `latest`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use weft_nn::checkpoint;

use crate::support::{fixture, temp_dir};
use crate::training::small_config;

fn weft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .output()
        .unwrap()
}

fn fails_cleanly(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "should fail: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "panic: {stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn default_config() -> String {
    fixture("../../configs/fashion_mnist/lenet5_sgd.toml")
        .display()
        .to_string()
}

#[test]
fn typo_key_names_file_line_column_and_suggests() {
    let dir = temp_dir("cli-typo");
    let cfg = write(
        &dir,
        "typo.toml",
        &format!(
            "_base_ = \"{}\"\noptimzer = {{ lr = 0.1 }}\n",
            default_config()
        ),
    );
    let err = fails_cleanly(&weft(&["print-config", cfg.to_str().unwrap()]));
    assert!(err.contains("unknown key `optimzer`"), "{err}");
    assert!(err.contains("typo.toml:2:1"), "{err}");
    assert!(err.contains("did you mean `optimizer`"), "{err}");
}

#[test]
fn wrong_type_is_reported_at_the_value() {
    let dir = temp_dir("cli-type");
    let cfg = write(
        &dir,
        "t.toml",
        &format!(
            "_base_ = \"{}\"\ntotal_epochs = \"six\"\n",
            default_config()
        ),
    );
    let err = fails_cleanly(&weft(&["print-config", cfg.to_str().unwrap()]));
    assert!(err.contains("t.toml:2:16"), "{err}");
    assert!(
        err.contains("expected a non-negative integer, found the string \"six\""),
        "{err}"
    );
}

#[test]
fn missing_and_circular_bases_are_errors() {
    let err = fails_cleanly(&weft(&[
        "print-config",
        fixture("config/missing_base.toml").to_str().unwrap(),
    ]));
    assert!(err.contains("does not exist"), "{err}");
    let err = fails_cleanly(&weft(&[
        "print-config",
        fixture("config/cycle_a.toml").to_str().unwrap(),
    ]));
    assert!(err.contains("circular"), "{err}");
}

#[test]
fn malformed_cfg_options_are_errors() {
    let err = fails_cleanly(&weft(&[
        "print-config",
        &default_config(),
        "--cfg-options",
        "optimizer.lr",
    ]));
    assert!(err.contains("KEY=VALUE"), "{err}");
    let err = fails_cleanly(&weft(&[
        "print-config",
        &default_config(),
        "--cfg-options",
        "workflow.7=1",
    ]));
    assert!(err.contains("out of range"), "{err}");
}

#[test]
fn unknown_types_list_known_names_and_the_closest() {
    let err = fails_cleanly(&weft(&[
        "train",
        &default_config(),
        "--cfg-options",
        "model.type=LeNet",
        "--device",
        "cpu",
    ]));
    assert!(
        err.contains("`LeNet` is not in the model registry"),
        "{err}"
    );
    assert!(err.contains("did you mean `LeNet5`"), "{err}");
    let err = fails_cleanly(&weft(&[
        "train",
        &default_config(),
        "--cfg-options",
        "optimizer.type=SDG",
    ]));
    assert!(err.contains("did you mean `SGD`"), "{err}");
    let err = fails_cleanly(&weft(&[
        "print-config",
        &default_config(),
        "--cfg-options",
        "lr_config.policy=cosineannealing",
    ]));
    assert!(err.contains("CosineAnnealing"), "{err}");
}

#[test]
fn missing_dataset_says_how_to_install_it() {
    let dir = temp_dir("cli-data");
    let err = fails_cleanly(&weft(&[
        "train",
        &default_config(),
        "--work-dir",
        dir.to_str().unwrap(),
        "--cfg-options",
        "data.train.data_root=/nonexistent/fmnist",
    ]));
    assert!(
        err.contains("apt-get install dataset-fashion-mnist"),
        "{err}"
    );
}

#[test]
fn print_config_output_is_valid_merged_toml() {
    let out = weft(&[
        "print-config",
        &default_config(),
        "--cfg-options",
        "optimizer.lr=0.02",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let dir = temp_dir("cli-print");
    let again = write(&dir, "printed.toml", &text);
    let cfg = weft_config::Config::from_file(&again).unwrap();
    assert_eq!(cfg.get("optimizer.lr").unwrap().as_f64(), Some(0.02));
    assert_eq!(cfg.get("model.type").unwrap().as_str(), Some("LeNet5"));
    cfg.schema().unwrap();
}

/// Every checkpoint `latest` can point to is complete: it loads and holds the whole model.
fn assert_latest_complete(work: &Path) {
    let latest = work.join("latest.safetensors");
    if latest.exists() {
        let ckpt = checkpoint::read(&latest).expect("latest must be a complete checkpoint");
        assert!(ckpt.tensors.contains_key("fc3.bias"));
    }
    for entry in std::fs::read_dir(work).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".safetensors") && !name.starts_with('.') {
            checkpoint::read(&work.join(&name))
                .unwrap_or_else(|e| panic!("{name} is partial: {e}"));
        }
    }
}

fn spawn_training(dir: &Path, work: &Path) -> std::process::Child {
    // Checkpoint at every iteration, so that a signal is likely to land during a write.
    let cfg = small_config(
        dir,
        &["checkpoint_config", "workflow"],
        "runner = { type = \"IterBasedRunner\", max_iters = 100000 }\ncheckpoint_config = { interval = 1, max_keep_ckpts = 2 }\nworkflow = [[\"train\", 1]]",
    );
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "train",
            cfg.to_str().unwrap(),
            "--work-dir",
            work.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for_checkpoints(work: &Path) {
    let start = Instant::now();
    while !work.join("latest.safetensors").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "training never wrote a checkpoint"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_saves_the_state_and_exits_130() {
    let dir = temp_dir("cli-sigint");
    let work = dir.join("work");
    let child = spawn_training(&dir, &work);
    wait_for_checkpoints(&work);
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved = checkpoint::read(&work.join("interrupted.safetensors")).unwrap();
    assert!(saved.meta["meta"]["iter"].as_u64().unwrap() > 0);
    assert_latest_complete(&work);
    // --auto-resume continues from the interrupted point, not the last epoch checkpoint.
    assert_eq!(
        std::fs::read_link(work.join("latest.safetensors")).unwrap(),
        PathBuf::from("interrupted.safetensors")
    );
}

#[test]
fn a_killed_run_never_leaves_a_partial_checkpoint_as_latest() {
    for (n, delay) in [150u64, 420, 777].into_iter().enumerate() {
        let dir = temp_dir(&format!("cli-kill-{n}"));
        let work = dir.join("work");
        let mut child = spawn_training(&dir, &work);
        wait_for_checkpoints(&work);
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_latest_complete(&work);
    }
}

#[test]
fn bad_optimization_settings_fail_at_start_up() {
    let cases: [(&[&str], &str); 8] = [
        (&["optimizer.lr=-0.1"], "learning rate"),
        (&["optimizer.lr=nan"], "learning rate"),
        (&["optimizer.betas=[0.9,0.99]"], "SGD has no option `betas`"),
        (
            &[
                "lr_config.policy=cyclic",
                "lr_config.target_ratio=[1,2,3]",
                "lr_config.by_epoch=false",
            ],
            "target_ratio",
        ),
        (
            &[
                "optimizer.paramwise_cfg.norm_decay_mult=0",
                "optimizer.weight_decay=None",
            ],
            "weight_decay",
        ),
        (
            &[
                "optimizer.type=Adam",
                "optimizer.momentum=None",
                "optimizer.nesterov=true",
            ],
            "Adam has no option `nesterov`",
        ),
        (&["optimizer.type=RMSprop", "optimizer.alpha=-1"], "alpha"),
        (
            &[
                "lr_config.policy=OneCycle",
                "lr_config.pct_start=2",
                "lr_config.max_lr=0.1",
            ],
            "pct_start",
        ),
    ];
    for (options, expected) in cases {
        let mut args = vec!["print-config", "--cfg-options"];
        args.extend(options.iter().copied());
        let cfg = default_config();
        args.insert(1, &cfg);
        let err = fails_cleanly(&weft(&args));
        assert!(err.contains(expected), "{options:?}: {err}");
    }
}

#[test]
fn schedule_plot_writes_a_png() {
    let dir = temp_dir("cli-plot");
    let png = dir.join("schedule.png");
    crate::support::weft_ok(&[
        "schedule",
        &default_config(),
        "--iters-per-epoch",
        "20",
        "--plot",
        png.to_str().unwrap(),
        "--cfg-options",
        "lr_config.warmup=linear",
        "lr_config.warmup_iters=30",
    ]);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(bytes.len() > 10_000, "a drawn chart, not an empty image");
}
