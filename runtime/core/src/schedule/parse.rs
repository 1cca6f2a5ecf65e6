//! Reading `lr_config` and `momentum_config` with MMCV's names, defaults and checks.

use serde::Deserialize;
use weft_config::{ConfigError, ErrorKind, Node, Sources, Table};

use super::Schedule;
use super::args::{
    Common, FlatArgs, Gamma, InvArgs, LR_COMMON, LrOneCycleArgs, LrStep, LrTarget, MOMENTUM_COMMON,
    MomentumOneCycleArgs, MomentumStep, MomentumTarget, PolyArgs, Reader, RestartArgs,
};
use super::policy::{OneCycle, Policy};
use super::warmup::{Warmup, WarmupKind};
use crate::context::RunnerKind;

/// What a schedule drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    /// `lr_config`.
    Lr,
    /// `momentum_config`.
    Momentum,
}

impl ScheduleKind {
    fn suffix(self) -> &'static str {
        match self {
            ScheduleKind::Lr => "LrUpdaterHook",
            ScheduleKind::Momentum => "MomentumUpdaterHook",
        }
    }

    fn key(self) -> &'static str {
        match self {
            ScheduleKind::Lr => "lr_config",
            ScheduleKind::Momentum => "momentum_config",
        }
    }

    /// The policies MMCV has for this kind.
    pub fn policies(self) -> &'static [&'static str] {
        match self {
            ScheduleKind::Lr => &[
                "Fixed",
                "Step",
                "Exp",
                "Poly",
                "Inv",
                "CosineAnnealing",
                "FlatCosineAnnealing",
                "CosineRestart",
                "Cyclic",
                "OneCycle",
                "LinearAnnealing",
            ],
            ScheduleKind::Momentum => &[
                "Step",
                "CosineAnnealing",
                "LinearAnnealing",
                "Cyclic",
                "OneCycle",
            ],
        }
    }
}

/// MMCV's policy-name rule: an all-lowercase name is title-cased (`step` → `Step`), anything
/// else is used as written, so `cosineannealing` and `STEP` are not found.
pub fn policy_class_name(policy: &str) -> String {
    if policy == policy.to_lowercase() {
        python_title(policy)
    } else {
        policy.to_string()
    }
}

/// Python's `str.title()`: upper-case the first letter of each run of letters.
fn python_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if c.is_alphabetic() {
            if prev_letter {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            prev_letter = true;
        } else {
            out.push(c);
            prev_letter = false;
        }
    }
    out
}

/// Reads `lr_config`.
pub fn parse_lr_config(
    node: &Node,
    sources: &Sources,
    runner: RunnerKind,
) -> Result<Schedule, ConfigError> {
    parse(node, sources, runner, ScheduleKind::Lr)
}

/// Reads `momentum_config`.
pub fn parse_momentum_config(
    node: &Node,
    sources: &Sources,
    runner: RunnerKind,
) -> Result<Schedule, ConfigError> {
    parse(node, sources, runner, ScheduleKind::Momentum)
}

