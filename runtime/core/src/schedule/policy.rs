//! The regular value of every MMCV policy, written as MMCV writes it so that results agree
//! to the last bit or nearly (same operations in the same order).

use std::f64::consts::PI;

/// `annealing_cos(start, end, factor, weight)`: cosine from `start` (factor 0) to `end` (1).
pub fn annealing_cos(start: f64, end: f64, factor: f64, weight: f64) -> f64 {
    let cos_out = (PI * factor).cos() + 1.0;
    end + 0.5 * weight * (start - end) * cos_out
}

/// `annealing_linear(start, end, factor)`.
pub fn annealing_linear(start: f64, end: f64, factor: f64) -> f64 {
    start + (end - start) * factor
}

/// Cosine or linear annealing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anneal {
    /// Half a cosine.
    Cos,
    /// A straight line.
    Linear,
}

impl Anneal {
    fn apply(self, start: f64, end: f64, factor: f64) -> f64 {
        match self {
            Anneal::Cos => annealing_cos(start, end, factor, 1.0),
            Anneal::Linear => annealing_linear(start, end, factor),
        }
    }
}

/// The end value of an annealing policy: absolute (`min_lr`) or relative (`min_lr_ratio`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// An absolute value.
    Min(f64),
    /// A fraction of the group's base value.
    Ratio(f64),
}

impl Target {
    fn value(self, base: f64) -> f64 {
        match self {
            Target::Min(v) => v,
            Target::Ratio(r) => base * r,
        }
    }
}

/// `step`: decay every N, or at milestones.
#[derive(Debug, Clone, PartialEq)]
pub enum StepSpec {
    /// Every `n` epochs/iterations.
    Every(u64),
    /// At each milestone.
    Milestones(Vec<u64>),
}

/// MMCV's OneCycle policy (lr or momentum).
#[derive(Debug, Clone, PartialEq)]
pub struct OneCycle {
    /// Peak value(s): one for all groups or one per group (lr: `max_lr`; momentum:
    /// `max_momentum`).
    pub max: Vec<f64>,
    /// Momentum only: `base_momentum` per group (or one for all).
    pub base: Vec<f64>,
    /// lr only: total steps (default `max_iters`; must be at least `max_iters`).
    pub total_steps: Option<u64>,
    /// Fraction of the cycle spent increasing.
    pub pct_start: f64,
    /// Cosine or linear.
    pub anneal: Anneal,
    /// lr only: initial lr = max_lr / div_factor.
    pub div_factor: f64,
    /// lr only: final lr = initial lr / final_div_factor.
    pub final_div_factor: f64,
    /// Three phases instead of two.
    pub three_phase: bool,
}

impl OneCycle {
    /// The per-group value of a parameter given once or per group.
    pub fn per_group(values: &[f64], group: usize) -> f64 {
        if values.len() == 1 {
            values[0]
        } else {
            values[group]
        }
    }

    /// lr at iteration `i` for a group whose base is `max_lr / div_factor`.
    pub fn lr(&self, base: f64, i: u64, total: u64) -> f64 {
        let pct = self.pct_start;
        let n = total as f64;
        let phases: Vec<(f64, f64, f64)> = if self.three_phase {
            vec![
                (pct * n - 1.0, 1.0, self.div_factor),
                (2.0 * pct * n - 2.0, self.div_factor, 1.0),
                (n - 1.0, 1.0, 1.0 / self.final_div_factor),
            ]
        } else {
            vec![
                (pct * n - 1.0, 1.0, self.div_factor),
                (n - 1.0, self.div_factor, 1.0 / self.final_div_factor),
            ]
        };
        let cur = i as f64;
        let mut start = 0.0;
        for (end, start_mult, end_mult) in &phases {
            if cur <= *end {
                let pct = (cur - start) / (end - start);
                return self.anneal.apply(base * start_mult, base * end_mult, pct);
            }
            start = *end;
        }
        // Past total_steps (prevented by the total_steps >= max_iters check).
        let (_, _, end_mult) = phases[phases.len() - 1];
        base * end_mult
    }

