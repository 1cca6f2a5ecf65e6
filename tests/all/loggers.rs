//! TensorBoard and MLflow output, read back with the real Python readers (TensorBoard's
//! `EventAccumulator`, `mlflow.MlflowClient` on the file store), against the JSON log of the
//! same run.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use weft::session::{TrainOptions, prepare};

use crate::support::temp_dir;
use crate::training::{json_lines, small_config};

/// The interpreter with `tensorboard` and `mlflow` (`make readers` installs it).
fn readers_python() -> PathBuf {
    let path = std::env::var_os("WEFT_READERS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            crate::support::weft_cache().join("readers-tb2.21.0-mlflow3.17.2/bin/python")
        });
    assert!(
        path.exists(),
        "{} is missing: `make readers` (part of `make test`) installs the TensorBoard and MLflow readers",
        path.display()
    );
    path
}

fn python(script: &str, args: &[&str]) -> Value {
    let out = Command::new(readers_python())
        .arg("-c")
        .arg(script)
        .args(args)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

const READ_TENSORBOARD: &str = r#"
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
print(json.dumps({tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}))
"#;

const READ_MLFLOW: &str = r#"
import json, sys
from mlflow.tracking import MlflowClient
client = MlflowClient(tracking_uri="file:" + sys.argv[1])
exps = [e for e in client.search_experiments() if e.name == sys.argv[2]]
runs = client.search_runs([exps[0].experiment_id])
run = runs[0]
print(json.dumps({
    "status": run.info.status,
    "run_name": run.info.run_name,
    "params": run.data.params,
    "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
    "metrics": {k: [[m.step, m.value] for m in client.get_metric_history(run.info.run_id, k)] for k in run.data.metrics},
    "runs": len(runs),
}))
"#;

fn logger_config(dir: &Path, extra_hooks: &str, extra: &str) -> PathBuf {
    small_config(
        dir,
        &["log_config"],
        &format!(
            "log_config = {{ interval = 2, hooks = [{{ type = \"TextLoggerHook\" }}, {extra_hooks}] }}\n{extra}"
        ),
    )
}

fn train_lines(work: &Path) -> Vec<Value> {
    json_lines(work)
        .into_iter()
        .filter(|l| l["mode"] == "train")
        .collect()
}

#[test]
fn tensorboard_event_files_hold_every_logged_value() {
    let dir = temp_dir("tensorboard");
    let cfg = logger_config(&dir, "{ type = \"TensorboardLoggerHook\" }", "");
    let work = dir.join("work");
    let mut session = prepare(&TrainOptions {
        config: cfg,
        work_dir: Some(work.clone()),
        cfg_options: vec!["total_epochs=2".into(), "data.train.num_samples=320".into()],
        ..TrainOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    session.runner.run().unwrap();
    let tb = python(READ_TENSORBOARD, &[work.join("tf_logs").to_str().unwrap()]);
    let train = train_lines(&work);
    // Every train record of the JSON log is there, at step iter + 1, with the same value.
    let loss = tb["train/loss"].as_array().unwrap();
    assert_eq!(loss.len(), train.len(), "{tb}");
    for (point, line) in loss.iter().zip(&train) {
        let global_iter =
            (line["epoch"].as_u64().unwrap() - 1) * 10 + line["iter"].as_u64().unwrap();
        assert_eq!(point[0].as_u64().unwrap(), global_iter);
        let (a, b) = (point[1].as_f64().unwrap(), line["loss"].as_f64().unwrap());
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    for tag in [
        "train/top1_acc",
        "train/grad_norm",
        "learning_rate",
        "momentum",
        "val/top1_acc",
        "val/mean_class_accuracy",
        "val/loss",
    ] {
        assert!(
            tb.get(tag)
                .is_some_and(|v| !v.as_array().unwrap().is_empty()),
            "{tag} missing: {tb}"
        );
    }
    // Two epochs: two evaluations and two val phases each log once per epoch.
    assert_eq!(tb["val/mean_class_accuracy"].as_array().unwrap().len(), 2);
    assert!(tb.get("train/time").is_none() && tb.get("train/data_time").is_none());
    let lr: Vec<f64> = tb["learning_rate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    assert!(lr.iter().all(|v| (v - 0.05).abs() < 1e-7), "{lr:?}");
}

#[test]
fn an_mlflow_run_holds_params_metrics_tags_and_its_final_status() {
    let dir = temp_dir("mlflow");
    let cfg = logger_config(
        &dir,
        "{ type = \"MlflowLoggerHook\", exp_name = \"weft-tests\", tags = { team = \"vision\" }, params = { note = \"small\" } }",
        "",
    );
    let work = dir.join("work");
    let mut session = prepare(&TrainOptions {
        config: cfg,
        work_dir: Some(work.clone()),
        cfg_options: vec!["total_epochs=1".into(), "data.train.num_samples=320".into()],
        ..TrainOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    session.runner.run().unwrap();
    let run = python(
        READ_MLFLOW,
        &[work.join("mlruns").to_str().unwrap(), "weft-tests"],
    );
    assert_eq!(run["status"], "FINISHED", "{run}");
    assert_eq!(run["runs"], 1);
    assert_eq!(run["params"]["optimizer.lr"], "0.05", "{run}");
    assert_eq!(run["params"]["optimizer.type"], "SGD");
    assert_eq!(run["params"]["note"], "small");
    assert_eq!(run["tags"]["team"], "vision");
    let train = train_lines(&work);
    let loss = run["metrics"]["train/loss"].as_array().unwrap();
    assert_eq!(loss.len(), train.len());
    for (point, line) in loss.iter().zip(&train) {
        assert_eq!(point[0].as_u64().unwrap(), line["iter"].as_u64().unwrap());
        assert!((point[1].as_f64().unwrap() - line["loss"].as_f64().unwrap()).abs() < 1e-4);
    }
    // The evaluation and the val phase both log `val/top1_acc` at the end of the epoch (as in
    // MMCV); `mean_class_accuracy` comes from the evaluation only.
    assert_eq!(
        run["metrics"]["val/top1_acc"].as_array().unwrap().len(),
        2,
        "{run}"
    );
    assert_eq!(
        run["metrics"]["val/mean_class_accuracy"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The last checkpoint is the run's model artifact.
    let artifacts: Vec<PathBuf> = glob_files(&work.join("mlruns"), "epoch_1.safetensors");
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
}

fn glob_files(root: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == name) {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_failed_run_is_marked_failed_in_mlflow() {
    let dir = temp_dir("mlflow-failed");
    let wasm = crate::guests::guest("faulty");
    let cfg = logger_config(
        &dir,
        "{ type = \"MlflowLoggerHook\", exp_name = \"weft-failures\" }",
        &format!(
            "custom_imports = {{ imports = [{:?}] }}\ncustom_hooks = [{{ type = \"FaultyHook\", fault = \"error\", after = 3 }}]",
            wasm.to_str().unwrap()
        ),
    );
    let work = dir.join("work");
    let mut session = prepare(&TrainOptions {
        config: cfg,
        work_dir: Some(work.clone()),
        cfg_options: vec!["total_epochs=1".into(), "data.train.num_samples=320".into()],
        ..TrainOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(session.runner.run().is_err());
    let run = python(
        READ_MLFLOW,
        &[work.join("mlruns").to_str().unwrap(), "weft-failures"],
    );
    assert_eq!(run["status"], "FAILED", "{run}");
}

#[test]
fn wandb_is_refused_with_what_to_use_instead() {
    let dir = temp_dir("wandb");
    let cfg = logger_config(&dir, "{ type = \"WandbLoggerHook\" }", "total_epochs = 1");
    let err = prepare(&TrainOptions {
        config: cfg,
        work_dir: Some(dir.join("work")),
        ..TrainOptions::default()
    })
    .err()
    .expect("W&B must be refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("WandbLoggerHook")
            && text.contains("MlflowLoggerHook")
            && text.contains("small.toml:"),
        "{text}"
    );
}

#[test]
fn a_logger_that_cannot_write_warns_once_and_training_goes_on() {
    // Files may not grow past 48 KiB in this process (SIGXFSZ ignored, so writes fail with
    // EFBIG): the TensorBoard file fills up mid-run; checkpoints are off.
    let dir = temp_dir("logger-full");
    let cfg = small_config(
        &dir,
        &["log_config", "checkpoint_config", "evaluation", "workflow"],
        "log_config = { interval = 1, hooks = [{ type = \"TextLoggerHook\" }, { type = \"TensorboardLoggerHook\" }] }\ntotal_epochs = 4",
    );
    let work = dir.join("work");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -f 48; trap '' XFSZ; exec {} train {} --work-dir {} --cfg-options data.train.num_samples=3200",
            env!("CARGO_BIN_EXE_weft"),
            cfg.display(),
            work.display()
        ))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let warnings = text.matches("TensorboardLoggerHook: cannot write").count();
    assert_eq!(warnings, 1, "{text}");
    assert!(
        text.contains("Epoch [4][100/100]"),
        "training finished: {text}"
    );
}
