//! MMCV's `EpochBasedRunner`: epochs of the train loader, with val phases in between.

use weft_config::schema::Phase;

use super::{RunOutcome, Runner};
use crate::engine::LoaderPosition;
use crate::error::RunError;
use crate::stage::Stage;

impl Runner {
    pub(super) fn run_epoch_based(&mut self) -> Result<RunOutcome, RunError> {
        let max_epochs = self.max;
        let train_len = self.ctx.engine.loader_len(Phase::Train);
        if train_len == 0 && self.workflow.iter().any(|s| s.0 == Phase::Train) {
            return Err(RunError::Invalid(
                "the training set yields no batches (is it empty, or smaller than one batch with drop_last?)"
                    .into(),
            ));
        }
        self.ctx.max_epochs = Some(max_epochs);
        self.ctx.max_iters = max_epochs * train_len as u64;
        let mut skip = 0;
        if let Some(point) = self.resume.take() {
            self.ctx.iter = point.iter;
            self.ctx.epoch = point.train_loader.epoch;
            skip = point.train_loader.batch;
        }
        self.log_start("epochs");
        self.set_last_logger();
        self.call_hook(Stage::BeforeRun)?;
        self.started = true;
        'run: while self.ctx.epoch < max_epochs {
            for stage in self.workflow.clone() {
                for _ in 0..stage.1 {
                    if stage.0 == Phase::Train && self.ctx.epoch >= max_epochs {
                        break;
                    }
                    match stage.0 {
                        Phase::Train => self.train_epoch(std::mem::take(&mut skip))?,
                        Phase::Val => self.val_epoch()?,
                    }
                    if self.should_stop()? {
                        break 'run;
                    }
                }
            }
        }
        self.finish()
    }

    fn train_epoch(&mut self, skip: u64) -> Result<(), RunError> {
        let len = self.ctx.engine.loader_len(Phase::Train);
        self.ctx.mode = Some(Phase::Train);
        self.ctx.data_loader_len = len;
        self.ctx.max_iters = self.ctx.max_epochs.unwrap_or(0) * len as u64;
        self.call_hook(Stage::BeforeTrainEpoch)?;
        if skip > 0 {
            self.restore_log_window()?;
        } else {
            self.resumed_log_buffer = None;
        }
        let epoch = self.ctx.epoch;
        self.ctx
            .engine
            .start_epoch(Phase::Train, epoch, skip)
            .map_err(|e| self.engine_error(Stage::BeforeTrainEpoch, e))?;
        self.ctx.train_position = LoaderPosition { epoch, batch: skip };
        let mut inner = skip;
        loop {
            let more = self
                .ctx
                .engine
                .next_batch(Phase::Train)
                .map_err(|e| self.engine_error(Stage::BeforeTrainIter, e))?;
            if !more {
                break;
            }
            self.ctx.inner_iter = inner;
            self.ctx.train_position.batch = inner + 1;
            self.train_iter()?;
            self.ctx.iter += 1;
            inner += 1;
            if self.should_stop()? {
                // The cut epoch does not count as finished: no after_train_epoch.
                return Ok(());
            }
        }
        self.ctx.train_position = LoaderPosition {
            epoch: epoch + 1,
            batch: 0,
        };
        self.call_hook(Stage::AfterTrainEpoch)?;
        self.ctx.epoch += 1;
        Ok(())
    }

    fn val_epoch(&mut self) -> Result<(), RunError> {
        let len = self.ctx.engine.loader_len(Phase::Val);
        self.ctx.mode = Some(Phase::Val);
        self.ctx.data_loader_len = len;
        self.call_hook(Stage::BeforeValEpoch)?;
        self.ctx
            .engine
            .start_epoch(Phase::Val, self.ctx.epoch, 0)
            .map_err(|e| self.engine_error(Stage::BeforeValEpoch, e))?;
        let mut inner = 0;
        loop {
            let more = self
                .ctx
                .engine
                .next_batch(Phase::Val)
                .map_err(|e| self.engine_error(Stage::BeforeValIter, e))?;
            if !more {
                break;
            }
            self.ctx.inner_iter = inner;
            self.val_iter()?;
            inner += 1;
            if self.ctx.interrupted() {
                return Ok(());
            }
        }
        self.call_hook(Stage::AfterValEpoch)
    }
}
