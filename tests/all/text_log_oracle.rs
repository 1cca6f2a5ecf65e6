//! Replays `text_log.json`: MMCV 1.7.2's exact log lines and `.log.json` lines for an
//! epoch-based train/val run and an iteration-based run, with the oracle's fake clock. The
//! runner, the lr, checkpoint, timer, evaluation and logger hooks are real; the model's
//! numbers come from a script built from the recorded JSON lines, so every difference in a
//! line is a difference in weft's logic or formatting.

use std::path::Path;

use serde_json::Value;
use weft_config::Config;
use weft_core::build;
use weft_core::hooks::{EvalHook, EvalSettings, Evaluation, Metric};
use weft_core::{Priority, RunContext, RunLog, Runner, Split, SteppingClock};

use crate::scripted::{ScriptedEngine, Step};
use crate::support::{fixture, json_to_toml, temp_dir};

fn oracle() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("oracles/text_log.json")).unwrap())
        .unwrap()
}

/// The config of a case, in weft's TOML.
fn config(case: &Value, dir: &Path) -> Config {
    let mut top = serde_json::json!({
        "model": { "type": "LeNet5" },
        "data": { "samples_per_gpu": 1 },
        "optimizer": case["optimizer"],
        "lr_config": case["lr_config"],
        "checkpoint_config": case["checkpoint_config"],
        "log_config": case["log_config"],
        "workflow": case["workflow"],
    });
    top["optimizer_config"] = match &case["optimizer_config"]["grad_clip"] {
        Value::Null => serde_json::json!({}),
        clip => serde_json::json!({ "grad_clip": clip }),
    };
    match case["runner"].as_str().unwrap() {
        "EpochBasedRunner" => top["total_epochs"] = case["max_epochs"].clone(),
        _ => {
            top["runner"] =
                serde_json::json!({ "type": "IterBasedRunner", "max_iters": case["max_iters"] })
        }
    }
    let path = dir.join("oracle_cfg.toml");
    std::fs::write(&path, json_to_toml(&top)).unwrap();
    Config::from_file(&path).unwrap()
}

/// The value the model must have produced for a key: the JSON line holds it rounded to 5
/// decimals and the text line to 4, so it lies in both rounding intervals; the middle of
/// their intersection reproduces both lines.
fn unrounded(json: f64, text: Option<f64>) -> f64 {
    let Some(t) = text else { return json };
    let lo = (json - 5e-6).max(t - 5e-5);
    let hi = (json + 5e-6).min(t + 5e-5);
    (lo + hi) / 2.0
}

/// The `key: value` pairs of the text record lines, in order.
fn text_records(case: &Value) -> Vec<std::collections::HashMap<String, f64>> {
    case["log_lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["msg"].as_str())
        .filter(|m| {
            m.starts_with("Epoch [")
                || m.starts_with("Epoch(")
                || m.starts_with("Iter [")
                || m.starts_with("Iter(")
        })
        .map(|m| {
            m.split_once('\t')
                .map(|(_, rest)| rest)
                .unwrap_or_default()
                .split(", ")
                .filter_map(|kv| kv.split_once(": "))
                .filter_map(|(k, v)| v.parse::<f64>().ok().map(|v| (k.to_string(), v)))
                .collect()
        })
        .collect()
}

/// Scripts and evaluations that make every recorded line's averages come out as recorded:
/// both entries of a logging window report the window's average. In the iteration-based
/// runner the val phase's entries share the log buffer with training (as in MMCV), so a
/// window that spans a val phase gets its value from both.
fn scripts(case: &Value) -> (Vec<Step>, Vec<Step>, Vec<Evaluation>) {
    let lens = case["loader_lengths"].as_array().unwrap();
    let (train_len, val_len) = (
        lens[0].as_u64().unwrap() as usize,
        lens[1].as_u64().unwrap() as usize,
    );
    let by_epoch = case["runner"] == "EpochBasedRunner";
    let interval = case["log_config"]["interval"].as_u64().unwrap() as usize;
    let total = if by_epoch {
        case["max_epochs"].as_u64().unwrap() as usize * train_len
    } else {
        case["max_iters"].as_u64().unwrap() as usize
    };
    let mut train = vec![Step::default(); total];
    let mut val = vec![Step::default(); 64];
    let mut evals = Vec::new();
    let texts = text_records(case);
    let train_per_cycle = case["workflow"][0][1].as_u64().unwrap() as usize;
    for (line, text) in case["json_log_lines"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .zip(&texts)
    {
        let l: Value = serde_json::from_str(line.as_str().unwrap()).unwrap();
        let f = |k: &str| {
            unrounded(
                l.get(k).and_then(Value::as_f64).unwrap_or(0.0),
                text.get(k).copied(),
            )
        };
        let step = Step {
            loss: f("loss"),
            top1: f("top1_acc"),
            grad_norm: f("grad_norm"),
        };
        let (epoch, iter) = (
            l["epoch"].as_u64().unwrap() as usize,
            l["iter"].as_u64().unwrap() as usize,
        );
        if l["mode"] == "train" {
            let end = if by_epoch {
                (epoch - 1) * train_len + iter
            } else {
                iter
            };
            for s in &mut train[end - interval..end] {
                *s = step;
            }
            if !by_epoch && (end - 1) % train_per_cycle == 0 && end > 1 {
                let cycle = (end - 1) / train_per_cycle - 1;
                for s in &mut val[cycle * val_len..(cycle + 1) * val_len] {
                    *s = step;
                }
            }
        } else if l.get("loss").is_some() {
            for s in &mut val[(epoch - 1) * val_len..epoch * val_len] {
                *s = step;
            }
        } else {
            let results = l
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "mode" | "epoch" | "iter" | "lr"))
                .map(|(k, v)| {
                    (
                        k.clone(),
                        unrounded(v.as_f64().unwrap(), text.get(k.as_str()).copied()),
                    )
                })
                .collect();
            evals.push(Evaluation {
                results,
                batches: iter,
            });
        }
    }
    (train, val, evals)
}

