//! Replays `schedules.json`: lr and momentum of every group at every train iteration, for
//! every MMCV policy and warmup, both runners, through `weft schedule`'s code path (the real
//! hooks over a model-less engine). Relative error <= 1e-12.

use serde_json::{Value, json};
use weft::session::dry_optimizer;
use weft_config::Config;

use crate::support::{fixture, json_to_toml, temp_dir};

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-12 * want.abs().max(1e-300)
}

/// The oracle's TinyModel (one Linear(2, 1) named fc) and the case's optimizer and hooks.
fn config_for(case: &Value, dir: &std::path::Path) -> Config {
    let mut top = case["config"].clone();
    let obj = top.as_object_mut().unwrap();
    obj.insert(
        "model".into(),
        json!({ "type": "Modules", "layers": [{ "name": "fc", "type": "Linear", "in_features": 2, "out_features": 1 }] }),
    );
    obj.insert("data".into(), json!({ "samples_per_gpu": 1 }));
    obj.insert("workflow".into(), case["workflow"].clone());
    let runner = match case["runner"].as_str().unwrap() {
        "EpochBasedRunner" => json!({ "type": "EpochBasedRunner", "max_epochs": case["epochs"] }),
        _ => json!({ "type": "IterBasedRunner", "max_iters": case["max_iters"] }),
    };
    obj.insert("runner".into(), runner);
    let path = dir.join(format!("{}.toml", case["name"].as_str().unwrap()));
    std::fs::write(&path, json_to_toml(&top)).unwrap();
    Config::from_file(&path).unwrap()
}

#[test]
fn every_recorded_schedule_is_reproduced() {
    let oracle: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("oracles/schedules.json")).unwrap())
            .unwrap();
    let dir = temp_dir("schedules");
    let cases = oracle["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let cfg = config_for(case, &dir);
        let schema = cfg.schema().unwrap();
        let plan = weft_core::build::plan(&cfg, &schema).unwrap();
        let (_, setup) = dry_optimizer(&cfg, &schema, &Default::default()).unwrap();
        let per_epoch = case["iters_per_epoch"].as_u64().unwrap() as usize;
        let entries = weft_core::dry::simulate(
            &cfg,
            &schema,
            &plan,
            setup.groups.clone(),
            per_epoch,
            Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let iters = case["iter"].as_array().unwrap();
        assert_eq!(
            entries.len(),
            iters.len(),
            "{name}: number of train iterations"
        );
        for (k, e) in entries.iter().enumerate() {
            assert_eq!(e.iter, iters[k].as_u64().unwrap(), "{name}");
            assert_eq!(
                e.epoch,
                case["epoch"][k].as_u64().unwrap(),
                "{name} iter {k}: epoch"
            );
            assert_eq!(
                e.inner_iter,
                case["inner_iter"][k].as_u64().unwrap(),
                "{name} iter {k}: inner_iter"
            );
            for (g, want) in case["lr"][k].as_array().unwrap().iter().enumerate() {
                let want = want.as_f64().unwrap();
                assert!(
                    close(e.lr[g], want),
                    "{name} iter {k} group {g}: lr {} != {want}",
                    e.lr[g]
                );
            }
            for (g, want) in case["momentum"][k].as_array().unwrap().iter().enumerate() {
                let want = want.as_f64().unwrap();
                assert!(
                    close(e.momentum[g], want),
                    "{name} iter {k} group {g}: momentum {} != {want}",
                    e.momentum[g]
                );
            }
        }
    }
}

#[test]
fn schedule_command_prints_one_json_object() {
    let config = fixture("../../configs/fashion_mnist/lenet5_sgd.toml");
    let v = crate::support::weft_json(&[
        "schedule",
        config.to_str().unwrap(),
        "--iters-per-epoch",
        "5",
        "--json",
    ]);
    let iters = v["iters"].as_array().unwrap();
    assert_eq!(iters.len(), 30, "6 epochs x 5 iterations");
    assert_eq!(iters[19]["lr"][0], 0.01);
    assert!(
        close(iters[20]["lr"][0].as_f64().unwrap(), 0.001),
        "step at epoch 4"
    );
    assert_eq!(iters[7]["epoch"], 1);
    assert_eq!(iters[7]["inner_iter"], 2);
}
