//! Resume is exact whatever the hook priorities: a checkpoint holds the state after every
//! hook of the point that asked for it, so an evaluation at LOW priority and early stopping
//! at LOWEST are in `epoch_N`, and a run resumed from any epoch ends as the straight one did.

use std::path::{Path, PathBuf};

use serde_json::Value;
use weft::session::{TrainOptions, prepare};
use weft_core::RunOutcome;
use weft_nn::checkpoint;

use crate::support::temp_dir;
use crate::training::{model_tensors, small_config};

/// Early stopping that no real improvement can satisfy (`min_delta` 0.5 on an accuracy), so
/// the first evaluation sets the best and the next two fail to beat it: the straight run
/// stops after epoch 3 of 6.
const STOPPING: &str = r#"total_epochs = 6
custom_hooks = [{ type = "EarlyStoppingHook", monitor = "top1_acc", patience = 2, min_delta = 0.5 }]"#;

fn run(config: &Path, work: &Path, resume: Option<PathBuf>, extra: &[&str]) -> RunOutcome {
    let opts = TrainOptions {
        config: config.to_path_buf(),
        work_dir: Some(work.to_path_buf()),
        cfg_options: extra.iter().map(|s| s.to_string()).collect(),
        resume_from: resume,
        ..TrainOptions::default()
    };
    let mut session = prepare(&opts).unwrap();
    session.runner.run().unwrap()
}

fn meta(path: &Path) -> Value {
    checkpoint::read(path).unwrap().meta["meta"].clone()
}

#[test]
fn early_stopping_resumed_from_any_epoch_stops_where_the_straight_run_stopped() {
    let dir = temp_dir("resume-early-stop");
    let cfg = small_config(&dir, &[], STOPPING);
    let options = [
        "evaluation.save_best=top1_acc",
        "data.train.num_samples=320",
        "data.val.num_samples=64",
    ];
    let straight = dir.join("straight");
    let outcome = run(&cfg, &straight, None, &options);
    assert!(
        matches!(&outcome, RunOutcome::Stopped(r) if r.contains("EarlyStoppingHook")),
        "{outcome:?}"
    );
    assert!(straight.join("epoch_3.safetensors").is_file());
    assert!(!straight.join("epoch_4.safetensors").exists());

    // epoch_2 holds epoch 2's evaluation: early stopping has already waited once.
    let m2 = meta(&straight.join("epoch_2.safetensors"));
    let state = &m2["hook_states"]["EarlyStoppingHook#0"];
    assert_eq!(state["wait"], 1, "{m2}");
    // The last checkpoint names the best checkpoint that the run kept.
    let m3 = meta(&straight.join("epoch_3.safetensors"));
    let best = m3["hook_msgs"]["best_ckpt"].as_str().unwrap();
    assert!(Path::new(best).is_file(), "epoch_3 names {best}");

    for from in [1, 2] {
        let resumed = dir.join(format!("resumed-{from}"));
        std::fs::create_dir_all(&resumed).unwrap();
        let start = resumed.join(format!("epoch_{from}.safetensors"));
        std::fs::copy(straight.join(format!("epoch_{from}.safetensors")), &start).unwrap();
        let outcome = run(&cfg, &resumed, Some(start), &options);
        assert!(
            matches!(&outcome, RunOutcome::Stopped(_)),
            "from epoch {from}: {outcome:?}"
        );
        assert!(resumed.join("epoch_3.safetensors").is_file());
        assert!(
            !resumed.join("epoch_4.safetensors").exists(),
            "resumed from epoch {from}, the run went on past epoch 3"
        );
        assert_eq!(
            model_tensors(&resumed.join("epoch_3.safetensors")),
            model_tensors(&straight.join("epoch_3.safetensors")),
            "from epoch {from}"
        );
    }

    // The checkpoint of the stop ends the run: resuming from it trains nothing.
    let last = dir.join("after-stop");
    std::fs::create_dir_all(&last).unwrap();
    let start = last.join("epoch_3.safetensors");
    std::fs::copy(straight.join("epoch_3.safetensors"), &start).unwrap();
    let outcome = run(&cfg, &last, Some(start), &options);
    assert!(
        matches!(&outcome, RunOutcome::AlreadyDone(r) if r.contains("stopped")),
        "{outcome:?}"
    );
    assert!(!last.join("epoch_4.safetensors").exists());
}

