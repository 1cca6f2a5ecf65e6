//! Plugins that misbehave: each fault is contained, named (plugin, file, hook point, epoch,
//! iteration, guest stderr), and handled by the plugin's `on_error` policy; the process never
//! crashes. Start-up faults fail before training with the config location.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use weft::session::{TrainOptions, prepare};
use weft_core::RunOutcome;

use crate::guests::guest;
use crate::support::temp_dir;
use crate::training::small_config;

pub(crate) struct Run {
    pub(crate) result: Result<RunOutcome, String>,
    pub(crate) log: Vec<String>,
    pub(crate) work_dir: PathBuf,
    pub(crate) elapsed: Duration,
}

impl Run {
    pub(crate) fn error(&self) -> &str {
        match &self.result {
            Err(e) => e,
            Ok(o) => panic!(
                "the run should have failed, it ended {o:?}\n{:#?}",
                self.log
            ),
        }
    }

    pub(crate) fn ok(&self) {
        if let Err(e) = &self.result {
            panic!("the run failed: {e}\n{:#?}", self.log);
        }
    }

    pub(crate) fn logged(&self, needle: &str) -> bool {
        self.log.iter().any(|l| l.contains(needle))
    }

    /// The warning that a plugin was disabled (`on_error = "disable"`).
    fn disabled_warning(&self) -> &str {
        self.log
            .iter()
            .find(|l| l.contains("disabled"))
            .expect("a warning that the plugin was disabled")
    }
}

/// One epoch of 10 training iterations with a `FaultyHook` configured by `hook` (the
/// entry's keys) and `entry` (extra keys of the import table).
pub(crate) fn faulty(name: &str, hook: &str, entry: &str) -> Run {
    let dir = temp_dir(&format!("fault-{name}"));
    let wasm = guest("faulty");
    let extra = format!(
        "custom_imports = {{ imports = [{{ path = {:?}{entry} }}] }}\ncustom_hooks = [{{ type = \"FaultyHook\", {hook} }}]",
        wasm.to_str().unwrap()
    );
    let cfg = small_config(&dir, &[], &extra);
    let options = [
        "total_epochs=1",
        "data.train.num_samples=320",
        "data.val.num_samples=64",
    ];
    let started = Instant::now();
    let work_dir = dir.join("work");
    let opts = TrainOptions {
        config: cfg,
        work_dir: Some(work_dir.clone()),
        cfg_options: options.iter().map(|s| s.to_string()).collect(),
        ..TrainOptions::default()
    };
    let mut session = prepare(&opts).unwrap_or_else(|e| panic!("{e:#}"));
    let result = session.runner.run().map_err(|e| e.to_string());
    Run {
        result,
        log: session.runner.ctx.log.captured(),
        work_dir,
        elapsed: started.elapsed(),
    }
}

/// The parts every fault message must have.
fn assert_names_everything(err: &str, point: &str, at: &str) {
    assert!(err.contains("FaultyHook"), "plugin name: {err}");
    assert!(err.contains("faulty.wasm"), "plugin file: {err}");
    assert!(err.contains(point), "hook point: {err}");
    assert!(err.contains(at), "epoch and iteration: {err}");
}

#[test]
fn an_infinite_loop_is_stopped_at_the_deadline_and_an_emergency_checkpoint_is_saved() {
    let run = faulty(
        "loop",
        "fault = \"loop\", after = 3",
        ", limits = { call_timeout_ms = 200 }",
    );
    let err = run.error();
    assert_names_everything(err, "after_train_iter", "epoch 1, iteration 3");
    assert!(err.contains("deadline of 200 ms"), "{err}");
    assert!(
        err.contains("about to loop at call 3"),
        "guest stderr: {err}"
    );
    assert!(run.elapsed < Duration::from_secs(20), "{:?}", run.elapsed);
    assert!(run.work_dir.join("emergency.safetensors").is_file());
}

#[test]
fn unbounded_allocation_is_stopped_at_the_memory_cap() {
    let run = faulty(
        "alloc",
        "fault = \"alloc\"",
        ", limits = { memory_mb = 32 }",
    );
    let err = run.error();
    assert_names_everything(err, "after_train_iter", "epoch 1, iteration 1");
    assert!(err.contains("memory limit of 32 MiB"), "{err}");
}

