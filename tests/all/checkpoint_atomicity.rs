//! R5, checkpoint atomicity: the process dies (`WEFT_TEST_CRASH_AT`, an abort at a chosen
//! stage of a chosen checkpoint write: temporary file created, half written, written,
//! synced, renamed, every file done, `latest`'s new link made, `latest` moved, old files being
//! removed) and afterwards `latest` always loads, never names a torn file, and a run resumed
//! with `--auto-resume` ends with the weights of a run that never died.
//!
//! `make test` tries 12 points; `make crash-points` (`WEFT_ATOMICITY_POINTS=all`) every one
//! of the 12 writes x 9 stages.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use weft_core::crash::STAGES;
use weft_nn::checkpoint;

use crate::support::temp_dir;
use crate::training::{model_tensors, small_config};

/// 2 epochs of 10 iterations, a checkpoint every 2 (the two newest kept, so old ones are
/// removed) and the best one after each evaluation that improves: 11 or 12 checkpoint writes.
fn config(dir: &Path) -> PathBuf {
    small_config(
        dir,
        &["checkpoint_config"],
        "total_epochs = 2\ncheckpoint_config = { interval = 2, by_epoch = false, max_keep_ckpts = 2 }",
    )
}

const WRITES: u64 = 12;

fn train(cfg: &Path, work: &Path, crash_at: Option<(u64, u8)>) -> std::process::ExitStatus {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.args(["train", cfg.to_str().unwrap(), "--work-dir"])
        .arg(work)
        .args(["--auto-resume", "--cfg-options"])
        .args([
            "data.train.num_samples=320",
            "data.val.num_samples=64",
            "evaluation.save_best=top1_acc",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some((n, s)) = crash_at {
        cmd.env("WEFT_TEST_CRASH_AT", format!("{n}.{s}"));
    }
    cmd.status().unwrap()
}

/// `latest`, if it exists, names a complete checkpoint in the work dir.
fn assert_latest_sound(work: &Path, point: &str) {
    let latest = work.join("latest.safetensors");
    let Ok(target) = std::fs::read_link(&latest) else {
        assert!(!latest.exists(), "{point}: latest is not a link");
        return;
    };
    let name = target.to_string_lossy().into_owned();
    assert!(!name.ends_with(".tmp"), "{point}: latest names {name}");
    checkpoint::read(&latest).unwrap_or_else(|e| panic!("{point}: latest ({name}): {e}"));
}

#[test]
fn a_crash_at_any_stage_of_a_checkpoint_write_never_loses_the_last_good_one() {
    let dir = temp_dir("atomicity");
    let cfg = config(&dir);
    let reference = dir.join("reference");
    assert!(train(&cfg, &reference, None).success());
    let want = model_tensors(&reference.join("iter_20.safetensors"));

    let all = std::env::var("WEFT_ATOMICITY_POINTS").is_ok_and(|v| v == "all");
    let points: Vec<(u64, u8)> = if all {
        (1..=WRITES)
            .flat_map(|n| (1..=STAGES).map(move |s| (n, s)))
            .collect()
    } else {
        // Every stage once, spread over the writes, and the first and last writes.
        (1..=STAGES)
            .map(|s| (1 + (u64::from(s) * 5) % WRITES, s))
            .chain([(1, 4), (WRITES, 8), (WRITES, 3)])
            .collect()
    };
    let mut crashed = 0;
    for &(n, s) in &points {
        let point = format!("write {n}, stage {s}");
        let work = dir.join(format!("crash-{n}-{s}"));
        if train(&cfg, &work, Some((n, s))).success() {
            // A stage this write never reaches (a best checkpoint moves no `latest`; not
            // every write removes an old one): nothing died.
            continue;
        }
        crashed += 1;
        assert_latest_sound(&work, &point);
        // Resumed, the run ends where the uninterrupted one did.
        assert!(train(&cfg, &work, None).success(), "{point}: resume failed");
        assert_eq!(
            model_tensors(&work.join("iter_20.safetensors")),
            want,
            "{point}"
        );
        // Nothing half-written stays behind.
        let leftovers: Vec<String> = std::fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{point}: {leftovers:?}");
    }
    // For docs/reliability.md (run with --nocapture).
    eprintln!(
        "checkpoint atomicity: {crashed} of {} crash points reached, each resumed to the reference weights",
        points.len()
    );
    assert!(
        crashed * 4 >= points.len() * 3,
        "only {crashed} of {} crash points were reached",
        points.len()
    );
}
