//! The progress bar of interactive runs, drawn into an in-memory terminal: it shows the
//! phase, epoch, position, loss and lr, and log lines appear above it.

use std::sync::{Arc, Mutex};

use indicatif::{InMemoryTerm, ProgressDrawTarget};
use weft::progress::ProgressHook;
use weft_core::{HookResult, Priority, RunContext, RunLog, Runner, RunnerKind, Stage, StageSet};

use crate::scripted::{ScriptedEngine, Step};
use crate::support::temp_dir;

/// Gives the bar time to redraw (it draws at most every few milliseconds) and keeps what
/// the terminal shows after each training iteration.
struct Snapshots(InMemoryTerm, Arc<Mutex<Vec<String>>>);

impl weft_core::Hook for Snapshots {
    fn name(&self) -> &str {
        "Snapshots"
    }
    fn points(&self) -> StageSet {
        [
            Stage::BeforeTrainEpoch,
            Stage::AfterTrainIter,
            Stage::AfterValIter,
        ]
        .into_iter()
        .collect()
    }
    fn call(&mut self, _point: Stage, _ctx: &mut RunContext) -> HookResult {
        std::thread::sleep(std::time::Duration::from_millis(15));
        self.1.lock().unwrap().push(self.0.contents());
        Ok(())
    }
}

#[test]
fn the_progress_bar_shows_epoch_position_loss_and_lr_below_the_log_lines() {
    let dir = temp_dir("progress");
    let term = InMemoryTerm::new(400, 160);
    let steps = vec![
        Step {
            loss: 0.75,
            top1: 0.5,
            grad_norm: 1.0
        };
        8
    ];
    let engine = ScriptedEngine::new(4, 2, 0.01, steps.clone(), steps);
    let log = RunLog::console();
    let mut ctx = RunContext::new(
        Box::new(engine),
        RunnerKind::EpochBased,
        dir.clone(),
        log.clone(),
    );
    ctx.max_epochs = Some(2);
    let mut hooks = weft_core::HookSet::default();
    hooks.register(
        Box::new(weft_core::hooks::OptimizerHook::new(None, false)),
        Priority::ABOVE_NORMAL,
    );
    let snapshots = Arc::new(Mutex::new(Vec::new()));
    hooks.register(
        Box::new(Snapshots(term.clone(), snapshots.clone())),
        Priority::HIGHEST,
    );
    let progress = ProgressHook::new(ProgressDrawTarget::term_like_with_hz(
        Box::new(term.clone()),
        200,
    ));
    log.set_console_printer(Some(progress.printer()));
    hooks.register(Box::new(progress), Priority::LOWEST);
    let workflow = vec![
        weft_config::schema::WorkflowStage(weft_config::schema::Phase::Train, 1),
        weft_config::schema::WorkflowStage(weft_config::schema::Phase::Val, 1),
    ];
    let mut runner = Runner::new(ctx, hooks, workflow, 2);
    runner.run().unwrap();
    let seen = snapshots.lock().unwrap().clone();
    // Before the first epoch starts, the start-up lines show without an empty 0/0 bar.
    assert!(seen[0].contains("Start running"), "{:?}", seen[0]);
    assert!(
        !seen[0].contains("0/0") && !seen[0].contains("eta"),
        "{:?}",
        seen[0]
    );
    // A val bar does not show the training loss.
    let val: Vec<&String> = seen.iter().filter(|s| s.contains("Val ")).collect();
    assert!(!val.is_empty(), "no val bar: {seen:#?}");
    for v in &val {
        let bar_line = v.lines().find(|l| l.contains("Val ")).unwrap();
        assert!(!bar_line.contains("loss"), "{bar_line}");
    }
    let bars: Vec<&String> = seen.iter().filter(|s| s.contains("eta")).collect();
    assert!(!bars.is_empty(), "no bar drawn: {seen:#?}");
    assert!(
        bars.iter().any(|s| s.contains("Epoch 2/2")
            && s.contains("loss 0.7500")
            && s.contains("lr 1.000e-2")),
        "{bars:#?}"
    );
    // Log lines were printed above the bar, and the bar is gone at the end.
    let end = term.contents();
    assert!(end.contains("Start running"), "{end}");
    assert!(!end.contains("eta"), "{end}");
}
