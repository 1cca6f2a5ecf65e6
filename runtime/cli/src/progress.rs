//! A progress bar for interactive runs: the phase, epoch, position, ETA, the latest loss and
//! the lr, with the log lines printed above it. Only for terminals; pipes, files and CI get
//! the plain log lines.
//!
//! The loss shown is the last one a logger already brought to the host: reading a fresh one
//! every iteration would wait for the device each time.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use weft_config::schema::Phase;
use weft_core::{HookResult, RunContext, RunnerKind, Stage, StageSet};

/// Draws the bar as the run goes.
pub struct ProgressHook {
    bar: ProgressBar,
    loss: Option<f64>,
    /// The bar's style, set when the first phase starts: until then the bar draws as an
    /// empty line, so no `0/0` bar shows under the start-up log lines.
    style: Option<ProgressStyle>,
}

impl ProgressHook {
    /// A bar drawn to `target` (`ProgressDrawTarget::stdout()` on a terminal).
    pub fn new(target: ProgressDrawTarget) -> ProgressHook {
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(ProgressStyle::with_template("").expect("a valid template"));
        let style =
            ProgressStyle::with_template("{prefix:>14} [{bar:32}] {pos}/{len} eta {eta} {msg}")
                .expect("a valid template")
                .progress_chars("=> ");
        ProgressHook {
            bar,
            loss: None,
            style: Some(style),
        }
    }

    /// Where log lines go while the bar is drawn.
    pub fn printer(&self) -> weft_core::ConsolePrinter {
        let bar = self.bar.clone();
        Box::new(move |line| bar.println(line))
    }

    fn start(&mut self, prefix: String, len: u64) {
        self.bar.reset();
        self.bar.set_length(len);
        self.bar.set_prefix(prefix);
        if let Some(style) = self.style.take() {
            self.bar.set_style(style);
        }
    }

    fn message(&mut self, ctx: &RunContext) {
        if let Some(v) = ctx.log_buffer.last("loss").and_then(|s| s.cached()) {
            self.loss = Some(v);
        }
        let lr = ctx.current_lr().first().copied().unwrap_or(0.0);
        let loss = self
            .loss
            .map(|l| format!("loss {l:.4} "))
            .unwrap_or_default();
        self.bar.set_message(format!("{loss}lr {lr:.3e}"));
    }
}

impl weft_core::Hook for ProgressHook {
    fn name(&self) -> &str {
        "ProgressHook"
    }

    fn points(&self) -> StageSet {
        [
            Stage::BeforeTrainEpoch,
            Stage::BeforeValEpoch,
            Stage::BeforeEpoch,
            Stage::AfterTrainIter,
            Stage::AfterValIter,
            Stage::AfterRun,
        ]
        .into_iter()
        .collect()
    }

    fn before_train_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        let of = ctx.max_epochs.map(|m| format!("/{m}")).unwrap_or_default();
        self.start(
            format!("Epoch {}{of}", ctx.epoch + 1),
            ctx.data_loader_len as u64,
        );
        Ok(())
    }

    fn before_val_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        // The training loss and lr mean nothing for a val pass.
        self.bar.set_message("");
        self.start(format!("Val {}", ctx.epoch), ctx.data_loader_len as u64);
        Ok(())
    }

    fn before_epoch(&mut self, ctx: &mut RunContext) -> HookResult {
        // The iteration-based runner: one bar over the whole run.
        if ctx.runner == RunnerKind::IterBased {
            self.start("Iter".into(), ctx.max_iters);
            self.bar.set_position(ctx.iter);
        }
        Ok(())
    }

    fn after_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        self.message(ctx);
        self.bar.inc(1);
        Ok(())
    }

    fn after_val_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        if ctx.mode == Some(Phase::Val) && ctx.runner == RunnerKind::EpochBased {
            self.bar.inc(1);
        }
        Ok(())
    }

    fn after_run(&mut self, ctx: &mut RunContext) -> HookResult {
        self.bar.finish_and_clear();
        ctx.log.set_console_printer(None);
        Ok(())
    }
}

impl Drop for ProgressHook {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
