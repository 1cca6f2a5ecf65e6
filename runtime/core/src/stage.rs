//! Hook points: MMCV 1.x's ten stages, the two generic epoch stages the iteration-based
//! runner calls, and weft's `after_backward`.

/// A point in the loop at which hooks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Once, before anything else.
    BeforeRun,
    /// Once, at the end.
    AfterRun,
    /// Before a train epoch (epoch-based runner).
    BeforeTrainEpoch,
    /// After a train epoch (epoch-based runner).
    AfterTrainEpoch,
    /// Before a val epoch (epoch-based runner).
    BeforeValEpoch,
    /// After a val epoch (epoch-based runner).
    AfterValEpoch,
    /// Before a train iteration.
    BeforeTrainIter,
    /// After a train iteration's forward pass; the optimizer hook steps here.
    AfterTrainIter,
    /// Before a val iteration.
    BeforeValIter,
    /// After a val iteration.
    AfterValIter,
    /// Once after `before_run` (iteration-based runner only, as MMCV).
    BeforeEpoch,
    /// Once before `after_run` (iteration-based runner only, as MMCV).
    AfterEpoch,
    /// weft: gradients are ready, before clipping and the optimizer step.
    AfterBackward,
}

impl Stage {
    /// Every stage, in MMCV's `Hook.stages` order followed by the generic and weft stages.
    pub const ALL: [Stage; 13] = [
        Stage::BeforeRun,
        Stage::BeforeTrainEpoch,
        Stage::BeforeTrainIter,
        Stage::AfterTrainIter,
        Stage::AfterTrainEpoch,
        Stage::BeforeValEpoch,
        Stage::BeforeValIter,
        Stage::AfterValIter,
        Stage::AfterValEpoch,
        Stage::AfterRun,
        Stage::BeforeEpoch,
        Stage::AfterEpoch,
        Stage::AfterBackward,
    ];

    /// The snake_case name MMCV uses (`before_train_iter`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::BeforeRun => "before_run",
            Stage::AfterRun => "after_run",
            Stage::BeforeTrainEpoch => "before_train_epoch",
            Stage::AfterTrainEpoch => "after_train_epoch",
            Stage::BeforeValEpoch => "before_val_epoch",
            Stage::AfterValEpoch => "after_val_epoch",
            Stage::BeforeTrainIter => "before_train_iter",
            Stage::AfterTrainIter => "after_train_iter",
            Stage::BeforeValIter => "before_val_iter",
            Stage::AfterValIter => "after_val_iter",
            Stage::BeforeEpoch => "before_epoch",
            Stage::AfterEpoch => "after_epoch",
            Stage::AfterBackward => "after_backward",
        }
    }

    /// Parses a snake_case stage name.
    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of stages (what a hook acts on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageSet(u16);

impl StageSet {
    /// No stage.
    pub const EMPTY: StageSet = StageSet(0);

    /// Every stage.
    pub fn all() -> StageSet {
        Stage::ALL.into_iter().collect()
    }

    /// What overriding MMCV's generic `before_epoch` covers: both `before_*_epoch` stages and
    /// the iteration-based runner's direct `before_epoch`.
    pub fn before_epoch() -> StageSet {
        [
            Stage::BeforeTrainEpoch,
            Stage::BeforeValEpoch,
            Stage::BeforeEpoch,
        ]
        .into_iter()
        .collect()
    }

    /// What overriding MMCV's generic `after_epoch` covers.
    pub fn after_epoch() -> StageSet {
        [
            Stage::AfterTrainEpoch,
            Stage::AfterValEpoch,
            Stage::AfterEpoch,
        ]
        .into_iter()
        .collect()
    }

    /// What overriding MMCV's generic `before_iter` covers.
    pub fn before_iter() -> StageSet {
        [Stage::BeforeTrainIter, Stage::BeforeValIter]
            .into_iter()
            .collect()
    }

    /// What overriding MMCV's generic `after_iter` covers.
    pub fn after_iter() -> StageSet {
        [Stage::AfterTrainIter, Stage::AfterValIter]
            .into_iter()
            .collect()
    }

    /// The set plus one stage.
    pub fn with(self, stage: Stage) -> StageSet {
        StageSet(self.0 | stage.bit())
    }

    /// The union.
    pub fn union(self, other: StageSet) -> StageSet {
        StageSet(self.0 | other.0)
    }

    /// Whether the set holds a stage.
    pub fn contains(self, stage: Stage) -> bool {
        self.0 & stage.bit() != 0
    }
}

impl FromIterator<Stage> for StageSet {
    fn from_iter<I: IntoIterator<Item = Stage>>(iter: I) -> Self {
        iter.into_iter().fold(StageSet::EMPTY, StageSet::with)
    }
}
