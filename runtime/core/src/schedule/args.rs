//! The arguments each policy takes, as serde types with MMCV's names, and the reader that
//! checks them against the config's sources.

use serde::Deserialize;
use weft_config::{
    ConfigError, ErrorKind, Located, Node, Origin, Sources, Table, Value, from_node,
};

use super::parse::ScheduleKind;
use super::policy::{Anneal, Policy, StepSpec, Target};

pub(super) const LR_COMMON: [&str; 5] = [
    "by_epoch",
    "warmup",
    "warmup_iters",
    "warmup_ratio",
    "warmup_by_epoch",
];
pub(super) const MOMENTUM_COMMON: [&str; 4] =
    ["by_epoch", "warmup", "warmup_iters", "warmup_ratio"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Common {
    pub(super) by_epoch: Option<Located<bool>>,
    pub(super) warmup: Option<Located<String>>,
    pub(super) warmup_iters: Option<Located<u64>>,
    pub(super) warmup_ratio: Option<Located<f64>>,
    pub(super) warmup_by_epoch: Option<Located<bool>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum IntOrList {
    Int(i64),
    List(Vec<i64>),
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum NumOrList {
    Num(f64),
    List(Vec<f64>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LrStep {
    pub(super) step: Located<IntOrList>,
    pub(super) gamma: Option<f64>,
    pub(super) min_lr: Option<Located<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MomentumStep {
    pub(super) step: Located<IntOrList>,
    pub(super) gamma: Option<f64>,
    pub(super) min_momentum: Option<Located<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Gamma {
    pub(super) gamma: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolyArgs {
    pub(super) power: Option<f64>,
    pub(super) min_lr: Option<Located<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InvArgs {
    pub(super) gamma: f64,
    pub(super) power: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LrTarget {
    pub(super) min_lr: Option<Located<f64>>,
    pub(super) min_lr_ratio: Option<Located<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MomentumTarget {
    pub(super) min_momentum: Option<Located<f64>>,
    pub(super) min_momentum_ratio: Option<Located<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlatArgs {
    pub(super) start_percent: Option<Located<f64>>,
    pub(super) min_lr: Option<Located<f64>>,
    pub(super) min_lr_ratio: Option<Located<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RestartArgs {
    pub(super) periods: Located<Vec<u64>>,
    pub(super) restart_weights: Option<Located<Vec<f64>>>,
    pub(super) min_lr: Option<Located<f64>>,
    pub(super) min_lr_ratio: Option<Located<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CyclicArgs {
    pub(super) target_ratio: Option<Located<NumOrList>>,
    pub(super) cyclic_times: Option<Located<u64>>,
    pub(super) step_ratio_up: Option<Located<f64>>,
    pub(super) anneal_strategy: Option<Located<String>>,
    pub(super) gamma: Option<Located<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LrOneCycleArgs {
    pub(super) max_lr: Located<NumOrList>,
    pub(super) total_steps: Option<u64>,
    pub(super) pct_start: Option<Located<f64>>,
    pub(super) anneal_strategy: Option<Located<String>>,
    pub(super) div_factor: Option<f64>,
    pub(super) final_div_factor: Option<f64>,
    pub(super) three_phase: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MomentumOneCycleArgs {
    pub(super) base_momentum: Option<Located<NumOrList>>,
    pub(super) max_momentum: Option<Located<NumOrList>>,
    pub(super) pct_start: Option<Located<f64>>,
    pub(super) anneal_strategy: Option<Located<String>>,
    pub(super) three_phase: Option<bool>,
}

pub(super) struct Reader<'a> {
    pub(super) sources: &'a Sources,
    pub(super) kind: ScheduleKind,
}

impl Reader<'_> {
    pub(super) fn err(&self, origin: &Origin, message: impl Into<String>) -> ConfigError {
        ConfigError::at(ErrorKind::InvalidValue, message, origin, self.sources)
    }

    pub(super) fn read<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        origin: &Origin,
    ) -> Result<T, ConfigError> {
        let node = Node {
            value: Value::Table(table),
            origin: origin.clone(),
            key_origin: None,
        };
        from_node(&node, self.sources)
    }

    pub(super) fn step(&self, step: &Located<IntOrList>) -> Result<StepSpec, ConfigError> {
        let positive = |v: i64| u64::try_from(v).ok().filter(|v| *v > 0);
        match &step.value {
            IntOrList::Int(n) => positive(*n).map(StepSpec::Every).ok_or_else(|| {
                self.err(
                    &step.origin,
                    format!("step must be a positive integer, not {n}"),
                )
            }),
            IntOrList::List(ms) => ms
                .iter()
                .map(|m| positive(*m))
                .collect::<Option<Vec<_>>>()
                .map(StepSpec::Milestones)
                .ok_or_else(|| {
                    self.err(
                        &step.origin,
                        "every step milestone must be a positive integer",
                    )
                }),
        }
    }

    pub(super) fn target(
        &self,
        min: Option<Located<f64>>,
        ratio: Option<Located<f64>>,
        origin: &Origin,
    ) -> Result<Target, ConfigError> {
        let (min_key, ratio_key) = match self.kind {
            ScheduleKind::Lr => ("min_lr", "min_lr_ratio"),
            ScheduleKind::Momentum => ("min_momentum", "min_momentum_ratio"),
        };
        match (min, ratio) {
            (Some(m), None) => {
                self.finite_non_negative(&m, min_key)?;
                Ok(Target::Min(m.value))
            }
            (None, Some(r)) => {
                self.finite_non_negative(&r, ratio_key)?;
                Ok(Target::Ratio(r.value))
            }
            (Some(_), Some(r)) => Err(self.err(
                &r.origin,
                format!("give only one of `{min_key}` and `{ratio_key}`"),
            )),
            (None, None) => {
                Err(self.err(origin, format!("give one of `{min_key}` or `{ratio_key}`")))
            }
        }
    }

    pub(super) fn finite_non_negative(
        &self,
        v: &Located<f64>,
        key: &str,
    ) -> Result<(), ConfigError> {
        if !v.value.is_finite() || v.value < 0.0 {
            return Err(self.err(
                &v.origin,
                format!("{key} must be a finite number >= 0, not {}", v.value),
            ));
        }
        Ok(())
    }

    pub(super) fn anneal(&self, s: Option<Located<String>>) -> Result<Anneal, ConfigError> {
        match s {
            None => Ok(Anneal::Cos),
            Some(s) => match s.value.as_str() {
                "cos" => Ok(Anneal::Cos),
                "linear" => Ok(Anneal::Linear),
                other => Err(self.err(
                    &s.origin,
                    format!("anneal_strategy must be \"cos\" or \"linear\", not \"{other}\""),
                )),
            },
        }
    }

    pub(super) fn unit_fraction(
        &self,
        v: Option<Located<f64>>,
        default: f64,
        key: &str,
    ) -> Result<f64, ConfigError> {
        match v {
            None => Ok(default),
            Some(v) if (0.0..=1.0).contains(&v.value) => Ok(v.value),
            Some(v) => Err(self.err(
                &v.origin,
                format!("{key} must be between 0 and 1, not {}", v.value),
            )),
        }
    }

    pub(super) fn per_group(
        &self,
        v: Located<NumOrList>,
        key: &str,
    ) -> Result<Vec<f64>, ConfigError> {
        let values = match v.value {
            NumOrList::Num(n) => vec![n],
            NumOrList::List(l) if !l.is_empty() => l,
            NumOrList::List(_) => {
                return Err(self.err(&v.origin, format!("{key} must not be empty")));
            }
        };
        if values.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return Err(self.err(&v.origin, format!("{key} must hold finite numbers >= 0")));
        }
        Ok(values)
    }

    pub(super) fn cyclic(
        &self,
        args: CyclicArgs,
        default_ratio: (f64, f64),
    ) -> Result<Policy, ConfigError> {
        let target_ratio = match args.target_ratio {
            None => default_ratio,
            Some(r) => match &r.value {
                NumOrList::Num(x) => (*x, *x / 1e5),
                NumOrList::List(l) if l.len() == 1 => (l[0], l[0] / 1e5),
                NumOrList::List(l) if l.len() == 2 => (l[0], l[1]),
                NumOrList::List(l) => {
                    return Err(self.err(
                        &r.origin,
                        format!("target_ratio must be a number or a list of 1 or 2 numbers, not {} numbers", l.len()),
                    ));
                }
            },
        };
        let cyclic_times = match args.cyclic_times {
            None => 1,
            Some(c) if c.value >= 1 => c.value,
            Some(c) => return Err(self.err(&c.origin, "cyclic_times must be at least 1")),
        };
        let step_ratio_up = match args.step_ratio_up {
            None => 0.4,
            Some(s) if (0.0..1.0).contains(&s.value) => s.value,
            Some(s) => {
                return Err(self.err(
                    &s.origin,
                    format!("step_ratio_up must be in [0, 1), not {}", s.value),
                ));
            }
        };
        let gamma = match args.gamma {
            None => 1.0,
            Some(g) if g.value > 0.0 && g.value <= 1.0 => g.value,
            Some(g) => {
                return Err(self.err(
                    &g.origin,
                    format!("gamma must be in (0, 1], not {}", g.value),
                ));
            }
        };
        Ok(Policy::Cyclic {
            target_ratio,
            cyclic_times,
            step_ratio_up,
            anneal: self.anneal(args.anneal_strategy)?,
            gamma,
        })
    }
}
