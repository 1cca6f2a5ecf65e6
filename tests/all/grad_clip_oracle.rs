//! Replays `grad_clip.json` through a whole run: MMCV's OptimizerHook with L2/L1/inf
//! clipping, unused parameters with `detect_anomalous_params`, and
//! GradientCumulativeOptimizerHook with its ragged last group. Each step's parameters are read
//! back from the checkpoint weft writes after it, and `grad_norm` from the JSON log.

use serde_json::{Value, json};
use tch::Tensor;
use weft::session::{TrainOptions, prepare};

use crate::support::{fixture, json_to_toml, temp_dir};

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        other => vec![other.as_f64().unwrap()],
    }
}

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<i64> = match v {
        Value::Array(rows) if rows.first().is_some_and(Value::is_array) => {
            vec![rows.len() as i64, rows[0].as_array().unwrap().len() as i64]
        }
        Value::Array(a) => vec![a.len() as i64],
        _ => vec![],
    };
    let data: Vec<f32> = flat(v).into_iter().map(|x| x as f32).collect();
    Tensor::from_slice(&data).view(shape.as_slice())
}

fn json_log(dir: &std::path::Path) -> Vec<Value> {
    let path = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".log.json"))
        .unwrap();
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn replay(case: &Value) {
    let name = case["name"].as_str().unwrap();
    let dir = temp_dir(&format!("grad-clip-{name}"));
    let init = case["initial_params"].as_object().unwrap();
    let initial: Vec<(String, Tensor)> = init.iter().map(|(k, v)| (k.clone(), tensor(v))).collect();
    weft_nn::checkpoint::write(&dir.join("init.safetensors"), &initial, &Value::Null).unwrap();
    let batches = case["batches"].as_array().unwrap();
    let steps = case["steps"].as_array().unwrap();
    let inputs: Vec<Value> = batches
        .iter()
        .flat_map(|b| b["x"].as_array().unwrap().clone())
        .collect();
    let targets: Vec<Value> = batches
        .iter()
        .flat_map(|b| b["y"].as_array().unwrap().clone())
        .collect();
    let mut model = json!({
        "type": "Modules",
        "loss": "mse",
        "layers": [{ "name": "fc", "type": "Linear", "in_features": 3, "out_features": 2 }],
    });
    if init.contains_key("unused.weight") {
        // Parameters no layer uses: they never receive a gradient.
        model["params"] = json!([{ "name": "unused.weight", "shape": [1, 3] }, { "name": "unused.bias", "shape": [1] }]);
    }
    let mut top = json!({
        "model": model,
        "optimizer": case["optimizer"],
        "optimizer_config": case["optimizer_config"],
        "runner": { "type": "IterBasedRunner", "max_iters": steps.len() },
        "checkpoint_config": { "interval": 1 },
        "log_config": { "interval": 1, "hooks": [{ "type": "TextLoggerHook" }] },
        "load_from": dir.join("init.safetensors").display().to_string(),
        "device": "cpu",
        "data": {
            "samples_per_gpu": 2,
            "workers_per_gpu": 0,
            "train_dataloader": { "shuffle": false },
            "train": { "type": "InMemory", "inputs": inputs, "targets": targets },
        },
    });
    if case["optimizer_config"]["grad_clip"].is_null() {
        top["optimizer_config"]
            .as_object_mut()
            .unwrap()
            .remove("grad_clip");
    }
    let config = dir.join("run.toml");
    std::fs::write(&config, json_to_toml(&top)).unwrap();
    let work = dir.join("work");
    let mut session = prepare(&TrainOptions {
        config,
        work_dir: Some(work.clone()),
        ..TrainOptions::default()
    })
    .unwrap_or_else(|e| panic!("{name}: {e:#}"));
    session.runner.run().unwrap();
    let log = json_log(&work);
    let train_lines: Vec<&Value> = log.iter().filter(|l| l["mode"] == "train").collect();
    assert_eq!(
        train_lines.len(),
        steps.len(),
        "{name}: one log line per step"
    );
    let mut history_len = 0;
    for (k, step) in steps.iter().enumerate() {
        let ckpt =
            weft_nn::checkpoint::read(&work.join(format!("iter_{}.safetensors", k + 1))).unwrap();
        for (param, want) in step["params_after_step"].as_object().unwrap() {
            let got = Vec::<f32>::try_from(ckpt.tensors[param].flatten(0, -1)).unwrap();
            for (g, w) in got.iter().zip(flat(want)) {
                assert!(
                    (*g as f64 - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "{name} step {k} {param}: {g} vs {w}"
                );
            }
        }
        let loss = train_lines[k]["loss"].as_f64().unwrap();
        let want_loss = step["loss"].as_f64().unwrap();
        assert!(
            (loss - want_loss).abs() <= 1e-5 * want_loss.abs().max(1.0),
            "{name} step {k} loss {loss} vs {want_loss}"
        );
        let history = step["log_buffer_grad_norm_history"].as_array().unwrap();
        if history.len() > history_len {
            let want = history.last().unwrap().as_f64().unwrap();
            let got = train_lines[k]["grad_norm"]
                .as_f64()
                .unwrap_or_else(|| panic!("{name} step {k}: no grad_norm logged"));
            assert!(
                (got - want).abs() <= 1e-5 * want.max(1.0),
                "{name} step {k} grad_norm {got} vs {want}"
            );
        } else {
            assert!(
                train_lines[k].get("grad_norm").is_none(),
                "{name} step {k}: unexpected grad_norm"
            );
        }
        history_len = history.len();
    }
    let anomalous = session
        .runner
        .ctx
        .log
        .captured()
        .iter()
        .filter(|l| l.contains("is not in the computational graph"))
        .count();
    let want_anomalous = case["log_messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.as_str().unwrap().contains("computational graph"))
        .count();
    assert_eq!(
        anomalous, want_anomalous,
        "{name}: anomalous-parameter messages"
    );
}

#[test]
fn clipping_and_accumulation_match_mmcv_step_by_step() {
    let oracle: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("oracles/grad_clip.json")).unwrap())
            .unwrap();
    let cases = oracle["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        replay(case);
    }
}
