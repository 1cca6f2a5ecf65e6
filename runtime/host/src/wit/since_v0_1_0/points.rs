//! Conversions between the host's types and a version's WIT types that every version shares
//! (the `hook-point` and `log-level` enums have not changed since 0.1.0): each version module
//! compiles this file against its own bindings.

use weft_core::{Level, Stage};

use super::weft::plugin::types::{HookPoint, LogLevel};

/// The WIT point of a hook point. `weft_core::Stage` is declared in the WIT enum's order,
/// so the two convert by position (checked by a test).
pub fn point_of(stage: Stage) -> HookPoint {
    POINTS[stage as usize]
}

/// The hook point of a WIT point.
pub fn stage_of(point: HookPoint) -> Stage {
    Stage::ALL[point as usize]
}

// @generated host-points: from wit/ by `make sdk-tables`; do not edit
const POINTS: [HookPoint; 15] = [
    HookPoint::BeforeRun,
    HookPoint::AfterRun,
    HookPoint::BeforeTrainEpoch,
    HookPoint::AfterTrainEpoch,
    HookPoint::BeforeValEpoch,
    HookPoint::AfterValEpoch,
    HookPoint::BeforeTrainIter,
    HookPoint::AfterTrainIter,
    HookPoint::BeforeValIter,
    HookPoint::AfterValIter,
    HookPoint::BeforeEpoch,
    HookPoint::AfterEpoch,
    HookPoint::AfterBackward,
    HookPoint::BeforeIter,
    HookPoint::AfterIter,
];
// @end host-points

/// The run-log level of a WIT level; `debug` lines are written at INFO and tagged.
pub fn level_of(level: LogLevel) -> (Level, bool) {
    match level {
        LogLevel::Debug => (Level::Info, true),
        LogLevel::Info => (Level::Info, false),
        LogLevel::Warning => (Level::Warning, false),
        LogLevel::Error => (Level::Error, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_points_and_core_stages_convert_by_position_and_name() {
        for stage in Stage::ALL {
            let point = point_of(stage);
            assert_eq!(point as usize, stage as usize);
            assert_eq!(stage_of(point), stage);
            assert_eq!(format!("{point:?}"), format!("HookPoint::{stage:?}"));
        }
    }
}
