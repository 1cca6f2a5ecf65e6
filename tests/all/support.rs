//! Shared test helpers: fixture paths, temporary directories, a model-less engine for tests of
//! the loop's order and counters, and a hook that acts on every stage.

use std::path::{Path, PathBuf};

use serde_json::Value;
use weft_core::{HookResult, Momentum, ParamGroup, RunContext, StageSet};

/// Path of a fixture file.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

/// A fresh temporary directory under the target dir.
/// weft's per-user cache, where `make setup` puts libtorch and the tools: the Makefile's
/// `WEFT_CACHE` rule, `$XDG_CACHE_HOME/weft`, else `~/.cache/weft`.
pub fn weft_cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
        })
        .join("weft")
}

/// The Python of the torch 2.13.0 install weft links (`make setup`).
pub fn torch_python() -> PathBuf {
    weft_cache().join("torch-2.13.0/bin/python")
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A model-less engine with one SGD-like group, for tests of the loop's order and counters.
pub fn dry_engine(train_len: usize, val_len: usize) -> weft_core::dry::DryEngine {
    weft_core::dry::DryEngine::new(
        train_len,
        val_len,
        vec![ParamGroup {
            lr: 0.1,
            momentum: Momentum::Momentum(0.9),
            weight_decay: 0.0,
            params: vec!["w".into()],
            ..Default::default()
        }],
    )
}

/// A hook acting on every MMCV stage and doing nothing but being named.
pub struct Recorder(pub String);

impl weft_core::Hook for Recorder {
    fn name(&self) -> &str {
        &self.0
    }
    fn points(&self) -> StageSet {
        // Everything MMCV's recorder overrides: the ten stages and the generic epoch ones.
        weft_core::Stage::MMCV
            .into_iter()
            .chain([weft_core::Stage::BeforeEpoch, weft_core::Stage::AfterEpoch])
            .collect()
    }
    fn before_run(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
}

/// A JSON object as TOML text (null values left out, as Python's `None` means "not set").
pub fn json_to_toml(v: &Value) -> String {
    fn strip(v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Object(m) => Some(Value::Object(
                m.iter()
                    .filter_map(|(k, v)| strip(v).map(|v| (k.clone(), v)))
                    .collect(),
            )),
            Value::Array(a) => Some(Value::Array(a.iter().filter_map(strip).collect())),
            other => Some(other.clone()),
        }
    }
    toml::to_string(&strip(v).unwrap()).unwrap()
}

/// Runs the `weft` binary with `args` and returns its output, asserting that it succeeded
/// (its stderr is the failure message).
pub fn weft_ok(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "weft {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the `weft` binary with `args`, asserting that it fails with exit code 2 (a clear
/// error, not a panic); returns its stderr.
pub fn weft_err(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "weft {}: {stderr}",
        args.join(" ")
    );
    stderr
}

/// [`weft_ok`] for a command that prints one JSON object (`--json`), parsed.
pub fn weft_json(args: &[&str]) -> Value {
    let out = weft_ok(args);
    serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON object")
}
