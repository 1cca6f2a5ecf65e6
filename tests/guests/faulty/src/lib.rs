//! `FaultyHook`: behaves at every point until the `after`-th call at point `at`, then does
//! what `fault` names (`every = true`: on every call from then on). Sandbox probes
//! (`passwd`, `socket`, `env`) fail the call if the access succeeds, so a run that finishes
//! proves the access was denied. A few harmless actions (`checkpoint`, `eval`, `scale0`,
//! `momentum`, `write`) exercise the requests and capabilities. `read_in_init` reads the run
//! state while `init` runs, outside any hook call.

use std::io::Write;

use serde::Deserialize;
use weft_guest::hook::{
    Hook, HookPoint, RunState, info, register_hook, request_checkpoint, request_eval, scale_grads,
    set_lr, set_momentum, skip_step, warn,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    fault: String,
    #[serde(default = "default_at")]
    at: String,
    #[serde(default = "one")]
    after: u64,
    #[serde(default)]
    every: bool,
    /// For `write`: the file to create.
    file: Option<String>,
    /// Bytes of quotes and backslashes `save-state` returns (the checkpoint-header attack).
    #[serde(default)]
    state_bytes: usize,
}

fn default_at() -> String {
    "after_train_iter".into()
}

fn one() -> u64 {
    1
}

struct Faulty {
    cfg: Config,
    calls: u64,
}

fn point_name(p: HookPoint) -> &'static str {
    match p {
        HookPoint::BeforeRun => "before_run",
        HookPoint::AfterRun => "after_run",
        HookPoint::BeforeTrainEpoch => "before_train_epoch",
        HookPoint::AfterTrainEpoch => "after_train_epoch",
        HookPoint::BeforeValEpoch => "before_val_epoch",
        HookPoint::AfterValEpoch => "after_val_epoch",
        HookPoint::BeforeTrainIter => "before_train_iter",
        HookPoint::AfterTrainIter => "after_train_iter",
        HookPoint::BeforeValIter => "before_val_iter",
        HookPoint::AfterValIter => "after_val_iter",
        HookPoint::BeforeEpoch => "before_epoch",
        HookPoint::AfterEpoch => "after_epoch",
        HookPoint::AfterBackward => "after_backward",
        HookPoint::BeforeIter => "before_iter",
        HookPoint::AfterIter => "after_iter",
    }
}

/// Recursion in wasm locals only (no shadow-stack frames), so the engine's stack limit,
/// not the guest's linear-memory stack, is what runs out.
fn recurse(depth: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(depth)
}

