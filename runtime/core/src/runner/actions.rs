//! The one place where hooks' actions change the run: checked, then applied in the order the
//! hook queued them, right after the hook returns (so hooks of lower priority see the
//! change, as MMCV's hooks see each other's writes).

use super::Runner;
use crate::action::{self, Action, MAX_REASON_LEN};
use crate::error::{HookError, RunError};
use crate::hooks::requested_path;
use crate::world::requests;

impl Runner {
    /// Applies the actions the hook at `index` queued during its call.
    pub(super) fn apply_actions(&mut self, index: usize) -> Result<(), RunError> {
        if self.ctx.actions.is_empty() {
            return Ok(());
        }
        let stage = self.ctx.stage;
        // Taken out and put back, so the queue's allocation is reused at every iteration.
        let mut actions = std::mem::take(&mut self.ctx.actions);
        let mut result = Ok(());
        for action in actions.drain(..) {
            if let Err(message) = action.check(stage, &self.ctx) {
                result = Err(HookError::new(format!("invalid action: {message}")));
                break;
            }
            if let Err(e) = self.apply(index, action) {
                result = Err(e);
                break;
            }
        }
        actions.clear();
        self.ctx.actions = actions;
        result.map_err(|e| self.hook_failed(index, stage, e))?;
        if std::mem::take(&mut self.ctx.eval_requested) {
            if self.ctx.world.is_distributed() {
                // Evaluation is collective: every rank runs it at the next agreement point.
                self.ctx.requests |= requests::EVALUATE;
            } else {
                self.evaluate_on_request()?;
            }
        }
        Ok(())
    }

    fn apply(&mut self, index: usize, action: Action) -> Result<(), HookError> {
        let ctx = &mut self.ctx;
        match action {
            Action::LogScalar { name, value } => ctx.log_buffer.update_one(&name, value, 1),
            Action::SetLr { group, lr } => ctx.engine.param_groups_mut()[group].lr = lr,
            Action::SetMomentum { group, momentum } => {
                ctx.engine.param_groups_mut()[group].momentum.set(momentum);
            }
            Action::Stop { reason } => {
                if ctx.stop_reason.is_none() {
                    let hook = self.hooks.entries()[index].hook.name();
                    let reason = action::truncate(reason, MAX_REASON_LEN);
                    ctx.stop_reason = Some(format!("{hook}: {reason}"));
                }
            }
            // Rank 0 writes; every rank notes the request, so that rank 0 also writes one that
            // only another rank's hook asked for (see `Runner::agree`).
            Action::Checkpoint(_) if !ctx.world.is_main() => {
                ctx.requests |= requests::CHECKPOINT;
            }
            Action::Checkpoint(mut request) => {
                if ctx.world.is_distributed() {
                    ctx.requests |= requests::CHECKPOINT;
                }
                let completed = ctx.iter + u64::from(self.in_train_iter);
                let path = request
                    .path
                    .take()
                    .unwrap_or_else(|| requested_path(&ctx.work_dir, completed));
                // Several requests for one file at one point are one write that does what
                // each asked.
                match ctx
                    .pending_saves
                    .iter_mut()
                    .find(|r| r.path.as_ref() == Some(&path))
                {
                    Some(r) => {
                        r.with_optimizer |= request.with_optimizer;
                        r.link_latest |= request.link_latest;
                        r.record_as_last |= request.record_as_last;
                        r.remove_after.append(&mut request.remove_after);
                    }
                    None => {
                        request.path = Some(path);
                        ctx.pending_saves.push(request);
                    }
                }
            }
            Action::Evaluate => ctx.eval_requested = true,
            Action::ScaleGrads { factor } => ctx.engine.scale_grads(factor)?,
            Action::SkipStep => ctx.skip_step = true,
        }
        Ok(())
    }
}