#[test]
fn resuming_a_finished_run_says_so_and_trains_nothing() {
    let dir = temp_dir("resume-finished");
    let cfg = small_config(&dir, &["workflow", "evaluation"], "total_epochs = 1");
    let work = dir.join("work");
    let options = ["data.train.num_samples=64"];
    assert_eq!(run(&cfg, &work, None, &options), RunOutcome::Completed);
    let before = model_tensors(&work.join("epoch_1.safetensors"));
    let outcome = run(&cfg, &work, Some(work.join("latest.safetensors")), &options);
    assert!(
        matches!(&outcome, RunOutcome::AlreadyDone(r) if r.contains("all 1 epochs done")),
        "{outcome:?}"
    );
    assert_eq!(model_tensors(&work.join("epoch_1.safetensors")), before);
}

/// The records of a work dir's JSON logs that do not depend on the clock, by position, the
/// later log winning where a resumed run repeated a record.
fn records(work: &Path) -> Vec<(String, Value)> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".log.json"))
        .collect();
    logs.sort();
    let mut by_key = std::collections::BTreeMap::new();
    for log in logs {
        for line in std::fs::read_to_string(log).unwrap().lines() {
            let mut v: Value = serde_json::from_str(line).unwrap();
            let Some(mode) = v.get("mode").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            for clock in ["time", "data_time", "eta", "memory"] {
                v.as_object_mut().unwrap().remove(clock);
            }
            let key = format!("{mode} {:>4} {:>6}", v["epoch"], v["iter"]);
            by_key.insert(key, v);
        }
    }
    by_key.into_iter().collect()
}

#[test]
fn a_run_resumed_in_the_middle_of_a_logging_window_logs_what_the_straight_run_logged() {
    let dir = temp_dir("resume-log-window");
    let cfg = small_config(
        &dir,
        &["checkpoint_config", "log_config"],
        "total_epochs = 2\ncheckpoint_config = { interval = 3, by_epoch = false }\nlog_config = { interval = 2, hooks = [{ type = \"TextLoggerHook\" }] }",
    );
    let options = ["data.train.num_samples=320", "data.val.num_samples=64"];
    let straight = dir.join("straight");
    assert_eq!(run(&cfg, &straight, None, &options), RunOutcome::Completed);
    // iter_3 falls between the log lines of iterations 2 and 4.
    let resumed = dir.join("resumed");
    std::fs::create_dir_all(&resumed).unwrap();
    let start = resumed.join("iter_3.safetensors");
    std::fs::copy(straight.join("iter_3.safetensors"), &start).unwrap();
    for log in std::fs::read_dir(&straight).unwrap() {
        let path = log.unwrap().path();
        // The log up to the checkpoint, as a run killed there would have left it.
        if path.to_string_lossy().ends_with(".log.json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let kept: Vec<&str> = text
                .lines()
                .take_while(|l| !l.contains("\"iter\": 4,"))
                .collect();
            std::fs::write(
                resumed.join("00000000_000000.log.json"),
                kept.join("\n") + "\n",
            )
            .unwrap();
        }
    }
    assert_eq!(
        run(&cfg, &resumed, Some(start), &options),
        RunOutcome::Completed
    );
    let want = records(&straight);
    let got = records(&resumed);
    assert_eq!(got.len(), want.len());
    for ((k, g), (_, w)) in got.iter().zip(&want) {
        assert_eq!(g, w, "{k}");
    }
    assert_eq!(
        model_tensors(&resumed.join("iter_20.safetensors")),
        model_tensors(&straight.join("iter_20.safetensors"))
    );
}
