//! Every command runs the same checks (`weft::validate`): a setting that would panic, exhaust
//! the machine or silently do nothing is refused at start-up with its location, whatever the
//! command; keys that are accepted but change nothing are said once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{fixture, temp_dir};

fn weft_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn default_config() -> PathBuf {
    fixture("../../configs/fashion_mnist/lenet5_sgd.toml")
}

/// Runs `command` on `config` with `options` and returns stderr, asserting a clean failure.
fn refused(command: &str, config: &Path, options: &[&str]) -> String {
    let work = temp_dir("checks-work");
    let mut args = vec![command, config.to_str().unwrap()];
    if command == "train" {
        args.extend(["--work-dir", work.to_str().unwrap()]);
    }
    if !options.is_empty() {
        args.push("--cfg-options");
        args.extend(options);
    }
    let dir = config.parent().unwrap();
    let out = weft_in(dir, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{command} {options:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

const COMMANDS: [&str; 4] = ["train", "print-config", "param-groups", "schedule"];

#[test]
fn out_of_range_numbers_are_refused_by_every_command() {
    let cfg = default_config();
    for (option, says) in [
        ("threads=0", "threads must be between 1 and"),
        ("threads=100000", "threads must be between 1 and"),
        (
            "data.workers_per_gpu=1000",
            "workers_per_gpu must be between 0 and 64",
        ),
        (
            "data.samples_per_gpu=0",
            "the batch size must be between 1 and",
        ),
        (
            "log_config.interval=0",
            "log_config.interval must be between 1 and",
        ),
        (
            "checkpoint_config.interval=0",
            "checkpoint_config.interval must be at least 1, or -1",
        ),
        (
            "checkpoint_config.max_keep_ckpts=0",
            "max_keep_ckpts must be at least 1, or -1",
        ),
        (
            "log_level=VERBOSE",
            "log_level must be \"INFO\" or \"DEBUG\"",
        ),
    ] {
        for command in COMMANDS {
            let err = refused(command, &cfg, &[option]);
            assert!(err.contains(says), "{command} {option}: {err}");
            assert!(
                err.contains(option),
                "{command} {option} names the option: {err}"
            );
        }
    }
}

#[test]
fn dataset_and_optimizer_mistakes_are_refused_before_anything_runs() {
    let dir = temp_dir("checks-dataset");
    let cfg = dir.join("adagrad.toml");
    std::fs::write(
        &cfg,
        format!(
            "_base_ = {:?}\noptimizer = {{ type = \"Adagrad\", lr = 0.01, _delete_ = true }}\nmomentum_config = {{ policy = \"CosineAnnealing\", min_momentum_ratio = 0.9 }}\n",
            default_config().display().to_string()
        ),
    )
    .unwrap();
    for command in COMMANDS {
        let err = refused(command, &default_config(), &["data.train.foo=1"]);
        assert!(err.contains("unknown key `foo`"), "{command}: {err}");
        let err = refused(command, &default_config(), &["data.val.type=Imagenet"]);
        assert!(
            err.contains("`Imagenet` is not in the dataset registry"),
            "{command}: {err}"
        );
        let err = refused(command, &cfg, &[]);
        assert!(
            err.contains("momentum_config schedules momentum, but the optimizer Adagrad"),
            "{command}: {err}"
        );
        assert!(err.contains("adagrad.toml:3:"), "{command}: {err}");
    }
}

#[test]
fn ignored_compatibility_keys_are_said_once() {
    let out = weft_in(
        Path::new("."),
        &[
            "print-config",
            default_config().to_str().unwrap(),
            "--cfg-options",
            "gpu_ids=[0,1]",
            "opencv_num_threads=0",
        ],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("gpu_ids = [0, 1] is ignored").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("opencv_num_threads is ignored"), "{stderr}");
    // stdout is the config alone.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(toml::from_str::<toml::Value>(&stdout).is_ok());
}

#[test]
fn gpu_ids_and_mmaction2s_gpu_flags_give_one_process_one_gpu() {
    let dir = temp_dir("gpu-ids");
    let cfg = crate::training::small_config(&dir, &["device", "workflow"], "total_epochs = 1");
    let cfg = cfg.to_str().unwrap();
    let work = dir.join("w");
    let work = work.to_str().unwrap();
    // Several ids for one process: refused where they are written, with the way to use them.
    let err = crate::support::weft_err(&[
        "train",
        cfg,
        "--work-dir",
        work,
        "--cfg-options",
        "gpu_ids=[0,1]",
    ]);
    assert!(err.contains("gpu_ids = [0, 1] names 2 GPUs"), "{err}");
    assert!(err.contains("weft dist-train CONFIG --nproc 2"), "{err}");
    assert!(err.contains("--cfg-options"), "{err}");
    // `--gpus 2` as MMAction2's tools/train.py reads it: one GPU, and a warning saying so.
    let out = crate::support::weft_ok(&[
        "train",
        cfg,
        "--work-dir",
        work,
        "--gpus",
        "2",
        "--cfg-options",
        "data.train.num_samples=64",
    ]);
    // The console log (stdout) carries the warnings.
    let stderr = String::from_utf8_lossy(&out.stdout);
    assert!(
        stderr.contains("--gpus names 2 GPUs and one process trains on one (cuda:0)"),
        "{stderr}"
    );
    if !tch::Cuda::is_available() {
        assert!(
            stderr.contains("gpu_ids = [0] is ignored: this machine has no CUDA device"),
            "{stderr}"
        );
    }
    // They choose the device, so they cannot be given with --device.
    let clash = crate::support::weft_err(&["train", cfg, "--gpu-ids", "1", "--device", "cpu"]);
    assert!(clash.contains("cannot be used with"), "{clash}");
}

#[test]
fn plugins_are_found_from_a_config_named_relative_to_its_own_folder() {
    crate::guests::example("rust", "my_hook");
    let plugins = fixture("../../configs/plugins");
    let out = weft_in(&plugins, &["print-config", "my_hook.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("my_hook.wasm"));
}

#[test]
fn a_pinned_digest_that_does_not_match_refuses_even_with_allow_failed_imports() {
    let dir = temp_dir("checks-pin");
    let wasm = crate::guests::example("rust", "my_hook");
    let cfg = dir.join("pinned.toml");
    std::fs::write(
        &cfg,
        format!(
            "_base_ = {:?}\ncustom_imports = {{ imports = [{{ path = {:?}, sha256 = \"{}\" }}], allow_failed_imports = true }}\n",
            default_config().display().to_string(),
            wasm.display().to_string(),
            "0".repeat(64)
        ),
    )
    .unwrap();
    for command in COMMANDS {
        let err = refused(command, &cfg, &[]);
        assert!(err.contains("sha256 mismatch"), "{command}: {err}");
    }
    // A plugin that merely fails to load is skipped, and print-config says so.
    std::fs::write(
        &cfg,
        format!(
            "_base_ = {:?}\ncustom_imports = {{ imports = [\"missing.wasm\"], allow_failed_imports = true }}\n",
            default_config().display().to_string(),
        ),
    )
    .unwrap();
    let out = weft_in(&dir, &["print-config", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the plugin missing.wasm is not loaded"),
        "{stderr}"
    );
}
