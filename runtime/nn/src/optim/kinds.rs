//! Every optimizer weft implements, with `torch.optim`'s option names, defaults and checks.

use super::options::{OptKind, OptSpec, OptValue, Options, accepted, flag, num, pair};
use super::rules::{self, Update};

/// Which option plays MMCV's "momentum" (what momentum schedules change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MomentumKey {
    /// `momentum`.
    Momentum,
    /// `betas[0]`.
    Betas,
    /// Neither: momentum schedules cannot be used.
    None,
}

/// An optimizer type.
pub struct OptimizerKind {
    /// `torch.optim` class name.
    pub name: &'static str,
    /// Options with defaults, in torch's order.
    pub spec: &'static [OptSpec],
    /// What MMCV's momentum hooks schedule.
    pub momentum: MomentumKey,
    /// Names of its per-parameter state.
    pub state_keys: &'static [&'static str],
    /// torch's argument checks.
    pub validate: fn(&Options) -> Result<(), Invalid>,
    /// Per-parameter update (`None` for LBFGS).
    pub rule: Option<fn(Update<'_>) -> Result<(), tch::TchError>>,
}

// torch.optim's implementation switches: accepted where torch accepts them, no effect here.
macro_rules! spec {
    ($($s:expr),* ; $($extra:literal),*) => {
        &[$($s,)* flag("maximize", false), accepted("foreach"), accepted("differentiable") $(, accepted($extra))*]
    };
}

