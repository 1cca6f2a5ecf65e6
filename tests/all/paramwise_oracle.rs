//! Replays `paramwise.json`: the parameter groups MMCV's `build_optimizer` builds for every
//! `paramwise_cfg` rule and MMAction2's TSM constructor, on models written as `Modules`
//! configs, including the cases that must fail.

use serde_json::{Map, Value, json};
use weft::session::dry_optimizer;
use weft_config::Config;

use crate::support::{fixture, json_to_toml, temp_dir};

/// Writes an oracle model description as a `Modules` model.
fn model(desc: &Value, name: &str) -> Value {
    let mut layers = Vec::new();
    let mut params = Vec::new();
    let mut frozen = Vec::new();
    for m in desc.as_array().unwrap() {
        let path = m["name"].as_str().unwrap();
        let own = m
            .get("own_params")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for p in &own {
            let full = if path == "<root>" {
                p["name"].as_str().unwrap().to_string()
            } else {
                format!("{path}.{}", p["name"].as_str().unwrap())
            };
            if p["requires_grad"] == false {
                frozen.push(json!(full));
            }
        }
        let kind = m["type"].as_str().unwrap();
        if path == "<root>" {
            for p in &own {
                params.push(json!({ "name": p["name"], "shape": p["shape"] }));
            }
            continue;
        }
        let mut layer = Map::new();
        layer.insert("name".into(), json!(path));
        layer.insert("type".into(), json!(kind));
        let copy = |layer: &mut Map<String, Value>, keys: &[&str]| {
            for k in keys {
                if let Some(v) = m.get(*k) {
                    layer.insert(k.to_string(), v.clone());
                }
            }
        };
        match kind {
            "Conv1d" | "Conv2d" | "Conv3d" => copy(
                &mut layer,
                &[
                    "in_channels",
                    "out_channels",
                    "kernel_size",
                    "groups",
                    "padding",
                    "bias",
                ],
            ),
            "Linear" => copy(&mut layer, &["in_features", "out_features"]),
            "BatchNorm2d" | "InstanceNorm2d" => copy(&mut layer, &["num_features", "affine"]),
            "GroupNorm" => copy(&mut layer, &["num_groups", "num_channels", "affine"]),
            "LayerNorm" => copy(&mut layer, &["normalized_shape"]),
            _ => continue, // containers (Backbone, Head) come from dotted names
        }
        layers.push(Value::Object(layer));
    }
    let mut model =
        json!({ "type": "Modules", "layers": layers, "params": params, "frozen": frozen });
    if name == "SharedNet" {
        model["shared"] = json!([{ "name": "b.weight", "source": "a.weight" }]);
    }
    model
}

#[test]
fn every_recorded_param_group_layout_is_reproduced() {
    replay(None);
}

/// The TSM cases again, with MMAction2's constructor as a WebAssembly component
/// (guest-examples/rust/tsm_constructor) instead of the built-in one.
#[test]
fn the_tsm_constructor_component_reproduces_the_tsm_cases() {
    let n = replay(Some(("rust", "TSMPluginConstructor")));
    assert!(n >= 1, "no TSM case replayed");
}

/// The same with the constructor written in Python (guest-examples/python/tsm_constructor).
#[test]
fn the_python_tsm_constructor_reproduces_the_tsm_cases() {
    let n = replay(Some(("python", "TSMPyConstructor")));
    assert!(n >= 1, "no TSM case replayed");
}

/// The same with the constructor written in JavaScript, on both engines.
#[test]
fn the_javascript_tsm_constructor_reproduces_the_tsm_cases_on_both_engines() {
    assert!(replay(Some(("js", "TSMJsConstructor"))) >= 1);
    assert!(replay(Some(("js-quickjs", "TSMJsConstructor"))) >= 1);
}