#[test]
fn a_panic_is_reported_with_the_guest_stderr() {
    let run = faulty(
        "panic",
        "fault = \"panic\", at = \"before_train_iter\", after = 2",
        "",
    );
    let err = run.error();
    assert_names_everything(err, "before_train_iter", "epoch 1, iteration 2");
    assert!(err.contains("panicked"), "{err}");
    assert!(err.contains("FaultyHook panicked on purpose"), "{err}");
}

#[test]
fn a_returned_error_fails_the_call_with_its_own_message() {
    // The Rust SDK's `Err` leaves a 0.3.0 hook through `runner.fail`, which stops the guest
    // where it failed: weft reports the plugin's message, not the trap that carried it.
    let run = faulty("error", "fault = \"error\", after = 2", "");
    let err = run.error();
    assert_names_everything(err, "after_train_iter", "epoch 1, iteration 2");
    assert!(
        err.contains("failed in after_iter (for after_train_iter): FaultyHook gave up on purpose"),
        "{err}"
    );
    assert!(!err.contains("trap") && !err.contains("panicked"), "{err}");

    let run = faulty(
        "error-disable",
        "fault = \"error\", after = 2",
        ", on_error = \"disable\"",
    );
    run.ok();
    let warning = run.disabled_warning();
    assert!(
        warning.contains("epoch 1, iteration 2") && warning.contains("gave up on purpose"),
        "{warning}"
    );
}

#[test]
fn the_run_state_cannot_be_read_outside_a_hook_call() {
    let err = startup_error(
        "read-in-init",
        &quoted(&guest("faulty")),
        "custom_hooks = [{ type = \"FaultyHook\", fault = \"read_in_init\" }]",
    );
    assert!(
        err.contains("FaultyHook") && err.contains("failed in init"),
        "{err}"
    );
    assert!(
        err.contains("the run state was used outside a hook call"),
        "{err}"
    );
}

#[test]
fn a_stack_overflow_is_contained() {
    let run = faulty("stack", "fault = \"stack\", at = \"after_backward\"", "");
    let err = run.error();
    assert_names_everything(err, "after_backward", "epoch 1, iteration 1");
    assert!(err.contains("stack overflow"), "{err}");
}

#[test]
fn a_sleep_in_a_wasi_call_does_not_outlive_the_deadline() {
    let run = faulty(
        "sleep",
        "fault = \"sleep\"",
        ", limits = { call_timeout_ms = 500 }",
    );
    let err = run.error();
    assert_names_everything(err, "after_train_iter", "epoch 1, iteration 1");
    assert!(err.contains("may not sleep"), "{err}");
    assert!(
        run.elapsed < Duration::from_secs(20),
        "slept: {:?}",
        run.elapsed
    );
}

#[test]
fn files_sockets_and_the_environment_are_denied() {
    for probe in ["passwd", "socket", "env"] {
        let run = faulty(
            probe,
            &format!("fault = \"{probe}\", at = \"before_run\""),
            "",
        );
        run.ok();
        assert!(
            run.logged(&format!("[FaultyHook] {probe} denied")),
            "{probe}: {:#?}",
            run.log
        );
    }
}

#[test]
fn output_floods_are_bounded() {
    let run = faulty("flood", "fault = \"flood\"", "");
    run.ok();
    assert!(run.logged("bytes of stdout dropped"), "{:#?}", run.log);
    let total: usize = run.log.iter().map(String::len).sum();
    assert!(total < 1 << 20, "the log holds {total} bytes");
    let run = faulty("log-flood", "fault = \"log_flood\"", "");
    run.ok();
    assert!(run.logged("further output of this call dropped"));
    let lines = run.log.iter().filter(|l| l.contains("flood line")).count();
    assert!((100..100_000).contains(&lines), "{lines} flood lines kept");
}

#[test]
fn invalid_requests_are_rejected_with_the_reason() {
    for (fault, reason) in [
        ("nan_lr", "set-lr(group 0) must be finite and >= 0, got NaN"),
        ("negative_lr", "must be finite and >= 0, got -0.1"),
        (
            "group_lr",
            "set-lr: group 7 is out of range (the optimizer has 1 group)",
        ),
        (
            "wrong_point",
            "skip-step is only allowed at after_backward, not at after_train_iter",
        ),
    ] {
        let run = faulty(fault, &format!("fault = \"{fault}\", after = 2"), "");
        let err = run.error();
        assert_names_everything(err, "after_train_iter", "epoch 1, iteration 2");
        assert!(
            err.contains("request rejected") && err.contains(reason),
            "{fault}: {err}"
        );
    }
}

