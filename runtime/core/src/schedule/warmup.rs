//! Warmup: a factor applied to the regular value for the first iterations.

/// The warmup curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarmupKind {
    /// `ratio` throughout.
    Constant,
    /// From `ratio` to 1 linearly.
    Linear,
    /// From `ratio` to 1 geometrically.
    Exp,
}

/// `warmup`, `warmup_iters`, `warmup_ratio` (and `warmup_by_epoch` for lr).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Warmup {
    /// The curve.
    pub kind: WarmupKind,
    /// Length in iterations, or in epochs when `by_epoch` (converted at the first train epoch).
    pub iters: u64,
    /// The starting factor, in (0, 1].
    pub ratio: f64,
    /// `iters` counts epochs (`warmup_by_epoch`).
    pub by_epoch: bool,
}

impl Warmup {
    /// The factor at global iteration `i` of a warmup of `w` iterations: the lr is
    /// `regular * factor` and the momentum `regular / factor` (MMCV divides for momentum).
    pub fn factor(&self, i: u64, w: u64) -> f64 {
        let r = self.ratio;
        let progress = i as f64 / w as f64;
        match self.kind {
            WarmupKind::Constant => r,
            WarmupKind::Linear => 1.0 - (1.0 - progress) * (1.0 - r),
            WarmupKind::Exp => r.powf(1.0 - progress),
        }
    }

    /// The lr during warmup (MMCV's `get_warmup_lr`, term by term).
    pub fn lr(&self, regular: f64, i: u64, w: u64) -> f64 {
        let r = self.ratio;
        let progress = i as f64 / w as f64;
        match self.kind {
            WarmupKind::Constant => regular * r,
            WarmupKind::Linear => regular * (1.0 - (1.0 - progress) * (1.0 - r)),
            WarmupKind::Exp => regular * r.powf(1.0 - progress),
        }
    }

    /// The momentum during warmup (MMCV's `get_warmup_momentum`, term by term).
    pub fn momentum(&self, regular: f64, i: u64, w: u64) -> f64 {
        regular / self.factor(i, w)
    }
}