fn parse(
    node: &Node,
    sources: &Sources,
    runner: RunnerKind,
    kind: ScheduleKind,
) -> Result<Schedule, ConfigError> {
    let r = Reader { sources, kind };
    let Some(table) = node.as_table() else {
        return Err(r.err(&node.origin, format!("`{}` must be a table", kind.key())));
    };
    let Some(policy_node) = table.get("policy") else {
        return Err(ConfigError::at(
            ErrorKind::MissingKey,
            format!("`{}` needs a `policy`", kind.key()),
            &node.origin,
            sources,
        )
        .with_help(format!("one of: {}", kind.policies().join(", "))));
    };
    let Some(policy) = policy_node.as_str() else {
        return Err(r.err(&policy_node.origin, "`policy` must be a string"));
    };
    let name = policy_class_name(policy);
    if !kind.policies().contains(&name.as_str()) {
        let classes: Vec<String> = kind
            .policies()
            .iter()
            .map(|p| format!("{p}{}", kind.suffix()))
            .collect();
        let class = format!("{name}{}", kind.suffix());
        let mut err =
            weft_config::unknown_name_error("hook", &class, classes.iter().map(String::as_str));
        let lower: Vec<String> = kind.policies().iter().map(|p| p.to_lowercase()).collect();
        let hint = weft_config::closest(policy, kind.policies().iter().copied()).or_else(|| {
            weft_config::closest(policy, lower.iter().map(String::as_str)).and_then(|l| {
                kind.policies()
                    .iter()
                    .copied()
                    .find(|p| p.to_lowercase() == l)
            })
        });
        err.help = Some(format!(
            "policy names are matched as MMCV does: an all-lowercase name is title-cased (\"step\" -> \"Step\"), anything else is used as written; {}known policies: {}",
            hint.map(|h| format!("write \"{h}\"; ")).unwrap_or_default(),
            kind.policies().join(", ")
        ));
        return Err(err.with_location(sources.locate(&policy_node.origin)));
    }
    let common_keys: &[&str] = match kind {
        ScheduleKind::Lr => &LR_COMMON,
        ScheduleKind::Momentum => &MOMENTUM_COMMON,
    };
    let mut common_table = Table::new();
    let mut rest = Table::new();
    for (k, v) in table {
        if k == "policy" {
            continue;
        }
        if common_keys.contains(&k.as_str()) {
            common_table.insert(k.clone(), v.clone());
        } else {
            rest.insert(k.clone(), v.clone());
        }
    }
    let common: Common = r.read(common_table, &node.origin)?;
    let iter_only = matches!(name.as_str(), "Cyclic" | "OneCycle");
    let by_epoch = match (&common.by_epoch, iter_only) {
        (Some(b), true) if b.value => {
            return Err(r.err(
                &b.origin,
                format!("the {name} policy only supports by_epoch = false"),
            ));
        }
        (Some(b), _) => b.value,
        (None, true) => false,
        // The iteration-based runner defaults lr_config (not momentum_config) to by_epoch = false,
        // as MMCV's IterBasedRunner.register_training_hooks does.
        (None, false) => !(runner == RunnerKind::IterBased && kind == ScheduleKind::Lr),
    };
    let warmup = parse_warmup(&r, &common, node, runner)?;
    let origin = &node.origin;
    let policy = match (kind, name.as_str()) {
        (ScheduleKind::Lr, "Fixed") => {
            r.read::<Empty>(rest, origin)?;
            Policy::Fixed
        }
        (ScheduleKind::Lr, "Step") => {
            let a: LrStep = r.read(rest, origin)?;
            if let Some(m) = &a.min_lr {
                r.finite_non_negative(m, "min_lr")?;
            }
            Policy::Step {
                step: r.step(&a.step)?,
                gamma: a.gamma.unwrap_or(0.1),
                min: a.min_lr.map(|m| m.value),
            }
        }
        (ScheduleKind::Momentum, "Step") => {
            let a: MomentumStep = r.read(rest, origin)?;
            Policy::Step {
                step: r.step(&a.step)?,
                gamma: a.gamma.unwrap_or(0.5),
                min: a.min_momentum.map(|m| m.value),
            }
        }
        (ScheduleKind::Lr, "Exp") => Policy::Exp {
            gamma: r.read::<Gamma>(rest, origin)?.gamma,
        },
        (ScheduleKind::Lr, "Poly") => {
            let a: PolyArgs = r.read(rest, origin)?;
            if let Some(m) = &a.min_lr {
                r.finite_non_negative(m, "min_lr")?;
            }
            Policy::Poly {
                power: a.power.unwrap_or(1.0),
                min: a.min_lr.map_or(0.0, |m| m.value),
            }
        }
        (ScheduleKind::Lr, "Inv") => {
            let a: InvArgs = r.read(rest, origin)?;
            Policy::Inv {
                gamma: a.gamma,
                power: a.power.unwrap_or(1.0),
            }
        }
        (ScheduleKind::Lr, "CosineAnnealing" | "LinearAnnealing") => {
            let a: LrTarget = r.read(rest, origin)?;
            let target = r.target(a.min_lr, a.min_lr_ratio, origin)?;
            if name == "CosineAnnealing" {
                Policy::CosineAnnealing { target }
            } else {
                Policy::LinearAnnealing { target }
            }
        }
        (ScheduleKind::Momentum, "CosineAnnealing" | "LinearAnnealing") => {
            let a: MomentumTarget = r.read(rest, origin)?;
            let target = r.target(a.min_momentum, a.min_momentum_ratio, origin)?;
            if name == "CosineAnnealing" {
                Policy::CosineAnnealing { target }
            } else {
                Policy::LinearAnnealing { target }
            }
        }
        (ScheduleKind::Lr, "FlatCosineAnnealing") => {
            let a: FlatArgs = r.read(rest, origin)?;
            Policy::FlatCosineAnnealing {
                start_percent: r.unit_fraction(a.start_percent, 0.75, "start_percent")?,
                target: r.target(a.min_lr, a.min_lr_ratio, origin)?,
            }
        }
        (ScheduleKind::Lr, "CosineRestart") => {
            let a: RestartArgs = r.read(rest, origin)?;
            if a.periods.value.is_empty() || a.periods.value.contains(&0) {
                return Err(r.err(
                    &a.periods.origin,
                    "periods must be a non-empty list of positive integers",
                ));
            }
            let weights = match a.restart_weights {
                Some(w) => {
                    if w.value.len() != a.periods.value.len() {
                        return Err(r.err(
                            &w.origin,
                            format!(
                                "restart_weights has {} entries but periods has {}; they must match",
                                w.value.len(),
                                a.periods.value.len()
                            ),
                        ));
                    }
                    w.value
                }
                None if a.periods.value.len() == 1 => vec![1.0],
                None => {
                    return Err(r.err(
                        &a.periods.origin,
                        "restart_weights (default [1]) must have one entry per period",
                    ));
                }
            };
            Policy::CosineRestart {
                periods: a.periods.value,
                restart_weights: weights,
                target: r.target(a.min_lr, a.min_lr_ratio, origin)?,
            }
        }
        (ScheduleKind::Lr, "Cyclic") => r.cyclic(r.read(rest, origin)?, (10.0, 1e-4))?,
        (ScheduleKind::Momentum, "Cyclic") => {
            r.cyclic(r.read(rest, origin)?, (0.85 / 0.95, 1.0))?
        }
        (ScheduleKind::Lr, "OneCycle") => {
            let a: LrOneCycleArgs = r.read(rest, origin)?;
            Policy::OneCycle(OneCycle {
                max: r.per_group(a.max_lr, "max_lr")?,
                base: Vec::new(),
                total_steps: a.total_steps,
                pct_start: r.unit_fraction(a.pct_start, 0.3, "pct_start")?,
                anneal: r.anneal(a.anneal_strategy)?,
                div_factor: a.div_factor.unwrap_or(25.0),
                final_div_factor: a.final_div_factor.unwrap_or(1e4),
                three_phase: a.three_phase.unwrap_or(false),
            })
        }
        (ScheduleKind::Momentum, "OneCycle") => {
            let a: MomentumOneCycleArgs = r.read(rest, origin)?;
            let base = match a.base_momentum {
                Some(v) => r.per_group(v, "base_momentum")?,
                None => vec![0.85],
            };
            let max = match a.max_momentum {
                Some(v) => r.per_group(v, "max_momentum")?,
                None => vec![0.95],
            };
            Policy::OneCycle(OneCycle {
                max,
                base,
                total_steps: None,
                pct_start: r.unit_fraction(a.pct_start, 0.3, "pct_start")?,
                anneal: r.anneal(a.anneal_strategy)?,
                div_factor: 25.0,
                final_div_factor: 1e4,
                three_phase: a.three_phase.unwrap_or(false),
            })
        }
        _ => unreachable!("checked against the policy list"),
    };
    Ok(Schedule {
        kind,
        class_name: format!("{name}{}", kind.suffix()),
        policy,
        by_epoch,
        warmup,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

fn parse_warmup(
    r: &Reader<'_>,
    c: &Common,
    node: &Node,
    runner: RunnerKind,
) -> Result<Option<Warmup>, ConfigError> {
    let Some(kind) = &c.warmup else {
        return Ok(None);
    };
    let warmup_kind = match kind.value.as_str() {
        "constant" => WarmupKind::Constant,
        "linear" => WarmupKind::Linear,
        "exp" => WarmupKind::Exp,
        other => {
            return Err(r.err(
                &kind.origin,
                format!("\"{other}\" is not a supported warmup type; use \"constant\", \"linear\" or \"exp\""),
            ));
        }
    };
    let iters = match &c.warmup_iters {
        Some(w) if w.value > 0 => w.value,
        Some(w) => return Err(r.err(&w.origin, "warmup_iters must be a positive integer")),
        None => return Err(r.err(&node.origin, "warmup needs `warmup_iters` > 0")),
    };
    let default_ratio = match r.kind {
        ScheduleKind::Lr => 0.1,
        ScheduleKind::Momentum => 0.9,
    };
    let ratio = match &c.warmup_ratio {
        None => default_ratio,
        Some(v) if v.value > 0.0 && v.value <= 1.0 => v.value,
        Some(v) => {
            return Err(r.err(
                &v.origin,
                format!("warmup_ratio must be in (0, 1], not {}", v.value),
            ));
        }
    };
    let by_epoch = match &c.warmup_by_epoch {
        Some(b) if b.value && runner == RunnerKind::IterBased => {
            return Err(r.err(
                &b.origin,
                "warmup_by_epoch needs the epoch-based runner (the iteration-based runner has no epochs to count)",
            ));
        }
        Some(b) => b.value,
        None => false,
    };
    Ok(Some(Warmup {
        kind: warmup_kind,
        iters,
        ratio,
        by_epoch,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_follow_mmcv_title_rule() {
        assert_eq!(policy_class_name("step"), "Step");
        assert_eq!(policy_class_name("cyclic"), "Cyclic");
        assert_eq!(policy_class_name("CosineAnnealing"), "CosineAnnealing");
        assert_eq!(policy_class_name("cosineannealing"), "Cosineannealing");
        assert_eq!(policy_class_name("STEP"), "STEP");
        assert_eq!(policy_class_name("cos_annealing"), "Cos_Annealing");
    }
}