/// Replays every case (or, with a plugin's language and type, the TSM cases through that
/// plugin); returns the number of cases replayed.
fn replay(plugin: Option<(&str, &str)>) -> usize {
    let oracle: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("oracles/paramwise.json")).unwrap())
            .unwrap();
    let dir = temp_dir(&match plugin {
        Some((language, _)) => format!("paramwise-{language}"),
        None => "paramwise".into(),
    });
    let mut replayed = 0;
    for case in oracle["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let model_name = case["model"].as_str().unwrap();
        let mut optimizer = case["config"].clone();
        let mut top = json!({
            "model": model(&oracle["models"][model_name], model_name),
            "data": { "samples_per_gpu": 1 },
            "total_epochs": 1,
        });
        if let Some((language, type_name)) = plugin {
            if optimizer["constructor"] != "TSMOptimizerConstructor" {
                continue;
            }
            optimizer["constructor"] = json!(type_name);
            let wasm = match language {
                "js-quickjs" => crate::guests::quickjs_example("tsm_constructor"),
                _ => crate::guests::example(language, "tsm_constructor"),
            };
            top["custom_imports"] = json!({ "imports": [wasm.to_str().unwrap()] });
        }
        top["optimizer"] = optimizer;
        replayed += 1;
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, json_to_toml(&top)).unwrap();
        let cfg = Config::from_file(&path).unwrap();
        let schema = cfg.schema().unwrap();
        let registries = weft::plugins::load(&cfg, &weft_core::RunLog::capturing()).unwrap();
        let result = dry_optimizer(&cfg, &schema, &registries.extensions);
        if let Some(err) = case.get("error") {
            let e = result
                .err()
                .unwrap_or_else(|| panic!("{name} must fail like MMCV: {err}"));
            let text = format!("{e:#}");
            if name.contains("shared") {
                assert!(
                    text.contains("more than one parameter group"),
                    "{name}: {text}"
                );
            } else {
                assert!(text.contains("weight_decay"), "{name}: {text}");
            }
            continue;
        }
        let (model, setup) = result.unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let got = weft_nn::optim::groups_json(&setup);
        let want = case["groups"].as_array().unwrap();
        let got = got["groups"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{name}: number of groups");
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g["params"], w["params"], "{name} group {k}");
            assert_eq!(g["lr"].as_f64(), w["lr"].as_f64(), "{name} group {k} lr");
            assert_eq!(
                g["weight_decay"].as_f64(),
                w["weight_decay"].as_f64(),
                "{name} group {k} weight_decay"
            );
            match w.get("momentum") {
                Some(m) => assert_eq!(g["momentum"].as_f64(), m.as_f64(), "{name} group {k}"),
                None => assert_eq!(g["betas"], w["betas"], "{name} group {k}"),
            }
            if let Some(keys) = w.get("explicit_keys") {
                let keys: Vec<String> = serde_json::from_value(keys.clone()).unwrap();
                assert_eq!(
                    setup.groups[k].explicit, keys,
                    "{name} group {k}: keys the constructor set"
                );
            }
            let requires: Vec<bool> = serde_json::from_value(w["requires_grad"].clone()).unwrap();
            let names = g["params"].as_array().unwrap();
            for (p, req) in names.iter().zip(requires) {
                let param = model
                    .store
                    .params()
                    .iter()
                    .find(|q| q.name == p.as_str().unwrap())
                    .unwrap();
                assert_eq!(param.requires_grad, req, "{name}: {p}");
            }
        }
    }
    replayed
}

#[test]
fn param_groups_command_prints_groups_as_json() {
    let config = fixture("../../configs/fashion_mnist/lenet5_sgd.toml");
    let v = crate::support::weft_json(&[
        "param-groups",
        config.to_str().unwrap(),
        "--json",
        "--cfg-options",
        "optimizer.paramwise_cfg.bias_lr_mult=2",
    ]);
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(
        groups.len(),
        10,
        "one group per parameter with paramwise rules"
    );
    assert_eq!(groups[1]["params"], json!(["conv1.bias"]));
    assert_eq!(groups[1]["lr"], 0.02);
    assert_eq!(groups[0]["momentum"], 0.9);
    assert_eq!(groups[0]["betas"], Value::Null);
}
