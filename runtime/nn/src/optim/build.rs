//! `optimizer = { type = ..., lr = ..., ... }` to an optimizer and its parameter groups.

use serde::Deserialize;
use weft_config::{
    Config, ConfigError, ErrorKind, Located, Node, Origin, Value, unknown_name_error,
};
use weft_core::{Momentum, ParamGroup};

use super::{Adam, AdamOptions, Optimizer, Sgd, SgdOptions};
use crate::models::without;
use crate::store::ParamStore;

/// The optimizer types weft implements natively.
pub const OPTIMIZER_TYPES: [&str; 3] = ["SGD", "Adam", "AdamW"];

/// An optimizer with its groups.
pub struct OptimizerSetup {
    /// The update rule and its state.
    pub optimizer: Box<dyn Optimizer>,
    /// Schedulable hyperparameters per group.
    pub groups: Vec<ParamGroup>,
    /// Parameter indices per group.
    pub members: Vec<Vec<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SgdArgs {
    #[serde(default = "milli")]
    lr: Located<f64>,
    #[serde(default = "zero")]
    momentum: Located<f64>,
    #[serde(default)]
    dampening: f64,
    #[serde(default = "zero")]
    weight_decay: Located<f64>,
    #[serde(default = "no")]
    nesterov: Located<bool>,
    #[serde(default)]
    maximize: bool,
    #[allow(
        dead_code,
        reason = "accepted as torch.optim does; weft picks its kernels itself"
    )]
    foreach: Option<bool>,
    #[allow(
        dead_code,
        reason = "accepted as torch.optim does; weft picks its kernels itself"
    )]
    fused: Option<bool>,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "accepted as torch.optim does; no effect without autograd through the step"
    )]
    differentiable: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdamArgs {
    #[serde(default = "milli")]
    lr: Located<f64>,
    betas: Option<Located<Vec<f64>>>,
    #[serde(default = "eps")]
    eps: Located<f64>,
    weight_decay: Option<Located<f64>>,
    #[serde(default)]
    amsgrad: bool,
    #[serde(default)]
    maximize: bool,
    decoupled_weight_decay: Option<bool>,
    #[allow(
        dead_code,
        reason = "accepted as torch.optim does; weft picks its kernels itself"
    )]
    foreach: Option<bool>,
    #[allow(
        dead_code,
        reason = "accepted as torch.optim does; weft picks its kernels itself"
    )]
    fused: Option<bool>,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "accepted as torch.optim does; steps never run in a CUDA graph here"
    )]
    capturable: bool,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "accepted as torch.optim does; no effect without autograd through the step"
    )]
    differentiable: bool,
}

fn milli() -> Located<f64> {
    Located::builtin(1e-3)
}

fn eps() -> Located<f64> {
    Located::builtin(1e-8)
}

fn zero() -> Located<f64> {
    Located::builtin(0.0)
}

fn no() -> Located<bool> {
    Located::builtin(false)
}