    /// Momentum at iteration `i` for a group (phases over `max_iters`; the last phase also
    /// covers iterations past its end).
    pub fn momentum(&self, group: usize, i: u64, max_iters: u64) -> f64 {
        let max = OneCycle::per_group(&self.max, group);
        let base = OneCycle::per_group(&self.base, group);
        let pct = self.pct_start;
        let n = max_iters as f64;
        let phases: Vec<(f64, f64, f64)> = if self.three_phase {
            vec![
                (pct * n - 1.0, max, base),
                (2.0 * pct * n - 2.0, base, max),
                (n - 1.0, max, max),
            ]
        } else {
            vec![(pct * n - 1.0, max, base), (n - 1.0, base, max)]
        };
        let cur = i as f64;
        let mut start = 0.0;
        let last = phases.len() - 1;
        for (k, (end, from, to)) in phases.iter().enumerate() {
            if cur <= *end || k == last {
                let pct = (cur - start) / (end - start);
                return self.anneal.apply(*from, *to, pct);
            }
            start = *end;
        }
        unreachable!("the last phase always matches")
    }
}

/// A schedule's shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// The base value.
    Fixed,
    /// `base * gamma ** k` with k the number of steps passed, floored at `min`.
    Step {
        /// When to step.
        step: StepSpec,
        /// Factor per step.
        gamma: f64,
        /// Floor (`min_lr` / `min_momentum`).
        min: Option<f64>,
    },
    /// `base * gamma ** progress`.
    Exp {
        /// Factor per epoch/iteration.
        gamma: f64,
    },
    /// `(base - min) * (1 - p/P) ** power + min`.
    Poly {
        /// Exponent.
        power: f64,
        /// Floor.
        min: f64,
    },
    /// `base * (1 + gamma * p) ** -power`.
    Inv {
        /// Scale.
        gamma: f64,
        /// Exponent.
        power: f64,
    },
    /// Cosine from base to target over the run.
    CosineAnnealing {
        /// End value.
        target: Target,
    },
    /// Flat, then cosine from `start_percent` of the run.
    FlatCosineAnnealing {
        /// Where the cosine starts (fraction of the run).
        start_percent: f64,
        /// End value.
        target: Target,
    },
    /// Cosine with restarts.
    CosineRestart {
        /// Length of each period.
        periods: Vec<u64>,
        /// Amplitude of each period.
        restart_weights: Vec<f64>,
        /// End value.
        target: Target,
    },
    /// Straight line from base to target over the run.
    LinearAnnealing {
        /// End value.
        target: Target,
    },
    /// Cyclic (triangular/cosine) cycles over the run's iterations.
    Cyclic {
        /// `(peak ratio, end ratio)`.
        target_ratio: (f64, f64),
        /// Number of cycles over `max_iters`.
        cyclic_times: u64,
        /// Fraction of a cycle spent going up.
        step_ratio_up: f64,
        /// Curve.
        anneal: Anneal,
        /// Amplitude decay per cycle.
        gamma: f64,
    },
    /// OneCycle.
    OneCycle(OneCycle),
}

/// The counters a policy needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// `epoch` (by_epoch) or `iter`.
    pub progress: u64,
    /// `max_epochs` (by_epoch) or `max_iters`.
    pub max_progress: u64,
    /// The global iteration (Cyclic and OneCycle always count iterations).
    pub iter: u64,
    /// `max_iters`.
    pub max_iters: u64,
}

/// Python's `round()` on a float: halves go to the even neighbour.
pub(crate) fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

