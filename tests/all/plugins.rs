//! The Rust plugin examples in guest-examples/, loaded from configs and run in real training:
//! each does what its README says and matches the built-in it mirrors.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use weft::session::{TrainOptions, prepare};
use weft_core::RunOutcome;

use crate::guests::guest;
use crate::support::temp_dir;
use crate::training::{json_lines, model_tensors, small_config};

/// `custom_imports` naming the built examples.
fn imports(names: &[&str]) -> String {
    let paths: Vec<String> = names
        .iter()
        .map(|n| format!("{:?}", guest(n).to_str().unwrap()))
        .collect();
    format!("custom_imports = {{ imports = [{}] }}\n", paths.join(", "))
}

/// Trains and returns the outcome and the captured log.
fn run(
    config: &Path,
    work_dir: &Path,
    options: &[&str],
    resume: Option<&Path>,
) -> (RunOutcome, Vec<String>) {
    let opts = TrainOptions {
        config: config.to_path_buf(),
        work_dir: Some(work_dir.to_path_buf()),
        cfg_options: options.iter().map(|s| s.to_string()).collect(),
        resume_from: resume.map(Path::to_path_buf),
        ..TrainOptions::default()
    };
    let mut session = prepare(&opts).unwrap_or_else(|e| panic!("{e:#}"));
    let outcome = session.runner.run().unwrap_or_else(|e| panic!("{e}"));
    (outcome, session.runner.ctx.log.captured())
}

fn has(log: &[String], needle: &str) -> bool {
    log.iter().any(|l| l.contains(needle))
}

fn relative_error(a: &[f32], b: &[f32]) -> f64 {
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum::<f64>().sqrt();
    diff / norm.max(f64::MIN_POSITIVE)
}

#[test]
fn my_hook_runs_at_the_generic_points_in_two_independent_instances() {
    let dir = temp_dir("plugin-my-hook");
    let extra = format!(
        "{}custom_hooks = [{{ type = \"MyHook\", a = 1, b = \"x\", priority = \"NORMAL\" }}, {{ type = \"MyHook\", a = 2, b = \"y\", priority = 60 }}]",
        imports(&["my_hook"])
    );
    let cfg = small_config(&dir, &[], &extra);
    let (outcome, log) = run(&cfg, &dir.join("work"), &["total_epochs=2"], None);
    assert_eq!(outcome, RunOutcome::Completed);
    assert!(
        has(
            &log,
            "[MyHook] MyHook(a=1, b=x) before_run: 60 iterations planned"
        ),
        "{log:#?}"
    );
    assert!(has(&log, "[MyHook] MyHook(a=2, b=y) before_run"));
    // The generic before_epoch serves train and val epochs, as MMCV's fallbacks do.
    assert!(has(&log, "[MyHook] before_epoch 1 (train)"));
    assert!(has(&log, "[MyHook] before_epoch 2 (val)"));
    // 2 x (30 train + 8 val) iterations through the generic before_iter, per instance.
    let done: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("after_run at iter 60 after 76 iterations seen"))
        .collect();
    assert_eq!(done.len(), 2, "{log:#?}");
    // Each instance logs under its own key; the values differ by the factor `a`.
    let lines = json_lines(&dir.join("work"));
    let train: Vec<&Value> = lines.iter().filter(|l| l["mode"] == "train").collect();
    assert!(!train.is_empty());
    for l in train {
        let (x, y) = (
            l["x_scaled_loss"].as_f64().unwrap(),
            l["y_scaled_loss"].as_f64().unwrap(),
        );
        assert!((y - 2.0 * x).abs() < 1e-4, "{l}");
        assert!((x - l["loss"].as_f64().unwrap()).abs() < 1e-4, "{l}");
    }
}

