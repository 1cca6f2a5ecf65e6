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

impl fmt::Display for RunPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "in {} at epoch {}, iteration {}",
            self.stage.name(),
            self.epoch + 1,
            self.iter + 1
        )
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
    #[error("{point}: {source}")]
    Engine {
        /// Where.
        point: RunPoint,
        /// What.
        source: EngineError,
    },
    /// The user interrupted the run (Ctrl-C); the state was saved.
    #[error("interrupted {0}")]
    Interrupted(RunPoint),
    /// The configuration is inconsistent in a way only visible at run time.
    #[error("{0}")]
    Invalid(String),
}

/// Shorthand for hook results.
pub type HookResult = Result<(), HookError>;