#[test]
fn on_error_disable_drops_the_plugin_and_training_goes_on() {
    let run = faulty(
        "disable",
        "fault = \"panic\", after = 4",
        ", on_error = \"disable\"",
    );
    run.ok();
    assert_eq!(run.result, Ok(RunOutcome::Completed));
    let warning = run.disabled_warning();
    assert!(
        warning.contains("FaultyHook") && warning.contains("epoch 1, iteration 4"),
        "{warning}"
    );
    assert!(
        warning.contains("FaultyHook panicked on purpose"),
        "{warning}"
    );
    // The trapped instance is never entered again: its after_run never ran.
    assert!(!run.logged("after_run reached"));
    assert!(
        run.work_dir.join("epoch_1.safetensors").is_file(),
        "training finished"
    );
}

/// Loads a config whose only plugin is `path`, expecting a start-up error.
fn startup_error(name: &str, import: &str, extra: &str) -> String {
    let dir = temp_dir(&format!("startup-{name}"));
    let drop: &[&str] = if extra.starts_with("optimizer ") {
        &["optimizer"]
    } else {
        &[]
    };
    let cfg = small_config(
        &dir,
        drop,
        &format!("total_epochs = 1\ncustom_imports = {{ imports = [{import}] }}\n{extra}"),
    );
    let err = prepare(&TrainOptions {
        config: cfg,
        work_dir: Some(dir.join("work")),
        ..TrainOptions::default()
    })
    .err()
    .unwrap_or_else(|| panic!("{name}: the config must be refused"));
    let text = format!("{err:#}");
    assert!(
        text.contains("small.toml:"),
        "{name}: no config location in {text}"
    );
    text
}

fn quoted(p: &Path) -> String {
    format!("{:?}", p.to_str().unwrap())
}

#[test]
fn broken_plugin_files_are_refused_at_start_up() {
    let dir = temp_dir("startup-files");
    let text_file = dir.join("notes.wasm");
    std::fs::write(&text_file, "not wasm at all").unwrap();
    let err = startup_error("text", &quoted(&text_file), "");
    assert!(err.contains("not a WebAssembly file"), "{err}");

    let core = dir.join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = startup_error("core", &quoted(&core), "");
    assert!(
        err.contains("a core WebAssembly module, not a component"),
        "{err}"
    );

    let bytes = std::fs::read(guest("my_hook")).unwrap();
    let cut = dir.join("truncated.wasm");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = startup_error("truncated", &quoted(&cut), "");
    assert!(
        err.contains("truncated.wasm: not a valid component"),
        "{err}"
    );

    let err = startup_error("command", &quoted(&guest("command")), "");
    assert!(
        err.contains("exports none of weft's plugin interfaces"),
        "{err}"
    );

    let err = startup_error("skew", &quoted(&guest("skew")), "");
    assert!(
        err.contains("weft:plugin@0.4.0") && err.contains("upgrade weft"),
        "{err}"
    );

    let err = startup_error(
        "sha",
        &format!(
            "{{ path = {}, sha256 = \"{}\" }}",
            quoted(&guest("my_hook")),
            "ab".repeat(32)
        ),
        "",
    );
    assert!(err.contains("sha256 mismatch"), "{err}");

    let err = startup_error("missing", "\"nowhere/plugin.wasm\"", "");
    assert!(
        err.contains("plugin file nowhere/plugin.wasm not found"),
        "{err}"
    );
}

#[test]
fn a_component_of_another_world_is_not_a_type_of_this_kind() {
    // A hook component named where an optimizer is expected.
    let err = startup_error(
        "world",
        &quoted(&guest("my_hook")),
        "optimizer = { type = \"MyHook\", lr = 0.1 }",
    );
    assert!(
        err.contains("`MyHook` is not in the optimizer registry"),
        "{err}"
    );
}