/// A rejected option: its name and why.
pub type Invalid = (&'static str, String);

fn ge0(o: &Options, names: &[&'static str]) -> Result<(), Invalid> {
    for n in names {
        let v = o.num(n);
        if !(v >= 0.0 && v.is_finite()) {
            let what = match *n {
                "lr" => "learning rate",
                "eps" => "epsilon value",
                "weight_decay" => "weight_decay value",
                other => other,
            };
            return Err((
                n,
                format!("Invalid {what}: {v} (must be a finite number >= 0)"),
            ));
        }
    }
    Ok(())
}

fn betas_ok(o: &Options) -> Result<(), Invalid> {
    let (b1, b2) = o.pair("betas");
    for (i, b) in [b1, b2].into_iter().enumerate() {
        if !(0.0..1.0).contains(&b) {
            return Err((
                "betas",
                format!("Invalid beta parameter at index {i}: {b} (must be in [0, 1))"),
            ));
        }
    }
    Ok(())
}

fn adam_like(o: &Options) -> Result<(), Invalid> {
    ge0(o, &["lr", "eps", "weight_decay"])?;
    betas_ok(o)
}

/// Every optimizer type weft implements.
pub static KINDS: &[OptimizerKind] = &[
    OptimizerKind {
        name: "SGD",
        spec: spec![num("lr", 1e-3), num("momentum", 0.0), num("dampening", 0.0), num("weight_decay", 0.0), flag("nesterov", false); "fused"],
        momentum: MomentumKey::Momentum,
        state_keys: &["momentum_buffer"],
        validate: |o| {
            ge0(o, &["lr", "momentum", "weight_decay"])?;
            if o.flag("nesterov") && (o.num("momentum") <= 0.0 || o.num("dampening") != 0.0) {
                return Err((
                    "nesterov",
                    "Nesterov momentum requires a momentum and zero dampening".into(),
                ));
            }
            Ok(())
        },
        rule: Some(rules::sgd),
    },
    OptimizerKind {
        name: "Adam",
        spec: spec![
            num("lr", 1e-3),
            pair("betas", 0.9, 0.999),
            num("eps", 1e-8),
            num("weight_decay", 0.0),
            flag("amsgrad", false),
            flag("decoupled_weight_decay", false);
            "capturable", "fused"
        ],
        momentum: MomentumKey::Betas,
        state_keys: &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
        validate: adam_like,
        rule: Some(rules::adam),
    },
    OptimizerKind {
        name: "AdamW",
        spec: spec![
            num("lr", 1e-3),
            pair("betas", 0.9, 0.999),
            num("eps", 1e-8),
            num("weight_decay", 1e-2),
            flag("amsgrad", false),
            flag("decoupled_weight_decay", true);
            "capturable", "fused"
        ],
        momentum: MomentumKey::Betas,
        state_keys: &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
        validate: |o| {
            if !o.flag("decoupled_weight_decay") {
                return Err((
                    "decoupled_weight_decay",
                    "AdamW always decouples weight decay; use Adam for coupled decay".into(),
                ));
            }
            adam_like(o)
        },
        rule: Some(rules::adam),
    },
    OptimizerKind {
        name: "Adamax",
        spec: spec![num("lr", 2e-3), pair("betas", 0.9, 0.999), num("eps", 1e-8), num("weight_decay", 0.0); "capturable"],
        momentum: MomentumKey::Betas,
        state_keys: &["exp_avg", "exp_inf"],
        validate: adam_like,
        rule: Some(rules::adamax),
    },
    OptimizerKind {
        name: "NAdam",
        spec: spec![
            num("lr", 2e-3),
            pair("betas", 0.9, 0.999),
            num("eps", 1e-8),
            num("weight_decay", 0.0),
            num("momentum_decay", 4e-3),
            flag("decoupled_weight_decay", false);
            "capturable"
        ],
        momentum: MomentumKey::Betas,
        state_keys: &["exp_avg", "exp_avg_sq"],
        validate: |o| {
            adam_like(o)?;
            ge0(o, &["momentum_decay"])
        },
        rule: Some(rules::nadam),
    },
    OptimizerKind {
        name: "RAdam",
        spec: spec![
            num("lr", 1e-3),
            pair("betas", 0.9, 0.999),
            num("eps", 1e-8),
            num("weight_decay", 0.0),
            flag("decoupled_weight_decay", false);
            "capturable"
        ],
        momentum: MomentumKey::Betas,
        state_keys: &["exp_avg", "exp_avg_sq"],
        validate: adam_like,
        rule: Some(rules::radam),
    },
    OptimizerKind {
        name: "Adagrad",
        spec: spec![
            num("lr", 1e-2),
            num("lr_decay", 0.0),
            num("weight_decay", 0.0),
            num("initial_accumulator_value", 0.0),
            num("eps", 1e-10);
            "fused"
        ],
        momentum: MomentumKey::None,
        state_keys: &["sum"],
        validate: |o| {
            ge0(
                o,
                &[
                    "lr",
                    "lr_decay",
                    "weight_decay",
                    "initial_accumulator_value",
                    "eps",
                ],
            )
        },
        rule: Some(rules::adagrad),
    },
    OptimizerKind {
        name: "Adadelta",
        spec: spec![num("lr", 1.0), num("rho", 0.9), num("eps", 1e-6), num("weight_decay", 0.0); "capturable"],
        momentum: MomentumKey::None,
        state_keys: &["square_avg", "acc_delta"],
        validate: |o| {
            ge0(o, &["lr", "eps", "weight_decay"])?;
            let rho = o.num("rho");
            if !(0.0..=1.0).contains(&rho) {
                return Err((
                    "rho",
                    format!("Invalid rho value: {rho} (must be in [0, 1])"),
                ));
            }
            Ok(())
        },
        rule: Some(rules::adadelta),
    },
    OptimizerKind {
        name: "RMSprop",
        spec: spec![
            num("lr", 1e-2),
            num("alpha", 0.99),
            num("eps", 1e-8),
            num("weight_decay", 0.0),
            num("momentum", 0.0),
            flag("centered", false);
            "capturable"
        ],
        momentum: MomentumKey::Momentum,
        state_keys: &["square_avg", "momentum_buffer", "grad_avg"],
        validate: |o| ge0(o, &["lr", "alpha", "eps", "weight_decay", "momentum"]),
        rule: Some(rules::rmsprop),
    },
    OptimizerKind {
        name: "Rprop",
        spec: spec![num("lr", 1e-2), pair("etas", 0.5, 1.2), pair("step_sizes", 1e-6, 50.0); "capturable"],
        momentum: MomentumKey::None,
        state_keys: &["prev", "step_size"],
        validate: |o| {
            ge0(o, &["lr"])?;
            let (minus, plus) = o.pair("etas");
            if !(0.0 < minus && minus < 1.0 && 1.0 < plus) {
                return Err((
                    "etas",
                    format!(
                        "Invalid eta values: ({minus}, {plus}) (need 0 < etaminus < 1 < etaplus)"
                    ),
                ));
            }
            Ok(())
        },
        rule: Some(rules::rprop),
    },
    OptimizerKind {
        name: "ASGD",
        spec: spec![num("lr", 1e-2), num("lambd", 1e-4), num("alpha", 0.75), num("t0", 1e6), num("weight_decay", 0.0); "capturable"],
        momentum: MomentumKey::None,
        state_keys: &["ax"],
        validate: |o| ge0(o, &["lr", "weight_decay"]),
        rule: Some(rules::asgd),
    },
    OptimizerKind {
        name: "LBFGS",
        spec: &[
            num("lr", 1.0),
            num("max_iter", 20.0),
            OptSpec {
                name: "max_eval",
                kind: OptKind::OptNum,
                default: OptValue::None,
            },
            num("tolerance_grad", 1e-7),
            num("tolerance_change", 1e-9),
            num("history_size", 100.0),
            OptSpec {
                name: "line_search_fn",
                kind: OptKind::LineSearch,
                default: OptValue::None,
            },
        ],
        momentum: MomentumKey::None,
        state_keys: &[],
        validate: |o| {
            ge0(o, &["lr", "tolerance_grad", "tolerance_change"])?;
            for n in ["max_iter", "history_size"] {
                let v = o.num(n);
                if v < 1.0 || v.fract() != 0.0 {
                    return Err((n, format!("{n} must be a positive integer, not {v}")));
                }
            }
            Ok(())
        },
        rule: None,
    },
];

/// The kind named `name`.
pub fn kind(name: &str) -> Option<&'static OptimizerKind> {
    KINDS.iter().find(|k| k.name == name)
}
