//! Replays `eval_hook.json`: when MMCV's EvalHook evaluates (every `interval`/`start` case,
//! both runners), which rule `save_best` infers for each key, and the best-checkpoint
//! bookkeeping after every epoch, except where weft deliberately fixes MMCV's defect that a
//! best score of exactly 0 is never saved.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use weft_config::Config;
use weft_core::build;
use weft_core::hooks::{EvalHook, EvalSettings, Evaluation, Metric, Rule, infer_rule};
use weft_core::{HookResult, Priority, RunContext, RunLog, Runner, Split, Stage, StageSet};

use crate::scripted::ScriptedEngine;
use crate::support::{fixture, json_to_toml, temp_dir};

fn oracle() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("oracles/eval_hook.json")).unwrap())
        .unwrap()
}

fn settings(
    interval: u64,
    start: Option<u64>,
    by_epoch: bool,
    save_best: Option<&str>,
    rule: Option<Rule>,
) -> EvalSettings {
    EvalSettings {
        metrics: vec![Metric::MeanClass],
        split: Split::Val,
        interval,
        start,
        by_epoch,
        save_best: save_best.map(str::to_string),
        rule,
        greater_keys: None,
        less_keys: None,
    }
}

/// A runner over a 1-batch loader with the config's own hooks plus `extra`.
pub fn runner(
    dir: &Path,
    runner_kind: &str,
    max: u64,
    extra: Vec<(Box<dyn weft_core::Hook>, Priority)>,
) -> (Runner, RunLog) {
    let mut top = json!({
        "model": { "type": "LeNet5" },
        "data": { "samples_per_gpu": 1 },
        "optimizer": { "type": "SGD", "lr": 0.01 },
    });
    if runner_kind == "EpochBasedRunner" {
        top["total_epochs"] = json!(max);
    } else {
        top["runner"] = json!({ "type": "IterBasedRunner", "max_iters": max });
    }
    let path = dir.join("eval.toml");
    std::fs::write(&path, json_to_toml(&top)).unwrap();
    let cfg = Config::from_file(&path).unwrap();
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
    for (h, p) in extra {
        hooks.register(h, p);
    }
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let engine = ScriptedEngine::new(1, 1, 0.01, Vec::new(), Vec::new());
    let ctx = RunContext::new(Box::new(engine), plan.runner, work, log.clone());
    (
        Runner::new(ctx, hooks, plan.workflow.clone(), plan.max),
        log,
    )
}

#[test]
fn evaluations_happen_when_mmcv_evaluates() {
    let o = oracle();
    for (n, case) in o["schedule"].as_array().unwrap().iter().enumerate() {
        let dir = temp_dir(&format!("eval-schedule-{n}"));
        let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
        let record = seen.clone();
        let evaluator = Box::new(move |ctx: &mut RunContext| {
            record
                .lock()
                .unwrap()
                .push(json!({ "epoch": ctx.epoch, "iter": ctx.iter }));
            Ok(Evaluation::default())
        });
        let by_epoch = case["by_epoch"].as_bool().unwrap();
        let s = settings(
            case["interval"].as_u64().unwrap(),
            case["start"].as_u64(),
            by_epoch,
            None,
            None,
        );
        let hook = EvalHook::with_evaluator(s, evaluator).unwrap();
        let max = case
            .get("max_epochs")
            .or(case.get("max_iters"))
            .and_then(Value::as_u64)
            .unwrap();
        let (mut r, _) = runner(
            &dir,
            case["runner"].as_str().unwrap(),
            max,
            vec![(Box::new(hook), Priority::LOW)],
        );
        r.run().unwrap();
        let got = Value::Array(seen.lock().unwrap().clone());
        assert_eq!(got, case["evaluated_at"], "case {n}: {case}");
    }
}

#[test]
fn save_best_infers_the_rule_as_mmcv_does() {
    let o = oracle();
    let greater: Vec<String> =
        serde_json::from_value(o["rule_tables"][0]["greater_keys"].clone()).unwrap();
    let less: Vec<String> =
        serde_json::from_value(o["rule_tables"][0]["less_keys"].clone()).unwrap();
    for table in o["rule_tables"].as_array().unwrap() {
        for item in table["inferred"].as_array().unwrap() {
            let key = item["key"].as_str().unwrap();
            let got = infer_rule(key, &greater, &less);
            let want = match item.get("rule").and_then(Value::as_str) {
                Some("greater") => Some(Rule::Greater),
                Some("less") => Some(Rule::Less),
                _ => None,
            };
            assert_eq!(got, want, "{key}");
            // A key that cannot be inferred is refused when the hook is built.
            if item.get("error").is_some() {
                let err = EvalHook::new(settings(1, None, true, Some(key), None))
                    .err()
                    .expect(key);
                assert!(err.contains("cannot infer the rule"), "{err}");
            }
        }
        for item in table["explicit_rule"].as_array().unwrap() {
            let (key, arg) = (
                item["key"].as_str().unwrap(),
                item["rule_arg"].as_str().unwrap(),
            );
            let dir = temp_dir(&format!("eval-rule-{key}"));
            let path = dir.join("rule.toml");
            std::fs::write(
                &path,
                format!("model = {{ type = \"LeNet5\" }}\ntotal_epochs = 1\noptimizer = {{ type = \"SGD\", lr = 0.1 }}\nevaluation = {{ interval = 1, save_best = \"{key}\", rule = \"{arg}\" }}\n[data]\nsamples_per_gpu = 1\n"),
            )
            .unwrap();
            let cfg = Config::from_file(&path).unwrap();
            let schema = cfg.schema().unwrap();
            let plan = build::plan(&cfg, &schema).unwrap();
            let result = build::hooks(
                &cfg,
                &schema,
                &plan,
                &build::HookRegistry::with_builtins(),
                &RunLog::capturing(),
            );
            match item.get("error") {
                Some(_) => {
                    let text = result.err().expect("an invalid rule must fail").to_string();
                    assert!(
                        text.contains("rule must be")
                            && text.contains(arg)
                            && text.contains("rule.toml:"),
                        "{text}"
                    );
                }
                None => assert!(result.is_ok(), "{key} with rule {arg}"),
            }
        }
    }
}

