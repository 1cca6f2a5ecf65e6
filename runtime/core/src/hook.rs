//! The hook trait: MMCV 1.x's hook points with its generic fallbacks.
//!
//! As in MMCV, `before_train_epoch` and `before_val_epoch` fall back to `before_epoch`, the
//! iteration stages to `before_iter`/`after_iter`, and so on, so a hook that overrides
//! `after_iter` runs after train and val iterations alike. Rust cannot see which methods a
//! type overrides, so each hook also declares [`Hook::stages`]: the runner calls only those
//! (which is how MMCV's `get_hook_info` and the oracles list "the hooks that run").

use crate::context::RunContext;
use crate::error::HookResult;
use crate::stage::{Stage, StageSet};

/// A participant in the training loop.
///
/// Every method has a no-op default. Methods receive the whole [`RunContext`]: counters,
/// log buffer, metadata and the [`crate::Engine`].
pub trait Hook: Send {
    /// The hook's name as shown in logs and errors (MMCV shows the class name).
    fn name(&self) -> &str;

    /// The priority of a `custom_hooks` entry of this type that gives none (MMCV and
    /// MMEngine hooks carry a class priority; most are NORMAL).
    fn default_priority(&self) -> crate::Priority {
        crate::Priority::NORMAL
    }

    /// The stages this hook acts on; the runner calls no others.
    fn stages(&self) -> StageSet {
        StageSet::all()
    }

    /// Whether this is a logger hook (the last one clears the log output after logging, as
    /// MMCV's `LoggerHook.before_run` arranges with `reset_flag`).
    fn is_logger(&self) -> bool {
        false
    }

    /// Called on the last logger hook before the run starts.
    fn set_reset_flag(&mut self) {}

    /// Once, before training.
    fn before_run(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Once, after training.
    fn after_run(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Generic fallback of `before_train_epoch`/`before_val_epoch`.
    fn before_epoch(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Generic fallback of `after_train_epoch`/`after_val_epoch`.
    fn after_epoch(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Generic fallback of `before_train_iter`/`before_val_iter`.
    fn before_iter(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Generic fallback of `after_train_iter`/`after_val_iter`.
    fn after_iter(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Before a train epoch.
    fn before_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.before_epoch(ctx)
    }
    /// After a train epoch.
    fn after_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.after_epoch(ctx)
    }
    /// Before a val epoch.
    fn before_val_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.before_epoch(ctx)
    }
    /// After a val epoch.
    fn after_val_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        self.after_epoch(ctx)
    }
    /// Before a train iteration.
    fn before_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        self.before_iter(ctx)
    }
    /// After a train iteration's forward pass.
    fn after_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        self.after_iter(ctx)
    }
    /// Before a val iteration.
    fn before_val_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        self.before_iter(ctx)
    }
    /// After a val iteration.
    fn after_val_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        self.after_iter(ctx)
    }
    /// Gradients are ready; clipping and the step have not happened yet.
    fn after_backward(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }

    /// Continues the work a hook paused with [`RunContext::yield_to`], once the runner has
    /// done what was asked (for example, clip and step after every hook saw the gradients).
    fn resume(&mut self, _ctx: &mut RunContext, _after: crate::context::Yield) -> HookResult {
        Ok(())
    }

    /// Another hook asked for an evaluation now ([`RunContext::request_eval`]).
    fn on_eval_request(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }

    /// The run ended with an error (after the emergency checkpoint): loggers mark their
    /// records as failed. Errors here are ignored; the run's error is what is reported.
    fn on_exception(&mut self, _ctx: &mut RunContext, _error: &str) {}

    /// State to keep in checkpoints (counters, best scores); `None` if stateless.
    fn save_state(&mut self) -> Result<Option<serde_json::Value>, crate::HookError> {
        Ok(None)
    }

    /// Restores what [`Hook::save_state`] returned, when resuming.
    fn load_state(&mut self, _state: &serde_json::Value) -> HookResult {
        Ok(())
    }
}

/// Calls the method of `hook` that belongs to `stage`.
pub fn call_stage(hook: &mut dyn Hook, stage: Stage, ctx: &mut RunContext) -> HookResult {
    match stage {
        Stage::BeforeRun => hook.before_run(ctx),
        Stage::AfterRun => hook.after_run(ctx),
        Stage::BeforeTrainEpoch => hook.before_train_epoch(ctx),
        Stage::AfterTrainEpoch => hook.after_train_epoch(ctx),
        Stage::BeforeValEpoch => hook.before_val_epoch(ctx),
        Stage::AfterValEpoch => hook.after_val_epoch(ctx),
        Stage::BeforeTrainIter => hook.before_train_iter(ctx),
        Stage::AfterTrainIter => hook.after_train_iter(ctx),
        Stage::BeforeValIter => hook.before_val_iter(ctx),
        Stage::AfterValIter => hook.after_val_iter(ctx),
        Stage::BeforeEpoch => hook.before_epoch(ctx),
        Stage::AfterEpoch => hook.after_epoch(ctx),
        Stage::AfterBackward => hook.after_backward(ctx),
    }
}
