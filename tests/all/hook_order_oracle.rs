//! Replays `hook_order.json`: the hook list after MMCV's registration, `get_hook_info()`, and
//! every `call_hook` with the runner's counters and the hooks that run, for both runners.

use std::path::Path;

use serde_json::Value;
use weft_config::Config;
use weft_core::build::{self, HookRegistry};
use weft_core::{Priority, RunContext, RunLog, Runner};

use crate::support::{Recorder, dry_engine, fixture, temp_dir};

fn case(name: &str) -> Value {
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("oracles/hook_order.json")).unwrap())
            .unwrap();
    all["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
        .clone()
}

fn registry() -> HookRegistry {
    let mut r = HookRegistry::with_builtins();
    r.register("OracleRecorderHook", |node, _| {
        let label = node
            .get("label")
            .and_then(|l| l.as_str())
            .unwrap_or_default()
            .to_string();
        Ok(Box::new(Recorder(label)))
    });
    r
}

fn run(config_text: &str, dir: &Path, train_len: usize, val_len: usize, late: bool) -> Runner {
    let path = dir.join("run.toml");
    std::fs::write(&path, config_text).unwrap();
    let cfg = Config::from_file(&path).unwrap();
    let schema = cfg.schema().unwrap();
    let plan = build::plan(&cfg, &schema).unwrap();
    let log = RunLog::capturing();
    let mut hooks = build::hooks(&cfg, &schema, &plan, &registry(), &log).unwrap();
    if late {
        hooks.register(
            Box::new(Recorder("late_VERY_HIGH".into())),
            Priority::VERY_HIGH,
        );
    }
    let ctx = RunContext::new(
        Box::new(dry_engine(train_len, val_len)),
        plan.runner,
        dir.to_path_buf(),
        log,
    );
    let mut runner = Runner::new(ctx, hooks, plan.workflow.clone(), plan.max);
    runner.enable_trace();
    runner.run().unwrap();
    runner
}

fn check(runner: &Runner, case: &Value) {
    let labels: Vec<&str> = runner
        .hooks
        .entries()
        .iter()
        .map(|e| e.hook.name())
        .collect();
    let want: Vec<&str> = case["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["label"].as_str().unwrap())
        .collect();
    // MMCV's IterTimerHook has no label of its own; the oracle names hooks by class.
    assert_eq!(labels, want);
    for (entry, h) in runner
        .hooks
        .entries()
        .iter()
        .zip(case["hooks"].as_array().unwrap())
    {
        assert_eq!(
            entry.priority.0 as u64,
            h["priority"].as_u64().unwrap(),
            "{}",
            h["label"]
        );
    }
    let info: Vec<String> = runner
        .hooks
        .hook_info()
        .lines()
        .map(|l| {
            let l = l.trim_end().to_string();
            // Recorders are named by label here but by class in MMCV's table.
            let mut parts = l.splitn(2, ") ");
            match (parts.next(), parts.next()) {
                (Some(p), Some(name))
                    if name.starts_with("custom_") || name.starts_with("late_") =>
                {
                    format!("{p}) OracleRecorderHook")
                }
                _ => l,
            }
        })
        .collect();
    let want_info: Vec<String> = case["hook_info"]
        .as_str()
        .unwrap()
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    assert_eq!(info, want_info);
    let calls = case["stage_calls"].as_array().unwrap();
    let trace = runner.trace();
    assert_eq!(trace.len(), calls.len(), "number of call_hook calls");
    for (got, want) in trace.iter().zip(calls) {
        let got = serde_json::to_value(got).unwrap();
        for key in [
            "stage",
            "mode",
            "epoch",
            "iter",
            "inner_iter",
            "max_epochs",
            "max_iters",
            "hooks_run",
        ] {
            assert_eq!(got[key], want[key], "{key} at {want}");
        }
    }
}

const CUSTOM: &str = r#"
custom_hooks = [
    { type = "OracleRecorderHook", label = "custom_default_normal" },
    { type = "OracleRecorderHook", label = "custom_HIGHEST", priority = "HIGHEST" },
    { type = "OracleRecorderHook", label = "custom_low", priority = "low" },
    { type = "OracleRecorderHook", label = "custom_45", priority = 45 },
    { type = "OracleRecorderHook", label = "custom_VERY_LOW", priority = "VERY_LOW" },
    { type = "OracleRecorderHook", label = "custom_100", priority = 100 },
]
"#;

#[test]
fn epoch_runner_hook_order_and_counters_match_mmcv() {
    let dir = temp_dir("hook-order-epoch");
    let text = format!(
        r#"
model = {{ type = "LeNet5" }}
data = {{ samples_per_gpu = 2 }}
optimizer = {{ type = "SGD", lr = 0.1, momentum = 0.9 }}
lr_config = {{ policy = "step", step = [1] }}
momentum_config = {{ policy = "step", step = [1] }}
optimizer_config = {{}}
checkpoint_config = {{ interval = 1 }}
log_config = {{ interval = 1, hooks = [{{ type = "TextLoggerHook" }}] }}
evaluation = {{ interval = 1 }}
workflow = [["train", 1], ["val", 1]]
runner = {{ type = "EpochBasedRunner", max_epochs = 2 }}
{CUSTOM}
"#
    );
    let case = case("epoch_based_train_val_2_epochs");
    let (train, val) = (
        case["train_iters_per_epoch"].as_u64().unwrap(),
        case["val_iters_per_epoch"].as_u64().unwrap(),
    );
    let runner = run(&text, &dir, train as usize, val as usize, true);
    check(&runner, &case);
}

#[test]
fn iter_runner_hook_order_and_counters_match_mmcv() {
    let dir = temp_dir("hook-order-iter");
    let custom: String = CUSTOM.lines().take(5).collect::<Vec<_>>().join("\n") + "\n]\n";
    let text = format!(
        r#"
model = {{ type = "LeNet5" }}
data = {{ samples_per_gpu = 2 }}
optimizer = {{ type = "SGD", lr = 0.1, momentum = 0.9 }}
lr_config = {{ policy = "step", step = [3] }}
optimizer_config = {{}}
checkpoint_config = {{ interval = 2 }}
log_config = {{ interval = 1, hooks = [{{ type = "TextLoggerHook" }}] }}
evaluation = {{ interval = 3, by_epoch = false }}
workflow = [["train", 3], ["val", 2]]
runner = {{ type = "IterBasedRunner", max_iters = 6 }}
{custom}
"#
    );
    let case = case("iter_based_train3_val2_max_iters_6");
    let (train, val) = (
        case["train_loader_len"].as_u64().unwrap(),
        case["val_loader_len"].as_u64().unwrap(),
    );
    let runner = run(&text, &dir, train as usize, val as usize, false);
    check(&runner, &case);
}