/// Records the best-checkpoint state after each epoch, after the evaluation hook ran: the
/// bookkeeping at `after_train_epoch`, and the files once that point is over (weft writes the
/// checkpoints asked for at a point when every hook of the point has run), at the next
/// `before_train_epoch` or at `after_run`.
struct Probe(Arc<Mutex<Vec<Value>>>);

impl Probe {
    fn list_files(&self, ctx: &RunContext) {
        let mut files: Vec<String> = std::fs::read_dir(&ctx.work_dir)
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .replace(".safetensors", ".pth")
            })
            .filter(|n| n.starts_with("best_"))
            .collect();
        files.sort();
        if let Some(last) = self.0.lock().unwrap().last_mut()
            && last["files"].is_null()
        {
            last["files"] = json!(files);
        }
    }
}

impl weft_core::Hook for Probe {
    fn name(&self) -> &str {
        "Probe"
    }
    fn points(&self) -> StageSet {
        [
            Stage::AfterTrainEpoch,
            Stage::BeforeTrainEpoch,
            Stage::AfterRun,
        ]
        .into_iter()
        .collect()
    }
    fn before_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.list_files(ctx);
        Ok(())
    }
    fn after_run(&mut self, ctx: &mut RunContext) -> HookResult {
        self.list_files(ctx);
        Ok(())
    }
    fn after_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        let work = ctx.work_dir.display().to_string();
        let msgs: Value = ctx
            .hook_msgs()
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => Value::from(
                        s.replace(&work, "<WORK_DIR>")
                            .replace(".safetensors", ".pth"),
                    ),
                    other => other.clone(),
                };
                (k.clone(), v)
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
        self.0
            .lock()
            .unwrap()
            .push(json!({ "epoch_completed": ctx.epoch + 1, "files": null, "hook_msgs": msgs }));
        Ok(())
    }
}

#[test]
fn best_checkpoints_are_kept_as_mmcv_keeps_them_and_a_zero_score_counts() {
    let o = oracle();
    for case in o["save_best"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let dir = temp_dir(&format!("eval-best-{name}"));
        let mut results = case["evaluate_results"]
            .as_array()
            .unwrap()
            .clone()
            .into_iter();
        let evaluator = Box::new(move |_: &mut RunContext| {
            let r = results.next().unwrap();
            Ok(Evaluation {
                results: r
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
                    .collect(),
                batches: 1,
            })
        });
        let s = settings(1, None, true, case["save_best"].as_str(), None);
        let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
        let epochs = case["evaluate_results"].as_array().unwrap().len() as u64;
        let (mut r, log) = runner(
            &dir,
            "EpochBasedRunner",
            epochs,
            vec![
                (
                    Box::new(EvalHook::with_evaluator(s, evaluator).unwrap()),
                    Priority::LOW,
                ),
                (Box::new(Probe(seen.clone())), Priority::LOWEST),
            ],
        );
        r.run().unwrap();
        let work = dir.join("work").display().to_string();
        let messages: Vec<String> = log
            .captured()
            .iter()
            .map(|l| {
                l.trim_start_matches("INFO - ")
                    .replace(&work, "<WORK_DIR>")
                    .replace(".safetensors", ".pth")
            })
            .filter(|l| l.contains("best checkpoint") || l.starts_with("Best "))
            .collect();
        let seen = seen.lock().unwrap().clone();
        if name == "less_loss_with_zero" {
            // MMCV ignores the val_loss of 0.0 after epoch 3 (`if save_best and key_score:`);
            // weft keeps it as the best, so epochs 3-5 differ by design.
            let want = &case["after_each_epoch"].as_array().unwrap()[..2];
            for (g, w) in seen.iter().zip(want) {
                assert_eq!(g["files"], w["files"], "{name}");
                assert_eq!(g["hook_msgs"], w["hook_msgs"], "{name}");
            }
            for g in &seen[2..] {
                assert_eq!(g["hook_msgs"]["best_score"], 0.0, "{name}: {g}");
                assert_eq!(g["files"], json!(["best_val_loss_epoch_3.pth"]), "{name}");
            }
            assert!(
                messages.contains(&"Best val_loss is 0.0000 at 3 epoch.".to_string()),
                "{messages:?}"
            );
            continue;
        }
        for (g, w) in seen
            .iter()
            .zip(case["after_each_epoch"].as_array().unwrap())
        {
            assert_eq!(g["epoch_completed"], w["epoch_completed"]);
            assert_eq!(
                g["files"], w["files"],
                "{name} after epoch {}",
                w["epoch_completed"]
            );
            assert_eq!(
                g["hook_msgs"], w["hook_msgs"],
                "{name} after epoch {}",
                w["epoch_completed"]
            );
        }
        let want: Vec<String> = serde_json::from_value(case["messages"].clone()).unwrap();
        assert_eq!(messages, want, "{name}");
    }
}
