//! Errors of the loop, the engine and hooks.

use std::fmt;

use thiserror::Error;

use crate::stage::Stage;

/// A failure on the tensor side (libtorch, data, files).
#[derive(Debug, Error)]
#[error("{message}")]
pub struct EngineError {
    /// What went wrong.
    pub message: String,
}

impl EngineError {
    /// An engine error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        EngineError {
            message: message.into(),
        }
    }
}

/// Where in the run something happened: stage and counters, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunPoint {
    /// The hook point.
    pub stage: Stage,
    /// 0-based epoch counter at that moment.
    pub epoch: u64,
    /// 0-based global iteration counter at that moment.
    pub iter: u64,
}

impl RunPoint {
    /// The 1-based epoch and iteration a user would name for this point. During a train
    /// iteration they are the ones in progress; elsewhere the counters have already moved on
    /// (after a train epoch the epoch counter is advanced for the val phase, as MMCV's
    /// `Epoch(val) [1]` shows, and `iter` counts the iterations done), so they are shown as
    /// they stand.
    pub fn shown(&self) -> (u64, u64) {
        let in_iteration = matches!(
            self.stage,
            Stage::BeforeTrainIter | Stage::AfterTrainIter | Stage::AfterBackward
        );
        let after_training =
            self.stage.is_val() || matches!(self.stage, Stage::AfterEpoch | Stage::AfterRun);
        if in_iteration {
            (self.epoch + 1, self.iter + 1)
        } else if after_training {
            (self.epoch.max(1), self.iter)
        } else {
            (self.epoch + 1, self.iter)
        }
    }
}

impl fmt::Display for RunPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (epoch, iter) = self.shown();
        write!(
            f,
            "in {} at epoch {epoch}, iteration {iter}",
            self.stage.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_after_the_last_epoch_name_that_epoch_and_the_iterations_done() {
        // A 1-epoch run of 5 iterations: the counters after the epoch are epoch 1, iter 5.
        for (stage, epoch, iter, said) in [
            (
                Stage::AfterTrainIter,
                0,
                4,
                "after_train_iter at epoch 1, iteration 5",
            ),
            (
                Stage::AfterTrainEpoch,
                0,
                5,
                "after_train_epoch at epoch 1, iteration 5",
            ),
            (
                Stage::AfterValIter,
                1,
                5,
                "after_val_iter at epoch 1, iteration 5",
            ),
            (Stage::AfterRun, 1, 5, "after_run at epoch 1, iteration 5"),
            (Stage::BeforeRun, 0, 0, "before_run at epoch 1, iteration 0"),
        ] {
            let point = RunPoint { stage, epoch, iter };
            assert_eq!(point.to_string(), format!("in {said}"));
        }
    }
}

/// A hook failed.
#[derive(Debug, Error)]
pub struct HookError {
    /// The hook's name (its type, or the plugin's name and file).
    pub hook: String,
    /// Where the run was, filled in by the runner.
    pub point: Option<RunPoint>,
    /// What went wrong.
    pub message: String,
}

impl HookError {
    /// A hook error; the runner adds the hook name and run point.
    pub fn new(message: impl Into<String>) -> Self {
        HookError {
            hook: String::new(),
            point: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hook {}", self.hook)?;
        if let Some(point) = &self.point {
            write!(f, " failed {point}")?;
        } else {
            f.write_str(" failed")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl From<EngineError> for HookError {
    fn from(e: EngineError) -> Self {
        HookError::new(e.message)
    }
}

impl From<std::io::Error> for HookError {
    fn from(e: std::io::Error) -> Self {
        HookError::new(e.to_string())
    }
}

/// Why a run stopped early with an error.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunError {
    /// A hook failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// The engine failed outside any hook (forward pass, data).
    #[error("{point}: {error}")]
    Engine {
        /// Where.
        point: RunPoint,
        /// What (shown in the message, not again as its cause).
        error: EngineError,
    },
    /// The user interrupted the run (Ctrl-C); the state was saved.
    #[error("interrupted {0}")]
    Interrupted(RunPoint),
    /// The configuration is inconsistent in a way only visible at run time.
    #[error("{0}")]
    Invalid(String),
    /// The ranks of a data-parallel run could not agree (another rank died, hung or left).
    #[error("{point}: rank {rank} lost the other ranks: {message}")]
    Ranks {
        /// Where.
        point: RunPoint,
        /// This process's rank.
        rank: usize,
        /// c10d's words.
        message: String,
    },
}

/// Shorthand for hook results.
pub type HookResult = Result<(), HookError>;
