//! MMCV's `IterBasedRunner`: a fixed number of iterations over loaders that wrap around.

use weft_config::schema::Phase;

use super::{RunOutcome, Runner};
use crate::engine::LoaderPosition;
use crate::error::RunError;
use crate::stage::Stage;

/// MMCV's `IterLoader`: a loader that starts its next epoch when it runs out.
struct IterLoader {
    phase: Phase,
    position: LoaderPosition,
    started: bool,
}

impl Runner {
    pub(super) fn run_iter_based(&mut self) -> Result<RunOutcome, RunError> {
        self.ctx.max_iters = self.max;
        self.ctx.max_epochs = None;
        let mut train = IterLoader {
            phase: Phase::Train,
            position: LoaderPosition::default(),
            started: false,
        };
        let mut val = IterLoader {
            phase: Phase::Val,
            position: LoaderPosition::default(),
            started: false,
        };
        if let Some(point) = self.resume.take() {
            self.ctx.iter = point.iter;
            train.position = point.train_loader;
            self.ctx.epoch = point.train_loader.epoch;
        }
        self.log_start("iters");
        self.set_last_logger();
        self.call_hook(Stage::BeforeRun)?;
        self.started = true;
        self.call_hook(Stage::BeforeEpoch)?;
        self.restore_log_window()?;
        'run: while self.ctx.iter < self.ctx.max_iters {
            for stage in self.workflow.clone() {
                self.ctx.inner_iter = 0;
                for _ in 0..stage.1 {
                    if stage.0 == Phase::Train && self.ctx.iter >= self.ctx.max_iters {
                        break;
                    }
                    let loader = match stage.0 {
                        Phase::Train => &mut train,
                        Phase::Val => &mut val,
                    };
                    self.ctx.mode = Some(stage.0);
                    self.ctx.data_loader_len = self.ctx.engine.loader_len(stage.0);
                    if stage.0 == Phase::Train {
                        // MMCV reads the loader's epoch before taking the batch, so the epoch
                        // counter lags a wrap-around by one iteration.
                        self.ctx.epoch = loader.position.epoch;
                    }
                    self.next(loader)?;
                    match stage.0 {
                        Phase::Train => {
                            self.ctx.train_position = train.position;
                            self.train_iter()?;
                            self.ctx.inner_iter += 1;
                            self.ctx.iter += 1;
                        }
                        Phase::Val => {
                            self.val_iter()?;
                            self.ctx.inner_iter += 1;
                        }
                    }
                    if self.should_stop()? {
                        break 'run;
                    }
                }
            }
        }
        self.call_hook(Stage::AfterEpoch)?;
        self.finish()
    }

    fn next(&mut self, loader: &mut IterLoader) -> Result<(), RunError> {
        let stage = match loader.phase {
            Phase::Train => Stage::BeforeTrainIter,
            Phase::Val => Stage::BeforeValIter,
        };
        if !loader.started {
            self.ctx
                .engine
                .start_epoch(loader.phase, loader.position.epoch, loader.position.batch)
                .map_err(|e| self.engine_error(stage, e))?;
            loader.started = true;
        }
        let mut more = self
            .ctx
            .engine
            .next_batch(loader.phase)
            .map_err(|e| self.engine_error(stage, e))?;
        if !more {
            loader.position = LoaderPosition {
                epoch: loader.position.epoch + 1,
                batch: 0,
            };
            self.ctx
                .engine
                .start_epoch(loader.phase, loader.position.epoch, 0)
                .map_err(|e| self.engine_error(stage, e))?;
            more = self
                .ctx
                .engine
                .next_batch(loader.phase)
                .map_err(|e| self.engine_error(stage, e))?;
            if !more {
                return Err(RunError::Invalid(format!(
                    "the {} set yields no batches",
                    loader.phase.as_str()
                )));
            }
        }
        loader.position.batch += 1;
        Ok(())
    }
}
