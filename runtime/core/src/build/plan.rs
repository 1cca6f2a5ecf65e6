//! The runner plan: which runner, for how long, over which workflow, and which splits the
//! run reads.

use weft_config::schema::{Phase, RunConfig, WorkflowStage};
use weft_config::{Config, ConfigError, ErrorKind, Origin, unknown_name_error};

use crate::context::RunnerKind;
use crate::engine::Split;

/// Which runner, for how long, over which workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// The runner.
    pub runner: RunnerKind,
    /// Epochs (epoch-based) or iterations (iteration-based).
    pub max: u64,
    /// The workflow.
    pub workflow: Vec<WorkflowStage>,
    /// The split the evaluation hook scores, if the config evaluates.
    pub evaluates: Option<Split>,
}

impl RunPlan {
    /// Whether the run reads `data.val` (a `val` workflow phase, or evaluation on it).
    pub fn needs_val(&self) -> bool {
        self.workflow.iter().any(|s| s.0 == Phase::Val) || self.evaluates == Some(Split::Val)
    }

    /// Whether the run reads `data.test` (evaluation on it).
    pub fn needs_test(&self) -> bool {
        self.evaluates == Some(Split::Test)
    }
}

/// Reads `runner`, `total_epochs` and `workflow`.
pub fn plan(cfg: &Config, rc: &RunConfig) -> Result<RunPlan, ConfigError> {
    let invalid = |msg: String, origin: &Origin| cfg.error_at(ErrorKind::InvalidValue, msg, origin);
    let (runner, max) = match &rc.runner {
        Some(r) => match r.kind.value.as_str() {
            "EpochBasedRunner" => {
                if let Some(m) = &r.max_iters {
                    return Err(invalid(
                        "EpochBasedRunner counts epochs: use `max_epochs`, not `max_iters`".into(),
                        &m.origin,
                    ));
                }
                let max = match (&r.max_epochs, &rc.total_epochs) {
                    (Some(m), Some(t)) if m.value != t.value => {
                        return Err(invalid(
                            format!(
                                "runner.max_epochs ({}) and total_epochs ({}) disagree",
                                m.value, t.value
                            ),
                            &t.origin,
                        ));
                    }
                    (Some(m), _) => m.value,
                    (None, Some(t)) => t.value,
                    (None, None) => {
                        return Err(invalid(
                            "EpochBasedRunner needs `max_epochs`".into(),
                            &r.kind.origin,
                        ));
                    }
                };
                (RunnerKind::EpochBased, max)
            }
            "IterBasedRunner" => {
                if let Some(m) = &r.max_epochs {
                    return Err(invalid(
                        "IterBasedRunner counts iterations: use `max_iters`, not `max_epochs`"
                            .into(),
                        &m.origin,
                    ));
                }
                let Some(m) = &r.max_iters else {
                    return Err(invalid(
                        "IterBasedRunner needs `max_iters`".into(),
                        &r.kind.origin,
                    ));
                };
                (RunnerKind::IterBased, m.value)
            }
            other => {
                return Err(unknown_name_error(
                    "runner",
                    other,
                    ["EpochBasedRunner", "IterBasedRunner"],
                )
                .with_location(cfg.sources().locate(&r.kind.origin)));
            }
        },
        None => match &rc.total_epochs {
            Some(t) => (RunnerKind::EpochBased, t.value),
            None => {
                return Err(ConfigError::new(
                    ErrorKind::MissingKey,
                    "the config sets neither `runner` nor `total_epochs`",
                )
                .with_help("add `runner = { type = \"EpochBasedRunner\", max_epochs = 12 }` or `total_epochs = 12`"));
            }
        },
    };
    if max == 0 {
        return Err(ConfigError::new(
            ErrorKind::InvalidValue,
            "the run length (max_epochs / max_iters) must be at least 1",
        ));
    }
    let workflow = match &rc.workflow {
        None => vec![WorkflowStage(Phase::Train, 1)],
        Some(w) => {
            if !w.value.iter().any(|s| s.0 == Phase::Train) {
                return Err(invalid(
                    "the workflow needs a `train` phase".into(),
                    &w.origin,
                ));
            }
            if w.value.iter().any(|s| s.1 == 0) {
                return Err(invalid(
                    "every workflow phase must run at least once".into(),
                    &w.origin,
                ));
            }
            w.value.clone()
        }
    };
    let evaluates = match &rc.evaluation {
        Some(ec) => Some(super::evaluation_split(cfg, ec)?),
        None => None,
    };
    Ok(RunPlan {
        runner,
        max,
        workflow,
        evaluates,
    })
}
