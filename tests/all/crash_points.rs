//! R1, crash points: `weft train` killed with SIGKILL at random moments (in an iteration, at
//! an epoch's end, during evaluation, during a checkpoint write) and restarted with
//! `--auto-resume` each time ends with the same weights, optimizer state, hook and plugin
//! state and JSON log records, bit for bit, as a run that was never interrupted.
//!
//! The run: Adam, a cosine schedule, the built-in early stopping, the `EarlyStopHook` plugin
//! (stateful), two data workers, a checkpoint every 4 iterations and at each epoch's end.
//! `make test` kills it 5 times; `make crash-points` (`WEFT_CRASH_POINTS=20`) 20 times.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_nn::checkpoint;

use crate::support::temp_dir;
use crate::training::small_config;

fn config(dir: &Path) -> PathBuf {
    let plugin = crate::guests::example("rust", "early_stop");
    small_config(
        dir,
        &["optimizer", "lr_config", "checkpoint_config"],
        &format!(
            r#"total_epochs = 4
optimizer = {{ type = "Adam", lr = 0.002, weight_decay = 1e-4 }}
lr_config = {{ policy = "CosineAnnealing", min_lr = 1e-5, by_epoch = false }}
checkpoint_config = {{ interval = 4, by_epoch = false }}
custom_imports = {{ imports = [{:?}] }}
custom_hooks = [
    {{ type = "EarlyStoppingHook", monitor = "top1_acc", patience = 5, min_delta = 0.0 }},
    {{ type = "EarlyStopHook", monitor = "mean_class_accuracy", patience = 5, priority = "VERY_LOW" }},
]"#,
            plugin.to_str().unwrap()
        ),
    )
}

const OPTIONS: [&str; 2] = ["data.train.num_samples=320", "data.val.num_samples=64"];

fn train(cfg: &Path, work: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.args(["train", cfg.to_str().unwrap(), "--work-dir"])
        .arg(work)
        .arg("--auto-resume")
        .arg("--cfg-options")
        .args(OPTIONS)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// A small deterministic generator, so that a failing kill schedule can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next_fraction(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Every tensor of a checkpoint (model and optimizer state), by name.
fn tensors(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let loaded = checkpoint::read(path).unwrap();
    loaded
        .tensors
        .iter()
        .map(|(name, t)| {
            let t = t.flatten(0, -1);
            let mut bytes = vec![0u8; t.numel() * t.kind().elt_size_in_bytes()];
            t.copy_data_u8(&mut bytes, t.numel());
            (name.clone(), bytes)
        })
        .collect()
}

/// What a checkpoint's metadata says that must not depend on interruptions (paths are
/// written relative to the work dir).
fn state(path: &Path, work: &Path) -> Value {
    let meta = checkpoint::read(path).unwrap().meta;
    let text = meta
        .to_string()
        .replace(work.to_str().unwrap(), "<WORK_DIR>");
    let mut meta: Value = serde_json::from_str(&text).unwrap();
    // The clock's values in the open logging window differ from run to run.
    if let Some(h) = meta["meta"]["log_buffer"]["history"].as_object_mut() {
        h.remove("time");
        h.remove("data_time");
    }
    serde_json::json!({
        "hook_states": meta["meta"]["hook_states"],
        "hook_msgs": meta["meta"]["hook_msgs"],
        "resume": meta["meta"]["resume"],
        "log_buffer": meta["meta"]["log_buffer"],
        "optimizer": meta["optimizer"],
    })
}

/// The JSON log records of every log in the work dir, by (mode, epoch, iter), later logs
/// winning (a restarted run logs the iterations it repeats again), without the clock's values.
fn records(work: &Path) -> BTreeMap<String, Value> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".log.json"))
        .collect();
    logs.sort();
    let mut out = BTreeMap::new();
    for log in logs {
        for line in std::fs::read_to_string(&log).unwrap().lines() {
            // A kill can cut the last line of a log short.
            let Ok(mut v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some(mode) = v.get("mode").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            for clock in ["time", "data_time", "eta", "memory"] {
                v.as_object_mut().unwrap().remove(clock);
            }
            // A val epoch logs its loss and the evaluation its metrics at one position.
            let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
            let key = format!("{mode} {:>3} {:>5} {keys:?}", v["epoch"], v["iter"]);
            out.insert(key, v);
        }
    }
    out
}

#[test]
fn a_run_killed_at_random_moments_and_resumed_ends_as_an_uninterrupted_one() {
    let kills: usize = std::env::var("WEFT_CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = temp_dir("crash-points");
    let cfg = config(&dir);

    let reference = dir.join("reference");
    let started = Instant::now();
    let out = train(&cfg, &reference).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let whole = started.elapsed();

    let crashed = dir.join("crashed");
    let mut rng = Lcg(0x5eed);
    let mut survived = 0;
    while survived < kills {
        let mut child = train(&cfg, &crashed).stderr(Stdio::null()).spawn().unwrap();
        // Anywhere from start-up to past the end of a whole run.
        let delay = whole.mul_f64(0.1 + 1.1 * rng.next_fraction());
        let deadline = Instant::now() + delay;
        let mut finished = false;
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if finished {
            // The run completed before its kill: start over, so every kill lands in a run.
            let status = child.wait().unwrap();
            assert!(status.success(), "a restarted run failed");
            std::fs::remove_dir_all(&crashed).unwrap();
            continue;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        survived += 1;
        // What a kill leaves is always loadable through `latest`.
        let latest = crashed.join("latest.safetensors");
        if latest.exists() {
            checkpoint::read(&latest)
                .unwrap_or_else(|e| panic!("after kill {survived}, latest does not load: {e}"));
        }
    }
    let out = train(&cfg, &crashed).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let last = "iter_40.safetensors";
    assert_eq!(
        tensors(&crashed.join(last)),
        tensors(&reference.join(last)),
        "weights or optimizer state differ after {kills} kills"
    );
    assert_eq!(
        state(&crashed.join(last), &crashed),
        state(&reference.join(last), &reference)
    );
    let (got, want) = (records(&crashed), records(&reference));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (key, value) in &want {
        assert_eq!(&got[key], value, "{key}");
    }
}
