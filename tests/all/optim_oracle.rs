//! Replays `torch_optim.json`: parameter trajectories of every `torch.optim` optimizer on a
//! float64 problem, with two parameter groups and per-group overrides, recorded with torch
//! 2.13.0. weft's optimizers must agree to a relative error of 1e-9.

use serde_json::Value;
use tch::{Kind, Tensor};
use weft_core::paramwise::GroupSpec;
use weft_nn::optim::{self, options};
use weft_nn::store::ParamStore;

use crate::support::fixture;

fn tensor(v: &Value) -> Tensor {
    let rows: Vec<Vec<f64>> = match v.as_array().unwrap().first() {
        Some(Value::Array(_)) => v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| serde_json::from_value(r.clone()).unwrap())
            .collect(),
        _ => vec![serde_json::from_value(v.clone()).unwrap()],
    };
    let flat: Vec<f64> = rows.concat();
    let t = Tensor::from_slice(&flat);
    if matches!(v.as_array().unwrap().first(), Some(Value::Array(_))) {
        t.view([rows.len() as i64, -1])
    } else {
        t
    }
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.flatten(0, -1)).unwrap()
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        let tol = 1e-9 * w.abs().max(1e-3);
        assert!(
            (g - w).abs() <= tol,
            "{what}: got {g}, want {w} (diff {:e})",
            (g - w).abs()
        );
    }
}

fn loss(w: &Tensor, b: &Tensor, x: &Tensor, y: &Tensor) -> Tensor {
    let r = x.matmul(w) + b - y;
    (&r * &r).mean(Kind::Double)
        + w.sin().sum(Kind::Double) * 0.1
        + b.pow_tensor_scalar(4).sum(Kind::Double) * 0.05
}

fn replay(case: &Value) {
    let name = case["name"].as_str().unwrap();
    let kind = optim::kind(case["type"].as_str().unwrap())
        .unwrap_or_else(|| panic!("{name}: no such optimizer"));
    let mut store = ParamStore::new(tch::Device::Cpu);
    let root = store.module("", "Problem", Default::default());
    let w = store
        .param(root, "w", tensor(&case["init"]["w"]), true)
        .unwrap();
    let b = store
        .param(root, "b", tensor(&case["init"]["b"]), true)
        .unwrap();
    store.finish();
    let (x, y) = (tensor(&case["x"]), tensor(&case["y"]));
    let mut defaults = options::defaults(kind.spec);
    for (k, v) in case["defaults"].as_object().unwrap() {
        let spec = kind
            .spec
            .iter()
            .find(|s| s.name == k)
            .unwrap_or_else(|| panic!("{name}: option {k}"));
        defaults
            .0
            .insert(spec.name, options::from_json(spec, v).unwrap());
    }
    let index = |n: &str| store.params().iter().position(|p| p.name == n).unwrap();
    let groups: Vec<GroupSpec> = case["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| GroupSpec {
            params: g["params"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| index(p.as_str().unwrap()))
                .collect(),
            options: g
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k != "params")
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
                .collect(),
        })
        .collect();
    let mut setup = optim::build_with_groups(kind, &defaults, groups, &store).unwrap();
    for (step, want) in case["steps"].as_array().unwrap().iter().enumerate() {
        let params = store.params();
        let mut evaluations = Vec::new();
        let mut closure = || -> Result<f64, tch::TchError> {
            for p in params {
                let mut t = p.tensor.shallow_clone();
                t.zero_grad();
            }
            let l = loss(&w, &b, &x, &y);
            l.f_backward()?;
            let v = l.f_double_value(&[])?;
            evaluations.push(v);
            Ok(v)
        };
        if setup.optimizer.needs_closure() {
            setup
                .optimizer
                .step(params, &setup.groups, Some(&mut closure))
                .unwrap();
            let want_losses: Vec<f64> =
                serde_json::from_value(want["closure_losses"].clone()).unwrap();
            assert_close(
                &evaluations,
                &want_losses,
                &format!("{name} step {step} closure losses"),
            );
        } else {
            let l = closure().unwrap();
            assert_close(
                &[l],
                &[want["loss"].as_f64().unwrap()],
                &format!("{name} step {step} loss"),
            );
            assert_close(
                &values(&w.grad()),
                &values(&tensor(&want["grad_w"])),
                &format!("{name} step {step} grad w"),
            );
            setup.optimizer.step(params, &setup.groups, None).unwrap();
        }
        assert_close(
            &values(&w),
            &values(&tensor(&want["w"])),
            &format!("{name} step {step} w"),
        );
        assert_close(
            &values(&b),
            &values(&tensor(&want["b"])),
            &format!("{name} step {step} b"),
        );
    }
}

#[test]
fn every_torch_optimizer_follows_the_recorded_trajectory() {
    let oracle: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("oracles/torch_optim.json")).unwrap(),
    )
    .unwrap();
    let cases = oracle["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 15);
    for case in cases {
        replay(case);
    }
}