impl Policy {
    /// The regular (pre-warmup) value for a group with base value `base`, or an error for a
    /// progress the policy does not cover (CosineRestart past its periods, a Cyclic cycle
    /// with no phase).
    pub fn regular(&self, base: f64, at: Progress) -> Result<f64, String> {
        let p = at.progress as f64;
        let max = at.max_progress as f64;
        Ok(match self {
            Policy::Fixed => base,
            Policy::Step { step, gamma, min } => {
                let exp = match step {
                    StepSpec::Every(n) => at.progress / n,
                    StepSpec::Milestones(ms) => {
                        ms.iter().position(|m| at.progress < *m).unwrap_or(ms.len()) as u64
                    }
                };
                let value = base * gamma.powf(exp as f64);
                match min {
                    Some(m) => value.max(*m),
                    None => value,
                }
            }
            Policy::Exp { gamma } => base * gamma.powf(p),
            Policy::Poly { power, min } => {
                let coeff = (1.0 - p / max).powf(*power);
                (base - min) * coeff + min
            }
            Policy::Inv { gamma, power } => base * (1.0 + gamma * p).powf(-power),
            Policy::CosineAnnealing { target } => {
                annealing_cos(base, target.value(base), p / max, 1.0)
            }
            Policy::FlatCosineAnnealing {
                start_percent,
                target,
            } => {
                let start = round_half_even(max * start_percent);
                let progress = p - start;
                let max_progress = max - start;
                if progress < 0.0 {
                    base
                } else {
                    annealing_cos(base, target.value(base), progress / max_progress, 1.0)
                }
            }
            Policy::CosineRestart {
                periods,
                restart_weights,
                target,
            } => {
                let mut cumulative = 0;
                let mut found = None;
                for (idx, period) in periods.iter().enumerate() {
                    let start = cumulative;
                    cumulative += period;
                    if at.progress < cumulative {
                        found = Some((idx, start));
                        break;
                    }
                }
                let Some((idx, start)) = found else {
                    return Err(format!(
                        "CosineRestart: progress {} is past the sum of periods {cumulative}",
                        at.progress
                    ));
                };
                let alpha = ((at.progress - start) as f64 / periods[idx] as f64).min(1.0);
                annealing_cos(base, target.value(base), alpha, restart_weights[idx])
            }
            Policy::LinearAnnealing { target } => {
                annealing_linear(base, target.value(base), p / max)
            }
            Policy::Cyclic {
                target_ratio,
                cyclic_times,
                step_ratio_up,
                anneal,
                gamma,
            } => {
                let per_phase = at.max_iters / cyclic_times;
                if per_phase == 0 {
                    return Err(format!(
                        "Cyclic: {cyclic_times} cycles do not fit in {} iterations",
                        at.max_iters
                    ));
                }
                let up = (step_ratio_up * per_phase as f64) as u64;
                let cur = at.iter % per_phase;
                let cycle = at.iter / per_phase;
                let scale = gamma.powf(cycle as f64);
                let phases = [
                    (0, up, 1.0, target_ratio.0),
                    (up, per_phase, target_ratio.0, target_ratio.1),
                ];
                for (start, end, mut start_ratio, mut end_ratio) in phases {
                    if start <= cur && cur < end {
                        if start == 0 {
                            end_ratio = 1.0 - scale + end_ratio * scale;
                        } else {
                            start_ratio = 1.0 - scale + start_ratio * scale;
                        }
                        let progress = (cur - start) as f64 / (end - start) as f64;
                        return Ok(anneal.apply(base * start_ratio, base * end_ratio, progress));
                    }
                }
                return Err(format!("Cyclic: no phase covers iteration {}", at.iter));
            }
            Policy::OneCycle(oc) => oc.lr(base, at.iter, oc.total_steps.unwrap_or(at.max_iters)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(p: u64, max: u64) -> Progress {
        Progress {
            progress: p,
            max_progress: max,
            iter: p,
            max_iters: max,
        }
    }

    #[test]
    fn step_counts_milestones_passed() {
        let policy = Policy::Step {
            step: StepSpec::Milestones(vec![2, 4]),
            gamma: 0.1,
            min: None,
        };
        let lrs: Vec<f64> = (0..6)
            .map(|e| policy.regular(1.0, at(e, 6)).unwrap())
            .collect();
        assert_eq!(lrs[0], 1.0);
        assert_eq!(lrs[1], 1.0);
        assert_eq!(lrs[2], 0.1);
        assert_eq!(lrs[4], 0.1f64.powf(2.0));
    }

    #[test]
    fn python_round_is_half_to_even() {
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(3.4), 3.0);
        assert_eq!(round_half_even(7.5), 8.0);
    }

    #[test]
    fn cosine_restart_errors_past_its_periods() {
        let policy = Policy::CosineRestart {
            periods: vec![2, 2],
            restart_weights: vec![1.0, 0.5],
            target: Target::Min(0.0),
        };
        assert!(policy.regular(1.0, at(3, 10)).is_ok());
        assert!(policy.regular(1.0, at(4, 10)).is_err());
    }
}
