//! Time as the timer hook sees it; tests replace it with a deterministic clock.

use std::time::Instant;

/// A monotonic clock in seconds.
pub trait Clock: Send {
    /// Seconds since an arbitrary fixed point.
    fn now(&mut self) -> f64;
}

/// Wall time from [`Instant`].
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&mut self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// A clock that advances by a fixed cycle of steps on every reading (the MMCV oracles'
/// fake clock: the k-th reading is `start + sum of steps[j % len] for j < k`), so timing
/// columns in logs are exact in tests.
pub struct SteppingClock {
    steps: Vec<f64>,
    next: usize,
    now: f64,
}

impl SteppingClock {
    /// A clock whose first reading is 0 and that advances by `steps[k % len]` after the
    /// k-th reading.
    pub fn new(steps: Vec<f64>) -> Self {
        SteppingClock {
            steps,
            next: 0,
            now: 0.0,
        }
    }
}

impl Clock for SteppingClock {
    fn now(&mut self) -> f64 {
        let reading = self.now;
        if !self.steps.is_empty() {
            self.now += self.steps[self.next % self.steps.len()];
            self.next += 1;
        }
        reading
    }
}
