//! What several benchmarks share: medians, a run context over the dry engine for timing hook
//! calls, and a model with gradients from one real backward pass for timing optimizer steps.
//! Each benchmark is its own crate and uses part of this, hence the `dead_code` allowance.
#![allow(dead_code, reason = "each benchmark crate uses part of this module")]

use tch::{Device, Kind, Tensor};
use weft_config::Config;
use weft_core::dry::DryEngine;
use weft_core::plugin::Extensions;
use weft_core::{Momentum, ParamGroup, RunContext, RunLog, RunnerKind};
use weft_nn::models::{Model, build_model};
use weft_nn::optim::{OptimizerSetup, build_optimizer};

/// The median of `v` (the upper one for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A run context whose engine is the dry one (one group, lr 0.1, momentum 0.9): hook calls
/// then cost only the hook and the runner's dispatch.
pub fn dry_context(log: &RunLog) -> RunContext {
    let group = ParamGroup {
        lr: 0.1,
        momentum: Momentum::Momentum(0.9),
        weight_decay: 0.0,
        params: vec!["w".into()],
        ..Default::default()
    };
    RunContext::new(
        Box::new(DryEngine::new(10, 0, vec![group])),
        RunnerKind::EpochBased,
        std::env::temp_dir(),
        log.clone(),
    )
}

/// The config's model and optimizer on the CPU, with gradients from one backward pass of a
/// random batch of 8 Fashion-MNIST-sized images (seeded, so every variant sees the same).
pub fn model_with_grads(cfg: &Config, extensions: &Extensions) -> (Model, OptimizerSetup) {
    tch::manual_seed(0);
    let model = build_model(cfg.get("model").unwrap(), cfg, Device::Cpu).unwrap();
    let setup =
        build_optimizer(cfg.get("optimizer").unwrap(), cfg, &model.store, extensions).unwrap();
    let x = Tensor::randn([8, 1, 28, 28], (Kind::Float, Device::Cpu));
    model
        .net
        .forward(&x, true)
        .unwrap()
        .sum(Kind::Float)
        .backward();
    (model, setup)
}