fn lr_curve(config: &Path) -> Vec<f64> {
    let v = crate::support::weft_json(&[
        "schedule",
        config.to_str().unwrap(),
        "--json",
        "--iters-per-epoch",
        "25",
    ]);
    v["iters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["lr"][0].as_f64().unwrap())
        .collect()
}

#[test]
fn the_warmup_cosine_plugin_follows_the_builtin_policy_and_survives_resume() {
    let dir = temp_dir("plugin-warmup-cosine");
    let builtin = small_config(
        &dir.join("builtin"),
        &["lr_config"],
        "total_epochs = 2\nlr_config = { policy = \"CosineAnnealing\", warmup = \"linear\", warmup_iters = 7, warmup_ratio = 0.1, min_lr_ratio = 0.01, by_epoch = false }",
    );
    let plugin = small_config(
        &dir.join("plugin"),
        &["lr_config"],
        &format!(
            "total_epochs = 2\n{}custom_hooks = [{{ type = \"WarmupCosineLrHook\", warmup_iters = 7, warmup_ratio = 0.1, min_lr_ratio = 0.01, priority = \"VERY_HIGH\" }}]",
            imports(&["warmup_cosine"])
        ),
    );
    // The dry schedule (the real hooks over 2 epochs of 25 iterations) agrees everywhere.
    let (a, b) = (lr_curve(&builtin), lr_curve(&plugin));
    assert_eq!(a.len(), 50);
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-12 * x.abs(),
            "iteration {i}: built-in {x}, plugin {y}"
        );
    }
    assert!(a[0] < a[7] && a[7] > a[49], "warmup then decay: {a:?}");
    // Real training: the same lr at every logged iteration, hence the same weights.
    let (_, _) = run(&builtin, &dir.join("w-builtin"), &["total_epochs=2"], None);
    let (_, _) = run(&plugin, &dir.join("w-plugin"), &["total_epochs=2"], None);
    let lrs = |w: &str| -> Vec<f64> {
        json_lines(&dir.join(w))
            .iter()
            .filter(|l| l["mode"] == "train")
            .map(|l| l["lr"].as_f64().unwrap())
            .collect()
    };
    let (la, lb) = (lrs("w-builtin"), lrs("w-plugin"));
    assert_eq!(la.len(), lb.len());
    for (x, y) in la.iter().zip(&lb) {
        assert!((x - y).abs() <= 1e-12 * x.abs(), "{la:?} vs {lb:?}");
    }
    let final_a = model_tensors(&dir.join("w-builtin/epoch_2.safetensors"));
    let final_b = model_tensors(&dir.join("w-plugin/epoch_2.safetensors"));
    for ((name, x), (_, y)) in final_a.iter().zip(&final_b) {
        assert!(relative_error(y, x) <= 1e-6, "{name}");
    }
    // Resuming from epoch 1 restores the plugin's base lr from the checkpoint and ends
    // with the uninterrupted run's weights.
    let resumed = dir.join("w-resumed");
    let (_, log) = run(
        &plugin,
        &resumed,
        &["total_epochs=2"],
        Some(&dir.join("w-plugin/epoch_1.safetensors")),
    );
    assert!(has(&log, "resumed from"));
    assert_eq!(model_tensors(&resumed.join("epoch_2.safetensors")), final_b);
}

#[test]
fn early_stopping_stops_the_run_through_a_request() {
    let dir = temp_dir("plugin-early-stop");
    // Under rule "less", a rising accuracy counts as no improvement: patience 1 stops the run
    // at the first epoch whose accuracy does not fall.
    let cfg = small_config(
        &dir,
        &[],
        &format!(
            "{}custom_hooks = [{{ type = \"EarlyStopHook\", monitor = \"top1_acc\", rule = \"less\", patience = 1, priority = \"VERY_LOW\" }}]",
            imports(&["early_stop"])
        ),
    );
    let (outcome, log) = run(&cfg, &dir.join("work"), &["total_epochs=8"], None);
    let RunOutcome::Stopped(reason) = outcome else {
        panic!("the run was not stopped: {outcome:?}\n{log:#?}");
    };
    assert!(
        reason.contains("EarlyStopHook: top1_acc stopped improving"),
        "{reason}"
    );
    assert!(has(&log, "has not improved for 1 evaluations"));
    let epochs: Vec<u64> = json_lines(&dir.join("work"))
        .iter()
        .filter(|l| l["mode"] == "val")
        .map(|l| l["epoch"].as_u64().unwrap())
        .collect();
    let last = *epochs.iter().max().unwrap();
    assert!((2..8).contains(&last), "stopped after epoch {last}");
}

#[test]
fn the_gradient_guard_skips_non_finite_steps_and_keeps_the_weights_finite() {
    let dir = temp_dir("plugin-grad-guard");
    // An absurd lr makes the loss overflow after the first step; then every gradient is NaN.
    let options = [
        "total_epochs=1",
        "optimizer.lr=1e12",
        "optimizer.momentum=0",
    ];
    let guarded = small_config(
        &dir.join("guarded"),
        &["optimizer_config"],
        &format!(
            "{}custom_hooks = [{{ type = \"GradGuardHook\" }}]",
            imports(&["grad_guard"])
        ),
    );
    let (_, log) = run(&guarded, &dir.join("w-guarded"), &options, None);
    assert!(has(&log, "[GradGuardHook] iteration"), "{log:#?}");
    let lines = json_lines(&dir.join("w-guarded"));
    let skipped = lines
        .iter()
        .filter_map(|l| l["skipped_steps"].as_f64())
        .fold(0.0, f64::max);
    assert!(skipped > 0.0, "no skipped steps logged");
    let finite = |w: &str| {
        model_tensors(&dir.join(w).join("epoch_1.safetensors"))
            .iter()
            .all(|(_, v)| v.iter().all(|x| x.is_finite()))
    };
    assert!(
        finite("w-guarded"),
        "the guard let non-finite values into the weights"
    );
    // The same run without the guard ends with NaN weights: the guard is what kept them.
    let bare = small_config(&dir.join("bare"), &["optimizer_config"], "");
    run(&bare, &dir.join("w-bare"), &options, None);
    assert!(!finite("w-bare"));
}