impl Faulty {
    fn fault(&self) -> Result<(), String> {
        match self.cfg.fault.as_str() {
            "none" => Ok(()),
            "error" => Err("FaultyHook gave up on purpose".into()),
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut keep: Vec<Vec<u8>> = Vec::new();
                loop {
                    keep.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&keep);
                }
            }
            "panic" => panic!("FaultyHook panicked on purpose"),
            "stack" => Err(format!("unreachable {}", recurse(0))),
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(30));
                Err("slept 30 s without being stopped".into())
            }
            "passwd" => match std::fs::read_to_string("/etc/passwd") {
                Ok(text) => Err(format!(
                    "SANDBOX ESCAPE: read {} bytes of /etc/passwd",
                    text.len()
                )),
                Err(e) => {
                    info(&format!("passwd denied: {e}"));
                    Ok(())
                }
            },
            "socket" => match std::net::TcpStream::connect("127.0.0.1:22") {
                Ok(_) => Err("SANDBOX ESCAPE: opened a TCP connection".into()),
                Err(e) => {
                    info(&format!("socket denied: {e}"));
                    Ok(())
                }
            },
            "env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                if vars.is_empty() {
                    info("env denied: no variables");
                    Ok(())
                } else {
                    Err(format!("SANDBOX ESCAPE: environment {vars:?}"))
                }
            }
            "flood" => {
                let line = "x".repeat(1023);
                let mut out = std::io::stdout();
                for _ in 0..4096 {
                    let _ = writeln!(out, "{line}");
                }
                Ok(())
            }
            "log_flood" => {
                for i in 0..100_000 {
                    warn(&format!("flood line {i}"));
                }
                Ok(())
            }
            // Hostile output: every byte must count, nothing may forge a log line.
            "empty_log_flood" => {
                for _ in 0..1_000_000 {
                    info("");
                }
                Ok(())
            }
            "huge_error" => Err("E".repeat(16 << 20)),
            "forge" => {
                warn("ok\n2026-01-01 00:00:00,000 - weft - INFO - forged line\x1b[2J");
                println!("stdout\rforged\x07");
                Ok(())
            }
            "request_flood" => {
                for _ in 0..1_000_000 {
                    set_lr(0, 0.01);
                }
                Ok(())
            }
            "scalar_names" => {
                for i in 0..1000 {
                    weft_guest::hook::log_scalar(&format!("s{i}"), 1.0);
                }
                Ok(())
            }
            "huge_stop" => {
                weft_guest::hook::request_stop(&"r".repeat(10 << 20));
                Ok(())
            }
            "checkpoint_flood" => {
                for _ in 0..4000 {
                    request_checkpoint();
                }
                Ok(())
            }
            "nan_lr" => {
                set_lr(0, f64::NAN);
                Ok(())
            }
            "negative_lr" => {
                set_lr(0, -0.1);
                Ok(())
            }
            "group_lr" => {
                set_lr(7, 0.1);
                Ok(())
            }
            "wrong_point" => {
                skip_step();
                Ok(())
            }
            "checkpoint" => {
                request_checkpoint();
                Ok(())
            }
            "eval" => {
                request_eval();
                Ok(())
            }
            "scale0" => {
                scale_grads(0.0);
                Ok(())
            }
            "momentum" => {
                set_momentum(0, 0.5);
                Ok(())
            }
            "write" => {
                let file = self.cfg.file.as_deref().ok_or("`write` needs `file`")?;
                std::fs::write(file, "written by FaultyHook")
                    .map_err(|e| format!("write {file}: {e}"))?;
                info(&format!("wrote {file}"));
                Ok(())
            }
            other => Err(format!("unknown fault {other:?}")),
        }
    }
}

impl Hook for Faulty {
    const TYPE_NAME: &'static str = "FaultyHook";

    fn new(config: serde_json::Value) -> Result<Self, String> {
        let cfg: Config = weft_guest::config(config)?;
        if cfg.fault == "read_in_init" {
            // The run state outside a hook call: the SDK never lends a `RunState` here, so
            // only the raw import can try, and weft must refuse it.
            let epoch = weft_guest::hook::bindings::weft::plugin::runner::epoch();
            return Err(format!("read epoch {epoch} during init"));
        }
        Ok(Faulty { cfg, calls: 0 })
    }

    // The generic points: weft calls them in place of every specific one.
    fn points(&self) -> Vec<HookPoint> {
        use HookPoint::*;
        vec![
            BeforeRun,
            AfterRun,
            BeforeEpoch,
            AfterEpoch,
            BeforeIter,
            AfterIter,
            AfterBackward,
        ]
    }

    fn before_run(&mut self, s: &RunState) -> Result<(), String> {
        self.at(s)
    }
    fn after_run(&mut self, s: &RunState) -> Result<(), String> {
        info("after_run reached");
        self.at(s)
    }
    fn before_epoch(&mut self, s: &RunState) -> Result<(), String> {
        self.at(s)
    }
    fn after_epoch(&mut self, s: &RunState) -> Result<(), String> {
        self.at(s)
    }
    fn before_iter(&mut self, s: &RunState) -> Result<(), String> {
        self.at(s)
    }
    fn after_iter(&mut self, s: &RunState) -> Result<(), String> {
        self.at(s)
    }
    fn after_backward(&mut self, s: &RunState) -> Result<(), String> {
        self.at(s)
    }
    fn save_state(&self) -> Result<Option<String>, String> {
        if self.cfg.state_bytes == 0 {
            return Ok(None);
        }
        Ok(Some("\"\\".repeat(self.cfg.state_bytes / 2)))
    }
}

impl Faulty {
    fn at(&mut self, s: &RunState) -> Result<(), String> {
        if point_name(s.point()) != self.cfg.at {
            return Ok(());
        }
        self.calls += 1;
        if self.calls < self.cfg.after || (self.calls > self.cfg.after && !self.cfg.every) {
            return Ok(());
        }
        eprintln!(
            "FaultyHook: about to {} at call {}",
            self.cfg.fault, self.calls
        );
        self.fault()
    }
}

register_hook!(Faulty);
