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
