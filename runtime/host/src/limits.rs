//! Per-plugin resource limits and failure policy, from a `custom_imports` entry.

use serde::Deserialize;

/// Resource limits of one plugin's instances.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest linear memory, in MiB (default 512: enough for a Python guest).
    #[serde(default = "memory_mb")]
    pub memory_mb: u64,
    /// Longest a single call may run, in milliseconds (default 10000, for interpreters).
    #[serde(default = "call_timeout_ms")]
    pub call_timeout_ms: u64,
    /// Fuel (instruction budget) per call; none means unlimited (deadline only).
    pub fuel: Option<u64>,
}

fn memory_mb() -> u64 {
    512
}

fn call_timeout_ms() -> u64 {
    10_000
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: memory_mb(),
            call_timeout_ms: call_timeout_ms(),
            fuel: None,
        }
    }
}

/// What a plugin failure does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop training with an error (after an emergency checkpoint).
    #[default]
    Abort,
    /// Drop the plugin, warn, and keep training.
    Disable,
}
