//! The seed's `MyHook(a, b)`: MMCV's example custom hook, implementing `before_run`,
//! `after_run`, `before_epoch`, `after_epoch`, `before_iter` and `after_iter`.

use serde::Deserialize;
use weft_guest::hook::{Hook, HookPoint, Phase, RunState, info, log_scalar, register_hook};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MyHook {
    a: i64,
    b: String,
    #[serde(skip)]
    iters_seen: u64,
}

impl Hook for MyHook {
    const TYPE_NAME: &'static str = "MyHook";

    fn new(config: serde_json::Value) -> Result<Self, String> {
        weft_guest::config(config)
    }

    // Only the generic points: the host calls `before_epoch` for train and val epochs alike,
    // as MMCV's `Hook` does for a subclass that overrides `before_epoch`.
    fn points(&self) -> Vec<HookPoint> {
        use HookPoint::*;
        vec![
            BeforeRun,
            AfterRun,
            BeforeEpoch,
            AfterEpoch,
            BeforeIter,
            AfterIter,
        ]
    }

    fn before_run(&mut self, s: &RunState) -> Result<(), String> {
        info(&format!(
            "MyHook(a={}, b={}) before_run: {} iterations planned",
            self.a,
            self.b,
            s.max_iters()
        ));
        Ok(())
    }

    fn after_run(&mut self, s: &RunState) -> Result<(), String> {
        info(&format!(
            "after_run at iter {} after {} iterations seen",
            s.iter(),
            self.iters_seen
        ));
        Ok(())
    }

    fn before_epoch(&mut self, s: &RunState) -> Result<(), String> {
        info(&format!("before_epoch {} ({})", s.epoch() + 1, mode(s)));
        Ok(())
    }

    fn after_epoch(&mut self, s: &RunState) -> Result<(), String> {
        info(&format!("after_epoch {} ({})", s.epoch() + 1, mode(s)));
        Ok(())
    }

    fn before_iter(&mut self, _s: &RunState) -> Result<(), String> {
        self.iters_seen += 1;
        Ok(())
    }

    fn after_iter(&mut self, s: &RunState) -> Result<(), String> {
        // `a` scales a value that shows up in the text and JSON logs next to the loss, under
        // a name made from `b`.
        if let Some(loss) = s.output("loss") {
            log_scalar(&format!("{}_scaled_loss", self.b), loss * self.a as f64);
        }
        Ok(())
    }
}

fn mode(s: &RunState) -> &'static str {
    match s.mode() {
        Phase::Train => "train",
        Phase::Val => "val",
        Phase::None => "none",
    }
}

register_hook!(MyHook);
