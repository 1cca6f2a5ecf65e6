//! MMCV's `OptimizerHook` and `GradientCumulativeOptimizerHook`: backward, `after_backward`,
//! gradient clipping, step.

use weft_config::schema::GradClipConfig;

use crate::context::RunContext;
use crate::error::{HookError, HookResult};
use crate::hook::builtin::{Role, Sealed};
use crate::stage::{Stage, StageSet};

/// Runs backward and the optimizer step in `after_train_iter` (priority ABOVE_NORMAL).
pub struct OptimizerHook {
    name: &'static str,
    grad_clip: Option<GradClipConfig>,
    detect_anomalous_params: bool,
    cumulative_iters: u64,
    remainder_iters: Option<u64>,
}

impl OptimizerHook {
    /// MMCV's `OptimizerHook(grad_clip, detect_anomalous_params)`.
    pub fn new(grad_clip: Option<GradClipConfig>, detect_anomalous_params: bool) -> Self {
        OptimizerHook {
            name: "OptimizerHook",
            grad_clip,
            detect_anomalous_params,
            cumulative_iters: 1,
            remainder_iters: None,
        }
    }

    /// MMCV's `GradientCumulativeOptimizerHook(cumulative_iters, ...)`: gradients of
    /// `cumulative_iters` iterations are summed (each loss divided by that number, or by the
    /// size of the ragged last group) before one step.
    pub fn cumulative(
        grad_clip: Option<GradClipConfig>,
        detect_anomalous_params: bool,
        cumulative_iters: u64,
    ) -> Self {
        OptimizerHook {
            name: "GradientCumulativeOptimizerHook",
            cumulative_iters: cumulative_iters.max(1),
            ..OptimizerHook::new(grad_clip, detect_anomalous_params)
        }
    }

    fn report_unused(&self, ctx: &mut RunContext) {
        for (name, shape) in ctx.engine.unused_params() {
            ctx.log.error(&format!(
                "{name} with shape {shape:?} is not in the computational graph \n"
            ));
        }
    }
}

impl OptimizerHook {
    /// The first half of MMCV's `after_train_iter`: zero the gradients (unless they
    /// accumulate) and backpropagate. Returns whether this iteration steps; the runner then
    /// runs every hook's `after_backward` and calls [`OptimizerHook::step`].
    pub(crate) fn backward(&mut self, ctx: &mut RunContext) -> Result<bool, HookError> {
        if self.cumulative_iters == 1 {
            ctx.engine.zero_grad();
            ctx.engine.prepare_reduce()?;
            ctx.engine.backward(1.0)?;
            if self.detect_anomalous_params {
                self.report_unused(ctx);
            }
            ctx.engine.reduce_grads()?;
            return Ok(true);
        }
        let c = self.cumulative_iters;
        let remainder = *self.remainder_iters.get_or_insert_with(|| {
            if !ctx.iter.is_multiple_of(c) {
                ctx.log.warn(
                    "Resume iter number is not divisible by cumulative_iters in GradientCumulativeOptimizerHook, \
                     which means the gradient of some iters is lost and the result may be influenced slightly.",
                );
            }
            let residual = ctx.max_iters - ctx.iter;
            residual - residual / c * c
        });
        // The last `remainder` iterations form a short group: their losses are divided by its
        // size instead of `cumulative_iters`, so every step averages over the iterations it saw.
        let factor = if ctx.iter < ctx.max_iters - remainder {
            c
        } else {
            remainder
        };
        // Only the step's last micro-batch synchronises (DDP's `no_sync` for the others):
        // the summed local gradients are averaged once.
        let steps = ctx.every_n_iters(c as i64) || ctx.is_last_iter();
        if steps {
            ctx.engine.prepare_reduce()?;
        }
        ctx.engine.backward(1.0 / factor as f64)?;
        if self.detect_anomalous_params {
            self.report_unused(ctx);
        }
        if steps {
            ctx.engine.reduce_grads()?;
        }
        Ok(steps)
    }

    /// The second half, once every hook saw the gradients: clip and step, unless a hook
    /// asked to skip the step.
    pub(crate) fn step(&mut self, ctx: &mut RunContext) -> HookResult {
        if ctx.take_skip_step() {
            if self.cumulative_iters > 1 {
                ctx.engine.zero_grad();
            }
            return Ok(());
        }
        if let Some(clip) = &self.grad_clip {
            let norm = ctx.engine.clip_grad_norm(
                clip.max_norm.value,
                clip.norm_type,
                clip.error_if_nonfinite,
            )?;
            let count = ctx.outputs.as_ref().map_or(1, |o| o.num_samples);
            ctx.log_buffer.update_one("grad_norm", norm, count);
        }
        ctx.engine.optimizer_step()?;
        if self.cumulative_iters > 1 {
            ctx.engine.zero_grad();
        }
        Ok(())
    }
}

impl crate::Hook for OptimizerHook {
    fn name(&self) -> &str {
        self.name
    }

    fn points(&self) -> StageSet {
        StageSet::EMPTY.with(Stage::AfterTrainIter)
    }

    fn role(&mut self, _: Sealed) -> Role<'_> {
        Role::Optimizer(self)
    }
}
