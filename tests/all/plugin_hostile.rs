//! Hostile plugins of our own, against the limits a guest could otherwise go around through
//! the host: output floods and forged log lines, request floods, huge states, constructors
//! that return what no real one would, and failures at `init`.

use weft_core::RunOutcome;

use crate::guests::guest;
use crate::plugin_faults::{Run, faulty};
use crate::support::temp_dir;
use crate::training::small_config;

/// The run's text log (`<timestamp>.log`), as written to disk.
fn log_file(run: &Run) -> String {
    let path = std::fs::read_dir(&run.work_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .expect("a text log");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn hostile_output_is_bounded_and_cannot_forge_log_lines() {
    // A million empty messages in one call: each costs a line, the call's budget ends them.
    let run = faulty("empty-log", "fault = \"empty_log_flood\"", "");
    run.ok();
    let text = log_file(&run);
    assert!(text.len() < 256 * 1024, "{} bytes of log", text.len());
    assert!(
        text.contains("further output of this call dropped"),
        "{}",
        &text[..2000]
    );

    // Newlines, carriage returns and escape sequences are escaped or indented.
    let run = faulty("forge", "fault = \"forge\"", "");
    run.ok();
    let text = log_file(&run);
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-01-01 00:00:00,000")),
        "a plugin forged a line:\n{text}"
    );
    assert!(!text.contains('\x1b') && !text.contains('\r') && !text.contains('\x07'));
    assert!(text.contains("\n    2026-01-01 00:00:00,000 - weft - INFO - forged line\\u{1b}[2J"));

    // A 16 MiB error message is cut to a few KiB.
    let run = faulty("huge-error", "fault = \"huge_error\"", "");
    let err = run.error();
    assert!(err.len() < 8 * 1024, "{} bytes", err.len());
    assert!(err.contains("more bytes cut"), "{}", &err[..200]);
    assert!(log_file(&run).len() < 256 * 1024);
}

#[test]
fn request_floods_are_refused_or_coalesced() {
    let run = faulty("request-flood", "fault = \"request_flood\"", "");
    let err = run.error();
    assert!(err.contains("more than 4096 requests in one call"), "{err}");

    let run = faulty("scalar-names", "fault = \"scalar_names\"", "");
    let err = run.error();
    assert!(err.contains("more than 64 distinct names"), "{err}");

    // A 10 MiB stop reason stops the run with a reason of a few KiB.
    let run = faulty("huge-stop", "fault = \"huge_stop\"", "");
    let Ok(RunOutcome::Stopped(reason)) = &run.result else {
        panic!("{:?}", run.result)
    };
    assert!(reason.len() < 8 * 1024, "{} bytes", reason.len());

    // Four thousand checkpoint requests in one call write one checkpoint.
    let run = faulty(
        "checkpoint-flood",
        "fault = \"checkpoint_flood\", after = 2",
        "",
    );
    run.ok();
    let written: Vec<String> = std::fs::read_dir(&run.work_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("iter_"))
        .collect();
    assert_eq!(written, ["iter_2.safetensors"]);
}

#[test]
fn a_huge_plugin_state_never_breaks_checkpoints() {
    // 8 MiB of quotes and backslashes is kept (outside the checkpoint header) and read back.
    let run = faulty(
        "state-8m",
        "fault = \"none\", state_bytes = 8388608",
        ", limits = { memory_mb = 256 }",
    );
    run.ok();
    let ckpt = weft_nn::checkpoint::read(&run.work_dir.join("latest.safetensors")).unwrap();
    let state = ckpt.meta["meta"]["hook_states"]["FaultyHook#0"]
        .as_str()
        .unwrap();
    assert_eq!(state.len(), 8 << 20);
    // 30 MiB is over the cap: with on_error = "disable" the plugin goes, training and every
    // checkpoint go on; with "abort" the run stops naming the plugin, after an emergency
    // checkpoint.
    let run = faulty(
        "state-30m-disable",
        "fault = \"none\", state_bytes = 31457280",
        ", on_error = \"disable\", limits = { memory_mb = 512 }",
    );
    run.ok();
    assert!(run.logged("hook FaultyHook disabled"), "{:#?}", run.log);
    assert!(run.logged("at most 16 MiB"), "{:#?}", run.log);
    assert!(run.work_dir.join("epoch_1.safetensors").is_file());
    let run = faulty(
        "state-30m-abort",
        "fault = \"none\", state_bytes = 31457280",
        ", limits = { memory_mb = 512 }",
    );
    let err = run.error();
    assert!(
        err.contains("FaultyHook") && err.contains("at most 16 MiB"),
        "{err}"
    );
    assert!(run.work_dir.join("emergency.safetensors").is_file());
}

#[test]
fn a_hostile_constructor_is_refused_at_start_up_and_named() {
    let dir = temp_dir("fault-constructor");
    let wasm = guest("hostile_constructor");
    let cfg = small_config(
        &dir,
        &["optimizer"],
        &format!(
            "total_epochs = 1\ncustom_imports = {{ imports = [{:?}] }}\noptimizer = {{ type = \"SGD\", lr = 0.1, momentum = 0.9, constructor = \"HostileConstructor\", paramwise_cfg = {{ mode = \"fine\" }} }}",
            wasm.to_str().unwrap()
        ),
    );
    let check = |mode: &str| {
        let log = weft_core::RunLog::capturing();
        let option = format!("optimizer.paramwise_cfg.mode={mode}");
        let checked = weft::validate::check(&cfg, &[option], &log, None).unwrap();
        weft::validate::model_and_optimizer(&checked, tch::Device::Cpu, 0)
            .err()
            .map(|e| format!("{e:#}"))
    };
    assert_eq!(check("fine"), None);
    for (mode, says) in [
        ("million_groups", "1000001 groups for 10 parameter entries"),
        ("twice", "is in more than one group"),
        ("invented", "parameter index 1000000 is out of range"),
        (
            "nan_lr",
            "constructor HostileConstructor: SGD group 0: Invalid learning rate: NaN",
        ),
        ("unknown_option", "constructor HostileConstructor: group 0"),
    ] {
        let err = check(mode).unwrap_or_else(|| panic!("{mode} was accepted"));
        assert!(err.contains("HostileConstructor"), "{mode}: {err}");
        assert!(err.contains(says), "{mode}: {err}");
    }
}

#[test]
fn a_failing_init_follows_on_error_too() {
    // `bogus` is not a FaultyHook key, so its init fails.
    let run = faulty(
        "init-disable",
        "fault = \"none\", bogus = 1",
        ", on_error = \"disable\"",
    );
    run.ok();
    assert!(
        run.logged("hook FaultyHook disabled before the run"),
        "{:#?}",
        run.log
    );
    assert!(run.logged("failed in init"), "{:#?}", run.log);
}

#[test]
fn a_call_that_runs_past_its_deadline_stops_within_milliseconds_of_it() {
    use std::time::Instant;

    use weft_core::{Dispatch, Hook, RunContext, RunLog, RunnerKind, Stage};

    let log = RunLog::capturing();
    let mut overshoots = Vec::new();
    for timeout_ms in [50u64, 200] {
        let limits = weft_host::Limits {
            call_timeout_ms: timeout_ms,
            ..weft_host::Limits::default()
        };
        let plugin = weft_host::open_with(&guest("faulty"), None, log.clone(), limits).unwrap();
        let config = serde_json::json!({ "fault": "loop", "at": "after_train_iter" });
        let mut hook = weft_host::hook::WasmHook::new(plugin, &config).unwrap();
        let mut ctx = RunContext::new(
            Box::new(crate::support::dry_engine(10, 0)),
            RunnerKind::EpochBased,
            std::env::temp_dir(),
            log.clone(),
        );
        ctx.set_stage(Stage::AfterTrainIter);
        let point = Dispatch::of(hook.points())
            .get(Stage::AfterTrainIter)
            .unwrap();
        let started = Instant::now();
        let err = hook.call(point, &mut ctx).unwrap_err();
        let took = started.elapsed().as_secs_f64() * 1e3;
        assert!(err.message.contains("deadline"), "{}", err.message);
        assert!(took >= timeout_ms as f64, "stopped after {took:.1} ms");
        overshoots.push((timeout_ms, took - timeout_ms as f64));
    }
    // For docs/reliability.md (run with --nocapture).
    eprintln!("deadline overshoot (timeout ms, ms past it): {overshoots:.1?}");
    for (timeout, over) in overshoots {
        assert!(over < 50.0, "{over:.1} ms past a {timeout} ms deadline");
    }
}

#[test]
fn a_call_blocked_in_the_kernel_is_interrupted_at_its_deadline() {
    use std::os::unix::fs::OpenOptionsExt;
    use std::time::{Duration, Instant};

    // A named pipe in a granted directory: opening it for writing blocks until someone opens
    // it for reading, which no one does, so only the watchdog can end the call.
    let dir = temp_dir("fifo-granted");
    let granted = dir.join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    let fifo = granted.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Should the watchdog fail, this opens the reading end after a while, so the test fails
    // on its time check instead of hanging the suite.
    let rescue = fifo.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(rescue);
    });
    let started = Instant::now();
    let run = faulty(
        "fifo",
        &format!(
            "fault = \"write\", at = \"before_run\", file = {:?}",
            fifo.to_str().unwrap()
        ),
        &format!(
            ", allow_dirs = [{:?}], limits = {{ call_timeout_ms = 300 }}",
            granted.to_str().unwrap()
        ),
    );
    let took = started.elapsed();
    let err = run.error();
    assert!(err.contains("deadline"), "{err}");
    assert!(err.contains("before_run"), "{err}");
    assert!(
        took < Duration::from_secs(30),
        "the blocked call took {took:?}"
    );
}