#[test]
fn my_optimizer_trains_like_native_sgd_and_resumes_its_momentum() {
    let dir = temp_dir("plugin-my-optimizer");
    let native = small_config(&dir.join("native"), &[], "");
    let plugin = small_config(
        &dir.join("plugin"),
        &["optimizer"],
        &format!(
            "{}optimizer = {{ type = \"MyOptimizer\", lr = 0.05, momentum = 0.9, weight_decay = 5e-4, a = 1.0, b = 2.0, c = 3 }}",
            imports(&["my_optimizer"])
        ),
    );
    // The lr steps down after the first epoch, so the schedule drives the plugin's groups.
    let options = ["total_epochs=2", "lr_config.step=[1]"];
    run(&native, &dir.join("w-native"), &options, None);
    let (_, log) = run(&plugin, &dir.join("w-plugin"), &options, None);
    assert!(
        has(&log, "[MyOptimizer] MyOptimizer(a=1, b=2, c=3)"),
        "{log:#?}"
    );
    assert!(has(&log, "optimizer MyOptimizer"));
    let a = model_tensors(&dir.join("w-native/epoch_2.safetensors"));
    let b = model_tensors(&dir.join("w-plugin/epoch_2.safetensors"));
    assert_eq!(a.len(), b.len());
    // The plugin's program rounds each multiply and add apart (its `mul-add` is documented as
    // two roundings); libtorch's fused SGD kernel may contract them into FMAs, more so on
    // AVX-512 CPUs: over the run's 60 steps the two drift by a few ulps per step (measured
    // 1.5e-6 relative on an AVX-512 Xeon, below 1e-6 on AVX2), far below any other change.
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        let e = relative_error(y, x);
        assert!(e <= 1e-5, "{name}: relative error {e}");
    }
    // The step schedule reached the plugin's groups.
    let lrs: Vec<f64> = json_lines(&dir.join("w-plugin"))
        .iter()
        .filter(|l| l["mode"] == "train")
        .map(|l| l["lr"].as_f64().unwrap())
        .collect();
    assert!(lrs.contains(&0.05) && lrs.contains(&0.005), "{lrs:?}");
    // Momentum buffers are host tensors in the checkpoint: a resumed run matches.
    let ckpt = weft_nn::checkpoint::read(&dir.join("w-plugin/epoch_1.safetensors")).unwrap();
    assert!(
        ckpt.tensors.keys().any(|k| k.contains("momentum_buffer")),
        "{:?}",
        ckpt.tensors.keys().collect::<Vec<_>>()
    );
    run(
        &plugin,
        &dir.join("w-resumed"),
        &options,
        Some(&dir.join("w-plugin/epoch_1.safetensors")),
    );
    assert_eq!(model_tensors(&dir.join("w-resumed/epoch_2.safetensors")), b);
}

#[test]
fn plugin_inspect_reports_world_type_version_digest_and_size() {
    let wasm = guest("my_optimizer");
    let v = crate::support::weft_json(&["plugin", "inspect", wasm.to_str().unwrap(), "--json"]);
    assert_eq!(v["type"], "MyOptimizer");
    assert_eq!(v["world"], "custom-optimizer");
    assert_eq!(v["version"], "0.1.0");
    // The Rust SDK builds hooks against 0.3.0 (ranks, no borrowed run state) and optimizers
    // against 0.1.0.
    let hook = guest("rank_probe");
    let h = crate::support::weft_json(&["plugin", "inspect", hook.to_str().unwrap(), "--json"]);
    assert_eq!(h["version"], "0.3.0");
    assert!(
        h["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "weft:plugin/ranks@0.3.0"),
        "{h}"
    );
    let bytes = std::fs::read(&wasm).unwrap();
    assert_eq!(v["size"], bytes.len() as u64);
    let sha = v["sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    assert!(
        v["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "weft:plugin/tensors@0.1.0")
    );
    // The same digest passes --sha256; another fails with both digests in the message.
    let ok = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["plugin", "inspect", wasm.to_str().unwrap(), "--sha256", sha])
        .output()
        .unwrap();
    assert!(ok.status.success());
    let bad = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "plugin",
            "inspect",
            wasm.to_str().unwrap(),
            "--sha256",
            &"0".repeat(64),
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("sha256 mismatch") && err.contains(sha),
        "{err}"
    );
}

#[test]
fn an_unknown_type_lists_the_plugin_types_and_the_closest_name() {
    let dir = temp_dir("plugin-unknown");
    let cfg = small_config(
        &dir,
        &[],
        &format!(
            "total_epochs = 1\n{}custom_hooks = [{{ type = \"MyHok\", a = 1, b = \"x\" }}]",
            imports(&["my_hook"])
        ),
    );
    let err = prepare(&TrainOptions {
        config: cfg.clone(),
        work_dir: Some(dir.join("work")),
        ..TrainOptions::default()
    })
    .err()
    .expect("an unknown hook type must fail");
    let text = format!("{err:#}");
    assert!(
        text.contains("`MyHok` is not in the hook registry"),
        "{text}"
    );
    assert!(text.contains("did you mean `MyHook`?"), "{text}");
    assert!(
        text.contains("small.toml:"),
        "the error points into the config: {text}"
    );
}
