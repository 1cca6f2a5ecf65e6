//! What a hook may ask the runner to do.
//!
//! Native hooks and plugin hooks act on the run the same way: they queue [`Action`]s on the
//! [`crate::RunContext`] (a plugin through the WIT `runner` requests, which mirror this type
//! one to one), and the runner checks and applies them when the hook returns, in hook
//! priority order (`runner/actions.rs`). Keeping every change to the run in one type and one
//! applier is what lets a data-parallel run agree on an action in one place.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::context::RunContext;
use crate::engine::Scalar;
use crate::stage::Stage;

/// Longest `log-scalar` name, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// Longest stop reason kept, in bytes; longer ones are cut (a reason is printed in the log).
pub const MAX_REASON_LEN: usize = 1024;

/// One change a hook asks for.
#[derive(Debug, Clone)]
pub enum Action {
    /// Records a value for the loggers, averaged over the log interval like a loss
    /// (`log-scalar`).
    LogScalar {
        /// The key in the log (`loss_aux`, `time`).
        name: Cow<'static, str>,
        /// The value; a device value is read only when a logger averages it.
        value: Scalar,
    },
    /// Sets the learning rate of a parameter group (`set-lr`).
    SetLr {
        /// The group's index.
        group: usize,
        /// The new lr (finite, >= 0).
        lr: f64,
    },
    /// Sets the momentum, or Adam's `betas[0]`, of a group (`set-momentum`).
    SetMomentum {
        /// The group's index.
        group: usize,
        /// The new value (finite, >= 0).
        momentum: f64,
    },
    /// Stops training after the current iteration; `after_run` still runs (`request-stop`).
    Stop {
        /// Why, for the log.
        reason: String,
    },
    /// Saves a checkpoint once every hook of the current point has run (`request-checkpoint`).
    Checkpoint(SaveRequest),
    /// Runs the evaluation hook's evaluation when the hook returns (`request-eval`).
    Evaluate,
    /// Multiplies every gradient by a factor; only at `after_backward` (`scale-grads`).
    ScaleGrads {
        /// The factor (finite).
        factor: f64,
    },
    /// Skips this iteration's optimizer step; only at `after_backward` (`skip-step`).
    SkipStep,
}

/// A checkpoint to write. Writes are deferred to the end of the hook point that asked, so a
/// checkpoint holds the state after every hook of that point (an evaluation at LOW priority
/// included), whatever the priorities.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveRequest {
    /// Where to write; `None` names it `iter_{N}.safetensors` in the work dir, `N` being the
    /// iterations completed when it is written.
    pub path: Option<PathBuf>,
    /// Store optimizer state.
    pub with_optimizer: bool,
    /// Point `latest.safetensors` at it.
    pub link_latest: bool,
    /// Record it as `meta.hook_msgs.last_ckpt` after saving (CheckpointHook).
    pub record_as_last: bool,
    /// Files to delete after a successful save (old checkpoints beyond `max_keep_ckpts`, the
    /// previous best).
    pub remove_after: Vec<PathBuf>,
}

impl SaveRequest {
    /// What a plugin's `request-checkpoint` asks for: everything, named by the iterations
    /// completed, and `latest` pointing at it.
    pub fn requested() -> SaveRequest {
        SaveRequest {
            path: None,
            with_optimizer: true,
            link_latest: true,
            record_as_last: false,
            remove_after: Vec::new(),
        }
    }
}

impl Action {
    /// The action as a plugin trace shows it (WIT names; shortest round-trip numbers).
    pub fn traced(&self) -> String {
        match self {
            Action::LogScalar { name, value } => format!("log-scalar {name:?} {:?}", value.get()),
            Action::SetLr { group, lr } => format!("set-lr {group} {lr:?}"),
            Action::SetMomentum { group, momentum } => format!("set-momentum {group} {momentum:?}"),
            Action::Stop { reason } => format!("request-stop {reason:?}"),
            Action::Checkpoint(_) => "request-checkpoint".into(),
            Action::Evaluate => "request-eval".into(),
            Action::ScaleGrads { factor } => format!("scale-grads {factor:?}"),
            Action::SkipStep => "skip-step".into(),
        }
    }

    /// Whether the action may be taken at `stage` in the state `ctx` is in; the message
    /// says why not. Plugins' requests are checked when made (so the call that made a bad
    /// one fails), every action again when applied.
    pub fn check(&self, stage: Stage, ctx: &RunContext) -> Result<(), String> {
        match self {
            Action::LogScalar { name, value } => {
                if name.is_empty()
                    || name.len() > MAX_NAME_LEN
                    || name.chars().any(char::is_control)
                {
                    return Err(format!(
                        "log-scalar: the name must be 1-{MAX_NAME_LEN} printable characters, got {} bytes",
                        name.len()
                    ));
                }
                // A device value is checked by whoever reads it; reading it here would wait
                // for the device at every iteration.
                match value.cached() {
                    Some(v) if !v.is_finite() => Err(format!(
                        "log-scalar({name}): the value must be finite, got {v}"
                    )),
                    _ => Ok(()),
                }
            }
            Action::SetLr { group, lr } => {
                check_group(ctx, "set-lr", *group)?;
                check_value(&format!("set-lr(group {group})"), *lr)
            }
            Action::SetMomentum { group, momentum } => {
                check_group(ctx, "set-momentum", *group)?;
                check_value(&format!("set-momentum(group {group})"), *momentum)?;
                if ctx.engine.param_groups()[*group].momentum.is_some() {
                    Ok(())
                } else {
                    Err(format!(
                        "set-momentum: group {group}'s optimizer has no momentum"
                    ))
                }
            }
            Action::Stop { .. } | Action::Checkpoint(_) => Ok(()),
            Action::Evaluate => {
                if stage.is_val() {
                    Err(format!(
                        "request-eval is not allowed during validation ({stage})"
                    ))
                } else {
                    Ok(())
                }
            }
            Action::ScaleGrads { factor } => {
                only_after_backward(stage, "scale-grads")?;
                if factor.is_finite() {
                    Ok(())
                } else {
                    Err(format!(
                        "scale-grads: the factor must be finite, got {factor}"
                    ))
                }
            }
            Action::SkipStep => only_after_backward(stage, "skip-step"),
        }
    }
}

fn check_value(what: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!("{what} must be finite and >= 0, got {v}"))
    }
}

fn check_group(ctx: &RunContext, what: &str, group: usize) -> Result<(), String> {
    let n = ctx.engine.param_groups().len();
    if group < n {
        Ok(())
    } else {
        Err(format!(
            "{what}: group {group} is out of range (the optimizer has {n} group{})",
            if n == 1 { "" } else { "s" }
        ))
    }
}

fn only_after_backward(stage: Stage, what: &str) -> Result<(), String> {
    if stage == Stage::AfterBackward {
        Ok(())
    } else {
        Err(format!(
            "{what} is only allowed at after_backward, not at {stage}"
        ))
    }
}

/// Cuts `text` to at most `max` bytes at a character boundary, marking the cut.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}
