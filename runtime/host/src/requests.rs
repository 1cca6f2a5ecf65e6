//! Requests a hook makes during a call: checked by the runner's own rules at the point of
//! the call, bounded, traced, and handed to the runner when the call returns; and the
//! failure a hook reports through `runner.fail` (0.3.0).

use weft_core::Action;

use crate::budget::MAX_REQUESTS_PER_CALL;
use crate::state::{CallState, HostState};

impl HostState {
    pub(crate) fn call(&mut self) -> wasmtime::Result<&mut CallState> {
        match self.call.as_mut() {
            Some(c) => Ok(c),
            None => wasmtime::bail!("the run state was used outside a hook call"),
        }
    }

    /// Queues a request, checked by the runner's own rules at the point of the call, or
    /// records why it is rejected.
    pub(crate) fn queue(&mut self, action: Action) -> wasmtime::Result<()> {
        let call = self
            .call
            .as_mut()
            .ok_or_else(|| wasmtime::format_err!("the run state was used outside a hook call"))?;
        let checked = if call.actions.len() >= MAX_REQUESTS_PER_CALL {
            Err(format!(
                "more than {MAX_REQUESTS_PER_CALL} requests in one call"
            ))
        } else {
            action.check(call.stage, call.ctx())
        };
        if let Some(t) = &self.trace {
            match &checked {
                Ok(()) => t.line(&format!("  {}", action.traced())),
                Err(m) => t.line(&format!("  rejected {m:?}")),
            }
        }
        match checked {
            Ok(()) => call.actions.push(action),
            Err(m) => call.reject(m),
        }
        Ok(())
    }
}

/// A hook's own report of failure (`runner.fail`), carried out of the guest as the error that
/// traps it, so that the guest stops where it failed. [`crate::plugin::Plugin::fault`] shows
/// it as the plugin's message, like an `err` returned by an older version's export, rather
/// than as a trap.
#[derive(Debug)]
pub(crate) struct Failed(pub String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failed {}
