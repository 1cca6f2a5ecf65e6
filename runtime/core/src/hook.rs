//! The hook trait: MMCV 1.x's hook points, one method each.
//!
//! A hook says which points it implements ([`Hook::points`]); the runner resolves MMCV's
//! specific-to-generic fallback once, when the hook is registered ([`crate::Dispatch`]), and
//! calls [`Hook::call`] with the point that serves each stage. So a hook implementing
//! `after_iter` runs after train and val iterations alike, exactly as in MMCV, and the
//! defaults of the point methods do nothing (they never call each other). Rust cannot see
//! which methods a type overrides, which is why `points` is required; it is also what MMCV's
//! `get_hook_info` lists.
//!
//! A hook changes the run by queueing [`crate::Action`]s on the context; the runner applies
//! them when the hook returns.

use crate::context::RunContext;
use crate::error::HookResult;
use crate::priority::Priority;
use crate::stage::{Stage, StageSet};

/// A participant in the training loop.
pub trait Hook: Send {
    /// The hook's name as shown in logs and errors (MMCV shows the class name).
    fn name(&self) -> &str;

    /// The priority of a `custom_hooks` entry of this type that gives none (MMCV and
    /// MMEngine hooks carry a class priority; most are NORMAL).
    fn default_priority(&self) -> Priority {
        Priority::NORMAL
    }

    /// The points this hook implements, specific or generic.
    fn points(&self) -> StageSet;

    /// Runs the hook at one of its points. `ctx.stage()` is the runner's stage, which differs
    /// from `point` when a generic point serves it. The default calls the point's method.
    fn call(&mut self, point: Stage, ctx: &mut RunContext) -> HookResult {
        match point {
            Stage::BeforeRun => self.before_run(ctx),
            Stage::AfterRun => self.after_run(ctx),
            Stage::BeforeTrainEpoch => self.before_train_epoch(ctx),
            Stage::AfterTrainEpoch => self.after_train_epoch(ctx),
            Stage::BeforeValEpoch => self.before_val_epoch(ctx),
            Stage::AfterValEpoch => self.after_val_epoch(ctx),
            Stage::BeforeTrainIter => self.before_train_iter(ctx),
            Stage::AfterTrainIter => self.after_train_iter(ctx),
            Stage::BeforeValIter => self.before_val_iter(ctx),
            Stage::AfterValIter => self.after_val_iter(ctx),
            Stage::BeforeEpoch => self.before_epoch(ctx),
            Stage::AfterEpoch => self.after_epoch(ctx),
            Stage::AfterBackward => self.after_backward(ctx),
            Stage::BeforeIter => self.before_iter(ctx),
            Stage::AfterIter => self.after_iter(ctx),
        }
    }

    /// Once, before training.
    fn before_run(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Once, after training.
    fn after_run(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Before a train epoch.
    fn before_train_epoch(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// After a train epoch.
    fn after_train_epoch(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Before a val epoch.
    fn before_val_epoch(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// After a val epoch.
    fn after_val_epoch(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Before a train iteration.
    fn before_train_iter(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// After a train iteration's forward pass.
    fn after_train_iter(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Before a val iteration.
    fn before_val_iter(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// After a val iteration.
    fn after_val_iter(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Generic: before train and val epochs; called directly, once, by the iteration runner.
    fn before_epoch(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Generic: after train and val epochs; called directly, once, by the iteration runner.
    fn after_epoch(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Gradients are ready; clipping and the step have not happened yet.
    fn after_backward(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Generic: before train and val iterations.
    fn before_iter(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }
    /// Generic: after train and val iterations.
    fn after_iter(&mut self, _ctx: &mut RunContext) -> HookResult {
        Ok(())
    }

    /// State to keep in checkpoints (counters, best scores); `None` if stateless.
    fn save_state(&mut self) -> Result<Option<serde_json::Value>, crate::HookError> {
        Ok(None)
    }

    /// Restores what [`Hook::save_state`] returned, when resuming.
    fn load_state(&mut self, _state: &serde_json::Value) -> HookResult {
        Ok(())
    }

    /// Which built-in protocol the hook takes part in. Sealed: only this crate's hooks (the
    /// optimizer and evaluation hooks, and every [`crate::hooks::Logger`]) answer anything but
    /// [`builtin::Role::Plain`], and no other crate can call it.
    #[doc(hidden)]
    fn role(&mut self, _: builtin::Sealed) -> builtin::Role<'_> {
        builtin::Role::Plain
    }
}

/// The protocols between the runner and its built-in hooks, outside the public surface.
pub mod builtin {
    use crate::hooks::{EvalHook, Logger, OptimizerHook};

    /// Only this crate can make one, so only this crate can call [`super::Hook::role`].
    pub struct Sealed(pub(crate) ());

    /// What the runner does with a hook beyond calling its points.
    pub enum Role<'a> {
        /// Nothing.
        Plain,
        /// A logger: the last one clears the log output; a by-iteration evaluation lets every
        /// logger log the iteration first; a failed run is reported to each.
        Logger(&'a mut dyn Logger),
        /// Backward, `after_backward` for every hook, clipping and the step.
        Optimizer(&'a mut OptimizerHook),
        /// Evaluations, also on request.
        Eval(&'a mut EvalHook),
    }
}
