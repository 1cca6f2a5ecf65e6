//! The data of a plugin's store: WASI context, resource table, limits, captured output, and
//! the state of the call in progress.

use std::collections::HashSet;
use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use weft_core::plugin::{GradView, StepView};
use weft_core::{Action, Level, RunContext, RunLog, Stage};

use crate::budget::{Budget, escape};
use crate::output::Capture;
use crate::trace::Trace;

/// The `run-state` resource: a marker; what it reads lives in [`CallState`].
pub struct RunState;

/// The hook call in progress: the runner's context, read in place, and the requests queued
/// so far.
pub struct CallState {
    /// The hook point the runner called.
    pub stage: Stage,
    /// The runner's context for the duration of the call (see [`CallState::ctx`]).
    ctx: *const RunContext,
    /// Requests made so far, checked as they were made.
    pub actions: Vec<Action>,
    /// The first invalid request, which fails the call once it returns.
    pub rejected: Option<String>,
    /// The gradients, fetched on first use at `after-backward`.
    grads: Option<Option<Box<dyn GradView>>>,
}

// SAFETY: the pointer is only dereferenced on the thread that runs the call, while the
// `&mut RunContext` it was made from is parked in `hook::WasmHook::call` (see `ctx`).
#[allow(unsafe_code, reason = "see the SAFETY note")]
unsafe impl Send for CallState {}

impl CallState {
    /// A call at `stage` over `ctx`. The caller must keep `ctx` borrowed and unused until the
    /// call state is taken back out of the store, which `WasmHook::call` does on every path.
    pub fn new(stage: Stage, ctx: &RunContext) -> CallState {
        CallState {
            stage,
            ctx: ctx as *const RunContext,
            actions: Vec::new(),
            rejected: None,
            grads: None,
        }
    }

    /// The runner's context, read-only. Reading it in place (rather than copying lr lists,
    /// outputs and metrics into every call) keeps a hook call near the bare call cost.
    pub fn ctx(&self) -> &RunContext {
        // SAFETY: `new` documents the contract: the context outlives the call state, and is
        // neither moved nor mutated while the guest runs (the host is single-threaded and
        // applies requests only after the call returns).
        #[allow(unsafe_code, reason = "see the SAFETY note")]
        unsafe {
            &*self.ctx
        }
    }

    /// The gradients, at `after-backward` only.
    pub fn grads(&mut self) -> Option<&dyn GradView> {
        if self.stage != Stage::AfterBackward {
            return None;
        }
        if self.grads.is_none() {
            let view = self.ctx().engine.grad_view();
            self.grads = Some(view);
        }
        self.grads.as_ref().and_then(|g| g.as_deref())
    }

    /// Records the first invalid request.
    pub fn reject(&mut self, message: String) {
        if self.rejected.is_none() {
            self.rejected = Some(message);
        }
    }
}

/// Everything a plugin's store holds.
pub struct HostState {
    /// WASI: no preopens, environment or network unless granted.
    pub wasi: WasiCtx,
    /// Resources handed to the guest.
    pub table: ResourceTable,
    /// Memory cap.
    pub limits: StoreLimits,
    /// The plugin's type name, for log lines.
    pub plugin: Arc<str>,
    /// The run log.
    pub log: RunLog,
    /// Guest stdout.
    pub stdout: Capture,
    /// Guest stderr.
    pub stderr: Capture,
    /// The hook call in progress.
    pub call: Option<CallState>,
    /// The optimizer step in progress.
    pub step: Option<Box<dyn StepView>>,
    /// Live tensor handles (bounded).
    pub handles: usize,
    /// Bytes the live tensor handles hold, and the most they may (set at the first step).
    pub tensor_bytes: u64,
    /// See [`HostState::tensor_bytes`].
    pub tensor_limit: Option<u64>,
    /// The watchdog tick at which the call in progress must end, and its budget in ms (for
    /// the message).
    pub deadline: Option<(u64, u64)>,
    /// What the current call may still write into the run's log.
    pub budget: Budget,
    /// The names the plugin logged scalars under so far (bounded).
    pub scalar_names: HashSet<String>,
    /// The plugin's trace, if its entry asked for one.
    pub trace: Option<Arc<Trace>>,
}

fn level_name(level: weft_core::Level) -> &'static str {
    match level {
        weft_core::Level::Info => "info",
        weft_core::Level::Warning => "warning",
        weft_core::Level::Error => "error",
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HostState {
    /// Resets per-call budgets before a call.
    pub fn begin_call(&mut self, deadline: u64, timeout_ms: u64) {
        self.budget = Budget::default();
        self.deadline = Some((deadline, timeout_ms));
    }

    /// Fails a host call that runs past the call's deadline, in the words of the epoch
    /// deadline (which interrupts only guest code).
    pub fn check_deadline(&self) -> wasmtime::Result<()> {
        match self.deadline {
            Some((at, ms)) if crate::watchdog::ticks() >= at => wasmtime::bail!(
                "stopped at its deadline of {ms} ms per call (limits.call_timeout_ms), inside a host call"
            ),
            _ => Ok(()),
        }
    }

    /// Says once per call that the call's output was cut.
    fn announce_cut(&mut self) {
        if !self.budget.announced {
            self.budget.announced = true;
            self.log.warn(&format!(
                "[{}] further output of this call dropped (more than {} KiB)",
                self.plugin,
                crate::budget::CALL_BUDGET / 1024
            ));
        }
    }

    /// A `log` import: a line in the run log under the plugin's name, within the budget.
    pub fn log_line(&mut self, level: weft_core::Level, debug: bool, message: &str) {
        if let Some(t) = &self.trace {
            let name = if debug { "debug" } else { level_name(level) };
            t.line(&format!("  log {name} {message:?}"));
        }
        if !self.budget.take_line(message.len()) {
            self.announce_cut();
            return;
        }
        let tag = if debug { " debug:" } else { "" };
        self.log.write(
            level,
            &format!("[{}]{tag} {}", self.plugin, escape(message)),
        );
    }

    /// Copies what the guest wrote to stdout and stderr into the run log, line by line,
    /// escaped and within the call's budget; returns stderr (for failure messages).
    pub fn flush_output(&mut self) -> String {
        let (out, out_dropped) = self.stdout.drain();
        let (err, err_dropped) = self.stderr.drain();
        for (text, level) in [(&out, Level::Info), (&err, Level::Warning)] {
            for line in text.lines().filter(|l| !l.is_empty()) {
                if !self.budget.take_line(line.len()) {
                    self.announce_cut();
                    break;
                }
                self.log
                    .write(level, &format!("[{}] {}", self.plugin, escape(line)));
            }
        }
        for (dropped, stream) in [(out_dropped, "stdout"), (err_dropped, "stderr")] {
            if dropped > 0 {
                self.log.warn(&format!(
                    "[{}] {dropped} bytes of {stream} dropped (more than {} KiB in one call)",
                    self.plugin,
                    crate::output::CAPACITY / 1024
                ));
            }
        }
        err
    }
}