#[test]
fn allow_failed_imports_turns_a_broken_plugin_into_a_warning() {
    let dir = temp_dir("startup-allow");
    let cfg = small_config(
        &dir,
        &[],
        "total_epochs = 1\ncustom_imports = { imports = [\"nowhere/plugin.wasm\"], allow_failed_imports = true }",
    );
    let session = prepare(&TrainOptions {
        config: cfg,
        work_dir: Some(dir.join("work")),
        ..TrainOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let log = session.runner.ctx.log.captured();
    assert!(
        log.iter()
            .any(|l| l.contains("skipped (allow_failed_imports = true)")),
        "{log:#?}"
    );
}

#[test]
fn fuel_bounds_a_loop_deterministically() {
    let run = faulty("fuel", "fault = \"loop\"", ", limits = { fuel = 1000000 }");
    let err = run.error();
    assert_names_everything(err, "after_train_iter", "epoch 1, iteration 1");
    assert!(
        err.contains("ran out of fuel (1000000 units per call"),
        "{err}"
    );
}

#[test]
fn allow_dirs_grants_one_directory_and_nothing_else() {
    let dir = temp_dir("fault-allow-dirs");
    let granted = dir.join("granted");
    let inside = granted.join("note.txt");
    let run = faulty(
        "allow-dirs",
        &format!(
            "fault = \"write\", at = \"before_run\", file = {:?}",
            inside.to_str().unwrap()
        ),
        &format!(", allow_dirs = [{:?}]", granted.to_str().unwrap()),
    );
    run.ok();
    assert_eq!(
        std::fs::read_to_string(&inside).unwrap(),
        "written by FaultyHook"
    );
    // A sibling of the granted directory stays out of reach.
    let outside = dir.join("outside.txt");
    let run = faulty(
        "allow-dirs-outside",
        &format!(
            "fault = \"write\", at = \"before_run\", file = {:?}",
            outside.to_str().unwrap()
        ),
        &format!(", allow_dirs = [{:?}]", granted.to_str().unwrap()),
    );
    let err = run.error();
    assert!(
        err.contains("write") && err.contains("outside.txt"),
        "{err}"
    );
    assert!(!outside.exists());
}

#[test]
fn checkpoint_eval_and_momentum_requests_are_applied() {
    // A checkpoint before any step and zeroed gradients at every step: the final weights are
    // the initial ones (the small config's SGD has weight decay, which momentum 0 and wd 0
    // switch off here).
    let dir = temp_dir("requests");
    let wasm = guest("faulty");
    let extra = format!(
        "custom_imports = {{ imports = [{:?}] }}\ncustom_hooks = [{{ type = \"FaultyHook\", fault = \"checkpoint\", at = \"before_run\" }}, {{ type = \"FaultyHook\", fault = \"scale0\", at = \"after_backward\", every = true }}, {{ type = \"FaultyHook\", fault = \"eval\", at = \"after_train_iter\", after = 4 }}, {{ type = \"FaultyHook\", fault = \"momentum\", at = \"before_train_iter\" }}]",
        wasm.to_str().unwrap()
    );
    let cfg = small_config(&dir, &[], &extra);
    let options = [
        "total_epochs=1",
        "data.train.num_samples=320",
        "data.val.num_samples=64",
        "optimizer.weight_decay=0",
        "log_config.interval=1",
    ];
    let work = dir.join("work");
    let opts = TrainOptions {
        config: cfg,
        work_dir: Some(work.clone()),
        cfg_options: options.iter().map(|s| s.to_string()).collect(),
        ..TrainOptions::default()
    };
    let mut session = prepare(&opts).unwrap_or_else(|e| panic!("{e:#}"));
    session.runner.run().unwrap_or_else(|e| panic!("{e}"));
    let log = session.runner.ctx.log.captured();
    let initial = crate::training::model_tensors(&work.join("iter_0.safetensors"));
    let last = crate::training::model_tensors(&work.join("epoch_1.safetensors"));
    assert_eq!(
        initial, last,
        "scale-grads(0) must leave the weights as they were"
    );
    // One requested evaluation after iteration 4, plus the end-of-epoch one.
    let evals = log
        .iter()
        .filter(|l| l.contains("Evaluating top_k_accuracy"))
        .count();
    assert_eq!(evals, 2, "{log:#?}");
    // set-momentum reached the optimizer's group: the checkpoint's run state records it.
    let lines = crate::training::json_lines(&work);
    assert!(lines.iter().any(|l| l["mode"] == "train"), "{lines:?}");
    assert_eq!(session.runner.ctx.current_momentum(), vec![0.5]);
}