fn replay(case: &Value, steps: &[f64]) {
    let name = case["name"].as_str().unwrap();
    let dir = temp_dir(&format!("text-log-{name}"));
    let cfg = config(case, &dir);
    let schema = cfg.schema().unwrap();
    let plan = build::plan(&cfg, &schema).unwrap();
    let log = RunLog::capturing();
    let mut hooks = build::hooks(
        &cfg,
        &schema,
        &plan,
        &build::HookRegistry::with_builtins(),
        &log,
    )
    .unwrap();
    let (train, val, evals) = scripts(case);
    let eh = &case["eval_hook"];
    let settings = EvalSettings {
        metrics: vec![Metric::MeanClass],
        split: Split::Val,
        interval: eh["interval"].as_u64().unwrap(),
        start: None,
        by_epoch: eh.get("by_epoch").and_then(Value::as_bool).unwrap_or(true),
        save_best: eh["save_best"].as_str().map(str::to_string),
        rule: None,
        greater_keys: None,
        less_keys: None,
    };
    let mut queue = evals.into_iter();
    let evaluator = Box::new(move |_ctx: &mut RunContext| {
        Ok(queue
            .next()
            .expect("an evaluation the oracle did not record"))
    });
    hooks.register(
        Box::new(EvalHook::with_evaluator(settings, evaluator).unwrap()),
        Priority::LOW,
    );
    let lens = case["loader_lengths"].as_array().unwrap();
    let engine = ScriptedEngine::new(
        lens[0].as_u64().unwrap() as usize,
        lens[1].as_u64().unwrap() as usize,
        0.01,
        train,
        val,
    );
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut ctx = RunContext::new(Box::new(engine), plan.runner, work.clone(), log.clone());
    ctx.timestamp = case["runner_timestamp"].as_str().unwrap().to_string();
    ctx.clock = Box::new(SteppingClock::new(steps.to_vec()));
    if let Value::Object(meta) = &case["meta"] {
        ctx.meta = meta.clone();
    }
    let mut runner = Runner::new(ctx, hooks, plan.workflow.clone(), plan.max);
    runner.run().unwrap();

    // Every message, in order, with the oracle's placeholders and checkpoint format.
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    let got: Vec<String> = log
        .captured()
        .iter()
        .map(|l| {
            l.trim_start_matches("INFO - ")
                .replace(&format!("host: {}", host.trim()), "host: <HOST>")
                .replace(work.to_str().unwrap(), "<WORK_DIR>")
                .replace(".safetensors", ".pth")
        })
        .collect();
    let want: Vec<String> = case["log_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["msg"].as_str().unwrap().to_string())
        .collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.trim_end(), w.trim_end(), "{name}: log line {i}");
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: number of log lines\n{got:#?}"
    );

    // The JSON log, byte for byte.
    let json = std::fs::read_to_string(work.join(format!(
        "{}.log.json",
        case["runner_timestamp"].as_str().unwrap()
    )))
    .unwrap();
    let got: Vec<&str> = json.lines().collect();
    let want: Vec<&str> = case["json_log_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(got, want, "{name}: .log.json");

    // The files MMCV leaves (checkpoints in weft's format).
    let mut files: Vec<String> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .replace(".safetensors", ".pth")
        })
        .filter(|n| !n.starts_with('.'))
        .collect();
    files.sort();
    let want: Vec<String> = case["work_dir_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert_eq!(files, want, "{name}: files");
}

#[test]
fn epoch_based_text_and_json_lines_match_mmcv() {
    let o = oracle();
    let steps: Vec<f64> = serde_json::from_value(o["fake_clock_steps"].clone()).unwrap();
    replay(&o["cases"][0], &steps);
}

#[test]
fn iter_based_text_and_json_lines_match_mmcv() {
    let o = oracle();
    let steps: Vec<f64> = serde_json::from_value(o["fake_clock_steps"].clone()).unwrap();
    replay(&o["cases"][1], &steps);
}
