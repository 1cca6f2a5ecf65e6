//! Hook points: MMCV 1.x's ten stages, its four generic points, the two generic epoch points
//! the iteration-based runner calls directly, and weft's `after_backward`.
//!
//! This is the one vocabulary of hook points. The variants are declared in the order of the
//! WIT `hook-point` enum (`wit/since_v0.1.0/types.wit`), the SDK point tables are generated
//! from that enum, and MMCV's specific-to-generic fallback is written once, in
//! [`Stage::generic`]: the runner resolves it when a hook is registered, for native and
//! plugin hooks alike, so no guest SDK repeats it.

/// A point in the loop at which hooks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
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
    /// Called once after `before_run` by the iteration-based runner (as MMCV); the generic
    /// fallback of `before_train_epoch` and `before_val_epoch`.
    BeforeEpoch,
    /// Called once before `after_run` by the iteration-based runner; the generic fallback of
    /// `after_train_epoch` and `after_val_epoch`.
    AfterEpoch,
    /// weft: gradients are ready, before clipping and the optimizer step.
    AfterBackward,
    /// Generic only (never called by the runner itself): before train and val iterations
    /// for a hook that implements neither specific point.
    BeforeIter,
    /// Generic only: the fallback of `after_train_iter` and `after_val_iter`.
    AfterIter,
}

impl Stage {
    /// Every point, in declaration (WIT) order.
    pub const ALL: [Stage; 15] = [
        Stage::BeforeRun,
        Stage::AfterRun,
        Stage::BeforeTrainEpoch,
        Stage::AfterTrainEpoch,
        Stage::BeforeValEpoch,
        Stage::AfterValEpoch,
        Stage::BeforeTrainIter,
        Stage::AfterTrainIter,
        Stage::BeforeValIter,
        Stage::AfterValIter,
        Stage::BeforeEpoch,
        Stage::AfterEpoch,
        Stage::AfterBackward,
        Stage::BeforeIter,
        Stage::AfterIter,
    ];

    /// MMCV's `Hook.stages`, in its order: the stages `get_hook_info()` lists.
    pub const MMCV: [Stage; 10] = [
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
    ];

    /// The snake_case name MMCV uses (`before_train_iter`).
    pub const fn name(self) -> &'static str {
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
            Stage::BeforeIter => "before_iter",
            Stage::AfterIter => "after_iter",
        }
    }

    /// Parses a snake_case point name.
    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }

    /// MMCV's fallback table: the generic point whose method runs at this stage when a hook
    /// does not implement the stage itself (`before_train_epoch` -> `before_epoch`).
    pub const fn generic(self) -> Option<Stage> {
        match self {
            Stage::BeforeTrainEpoch | Stage::BeforeValEpoch => Some(Stage::BeforeEpoch),
            Stage::AfterTrainEpoch | Stage::AfterValEpoch => Some(Stage::AfterEpoch),
            Stage::BeforeTrainIter | Stage::BeforeValIter => Some(Stage::BeforeIter),
            Stage::AfterTrainIter | Stage::AfterValIter => Some(Stage::AfterIter),
            _ => None,
        }
    }

    /// Whether the runner ever calls this point itself (`before_iter` and `after_iter` are
    /// only ever reached through [`Stage::generic`]).
    pub const fn is_called(self) -> bool {
        !matches!(self, Stage::BeforeIter | Stage::AfterIter)
    }

    /// Whether this is a point of the val phase.
    pub const fn is_val(self) -> bool {
        matches!(
            self,
            Stage::BeforeValEpoch
                | Stage::AfterValEpoch
                | Stage::BeforeValIter
                | Stage::AfterValIter
        )
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of points (what a hook implements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageSet(u16);

impl StageSet {
    /// No point.
    pub const EMPTY: StageSet = StageSet(0);

    /// Every point.
    pub fn all() -> StageSet {
        Stage::ALL.into_iter().collect()
    }

    /// The set plus one point.
    pub const fn with(self, stage: Stage) -> StageSet {
        StageSet(self.0 | stage.bit())
    }

    /// The union.
    pub const fn union(self, other: StageSet) -> StageSet {
        StageSet(self.0 | other.0)
    }

    /// Whether the set holds a point.
    pub const fn contains(self, stage: Stage) -> bool {
        self.0 & stage.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The points in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Stage> {
        Stage::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The point of this set whose method runs at `stage`: the stage itself when the set
    /// holds it, else its generic fallback when the set holds that, else none.
    pub const fn serving(self, stage: Stage) -> Option<Stage> {
        if self.contains(stage) {
            return Some(stage);
        }
        match stage.generic() {
            Some(g) if self.contains(g) => Some(g),
            _ => None,
        }
    }
}

impl FromIterator<Stage> for StageSet {
    fn from_iter<I: IntoIterator<Item = Stage>>(iter: I) -> Self {
        iter.into_iter().fold(StageSet::EMPTY, StageSet::with)
    }
}

/// For each runner stage, the point of a hook that serves it (see [`StageSet::serving`]),
/// resolved once when the hook is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatch([Option<Stage>; Stage::ALL.len()]);

impl Dispatch {
    /// The table of a hook implementing `points`.
    pub fn of(points: StageSet) -> Dispatch {
        let mut table = [None; Stage::ALL.len()];
        for stage in Stage::ALL {
            if stage.is_called() {
                table[stage as usize] = points.serving(stage);
            }
        }
        Dispatch(table)
    }

    /// The point that serves `stage`, if any.
    pub fn get(&self, stage: Stage) -> Option<Stage> {
        self.0[stage as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discriminants_follow_the_declaration_order() {
        for (i, s) in Stage::ALL.into_iter().enumerate() {
            assert_eq!(s as usize, i);
            assert_eq!(Stage::from_name(s.name()), Some(s));
        }
    }

    #[test]
    fn a_specific_point_wins_over_its_generic_one() {
        let both = StageSet::EMPTY
            .with(Stage::AfterIter)
            .with(Stage::AfterTrainIter);
        assert_eq!(
            both.serving(Stage::AfterTrainIter),
            Some(Stage::AfterTrainIter)
        );
        assert_eq!(both.serving(Stage::AfterValIter), Some(Stage::AfterIter));
        assert_eq!(both.serving(Stage::BeforeValIter), None);
    }

    #[test]
    fn generic_epoch_points_serve_both_phases_and_the_iteration_runner() {
        let d = Dispatch::of(StageSet::EMPTY.with(Stage::BeforeEpoch));
        assert_eq!(d.get(Stage::BeforeTrainEpoch), Some(Stage::BeforeEpoch));
        assert_eq!(d.get(Stage::BeforeValEpoch), Some(Stage::BeforeEpoch));
        assert_eq!(d.get(Stage::BeforeEpoch), Some(Stage::BeforeEpoch));
        assert_eq!(d.get(Stage::AfterTrainEpoch), None);
        // A generic point alone never resolves to itself as a runner stage.
        let d = Dispatch::of(StageSet::EMPTY.with(Stage::AfterIter));
        assert_eq!(d.get(Stage::AfterIter), None);
        assert_eq!(d.get(Stage::AfterTrainIter), Some(Stage::AfterIter));
    }

    #[test]
    fn after_backward_and_run_points_have_no_fallback() {
        for s in [
            Stage::BeforeRun,
            Stage::AfterRun,
            Stage::AfterBackward,
            Stage::BeforeEpoch,
            Stage::AfterEpoch,
        ] {
            assert_eq!(s.generic(), None, "{s}");
            assert_eq!(StageSet::all().serving(s), Some(s));
        }
    }
}