/// Builds the optimizer named in `node` over every parameter of `store` (one group, as
/// MMCV's default constructor does without `paramwise_cfg`).
pub fn build_optimizer(
    node: &Node,
    cfg: &Config,
    store: &ParamStore,
) -> Result<OptimizerSetup, ConfigError> {
    let Some(table) = node.as_table() else {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "`optimizer` must be a table with a `type`",
            &node.origin,
        ));
    };
    let Some(ty) = table.get("type") else {
        return Err(cfg
            .error_at(
                ErrorKind::MissingKey,
                "`optimizer` has no `type`",
                &node.origin,
            )
            .with_help(format!("one of: {}", OPTIMIZER_TYPES.join(", "))));
    };
    let name = ty.as_str().unwrap_or_default();
    if let Some(c) = table.get("constructor")
        && c.as_str() != Some("DefaultOptimizerConstructor")
    {
        return Err(cfg.error_at(
            ErrorKind::UnknownType,
            format!(
                "optimizer constructor {:?} is not available in this build",
                c.as_str().unwrap_or_default()
            ),
            &c.origin,
        ));
    }
    if let Some(p) = table.get("paramwise_cfg")
        && !matches!(&p.value, Value::Table(t) if t.is_empty())
        && !p.is_null()
    {
        return Err(cfg
            .error_at(
                ErrorKind::UnknownKey,
                "`paramwise_cfg` is not available in this build yet",
                &p.origin,
            )
            .with_help("remove it to train every parameter with the optimizer's own settings"));
    }
    let args = without(table, &["type", "constructor", "paramwise_cfg"], node);
    let members = vec![(0..store.params().len()).collect::<Vec<_>>()];
    let params: Vec<String> = store.params().iter().map(|p| p.name.clone()).collect();
    let (optimizer, group): (Box<dyn Optimizer>, ParamGroup) = match name {
        "SGD" => {
            let a: SgdArgs = cfg.read(&args)?;
            check_lr(cfg, &a.lr)?;
            non_negative(cfg, &a.momentum, "momentum")?;
            non_negative(cfg, &a.weight_decay, "weight_decay")?;
            if a.nesterov.value && (a.momentum.value <= 0.0 || a.dampening != 0.0) {
                return Err(cfg.error_at(
                    ErrorKind::InvalidValue,
                    "Nesterov momentum requires a momentum and zero dampening",
                    &a.nesterov.origin,
                ));
            }
            (
                Box::new(Sgd::new(vec![SgdOptions {
                    dampening: a.dampening,
                    nesterov: a.nesterov.value,
                    maximize: a.maximize,
                }])),
                ParamGroup {
                    lr: a.lr.value,
                    momentum: Momentum::Momentum(a.momentum.value),
                    weight_decay: a.weight_decay.value,
                    initial_lr: None,
                    initial_momentum: None,
                    params,
                },
            )
        }
        "Adam" | "AdamW" => {
            let a: AdamArgs = cfg.read(&args)?;
            check_lr(cfg, &a.lr)?;
            non_negative(cfg, &a.eps, "eps")?;
            let adamw = name == "AdamW";
            let wd = a
                .weight_decay
                .unwrap_or_else(|| Located::builtin(if adamw { 1e-2 } else { 0.0 }));
            non_negative(cfg, &wd, "weight_decay")?;
            let (b1, b2) = match &a.betas {
                None => (0.9, 0.999),
                Some(b) => match b.value.as_slice() {
                    [b1, b2] if (0.0..1.0).contains(b1) && (0.0..1.0).contains(b2) => (*b1, *b2),
                    _ => {
                        return Err(cfg.error_at(
                            ErrorKind::InvalidValue,
                            "betas must be two numbers in [0, 1)",
                            &b.origin,
                        ));
                    }
                },
            };
            let decoupled = adamw || a.decoupled_weight_decay.unwrap_or(false);
            (
                Box::new(Adam::new(
                    if adamw { "AdamW" } else { "Adam" },
                    vec![AdamOptions {
                        eps: a.eps.value,
                        amsgrad: a.amsgrad,
                        maximize: a.maximize,
                        decoupled_weight_decay: decoupled,
                    }],
                )),
                ParamGroup {
                    lr: a.lr.value,
                    momentum: Momentum::Betas(b1, b2),
                    weight_decay: wd.value,
                    initial_lr: None,
                    initial_momentum: None,
                    params,
                },
            )
        }
        other => {
            return Err(unknown_name_error("optimizer", other, OPTIMIZER_TYPES)
                .with_location(cfg.sources().locate(&ty.origin)));
        }
    };
    Ok(OptimizerSetup {
        optimizer,
        groups: vec![group],
        members,
    })
}

fn check_lr(cfg: &Config, lr: &Located<f64>) -> Result<(), ConfigError> {
    if !lr.value.is_finite() || lr.value < 0.0 {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            format!(
                "the learning rate must be a finite number >= 0, not {}",
                lr.value
            ),
            &lr.origin,
        ));
    }
    Ok(())
}

fn non_negative(cfg: &Config, v: &Located<f64>, what: &str) -> Result<(), ConfigError> {
    if !v.value.is_finite() || v.value < 0.0 {
        let origin: &Origin = &v.origin;
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            format!("{what} must be a finite number >= 0, not {}", v.value),
            origin,
        ));
    }
    Ok(())
}
