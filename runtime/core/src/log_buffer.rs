//! MMCV's `LogBuffer`: histories of logged values and the averaged output loggers print.

use indexmap::IndexMap;

use crate::engine::Scalar;

/// A value ready for loggers.
#[derive(Debug, Clone, PartialEq)]
pub enum LogValue {
    /// A float (printed with 4 decimals).
    Float(f64),
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
}

impl LogValue {
    /// The value as f64 if numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            LogValue::Float(f) => Some(*f),
            LogValue::Int(i) => Some(*i as f64),
            LogValue::Text(_) => None,
        }
    }
}

/// Logged values since the last clear, and the output of the last `average`.
#[derive(Debug, Default)]
pub struct LogBuffer {
    history: IndexMap<String, Vec<(Scalar, usize)>>,
    /// Averaged (or directly written) values for loggers, in insertion order.
    pub output: IndexMap<String, LogValue>,
    /// Whether `output` holds something to log.
    pub ready: bool,
}

impl LogBuffer {
    /// Appends values, each with weight `count`.
    pub fn update(&mut self, vars: &[(String, Scalar)], count: usize) {
        for (key, value) in vars {
            self.history
                .entry(key.clone())
                .or_default()
                .push((value.clone(), count));
        }
    }

    /// Appends one value.
    pub fn update_one(&mut self, key: &str, value: Scalar, count: usize) {
        self.history
            .entry(key.to_string())
            .or_default()
            .push((value, count));
    }

    /// Weighted mean of the last `n` entries of every key (`n = 0`: all) into `output`.
    pub fn average(&mut self, n: usize) {
        for (key, entries) in &self.history {
            let start = if n == 0 {
                0
            } else {
                entries.len().saturating_sub(n)
            };
            let (sum, count) = entries[start..]
                .iter()
                .fold((0.0, 0usize), |(s, c), (v, k)| {
                    (s + v.get() * *k as f64, c + k)
                });
            if count > 0 {
                self.output
                    .insert(key.clone(), LogValue::Float(sum / count as f64));
            }
        }
        self.ready = true;
    }

    /// Forgets histories and output.
    pub fn clear(&mut self) {
        self.history.clear();
        self.clear_output();
    }

    /// Forgets the output only.
    pub fn clear_output(&mut self) {
        self.output.clear();
        self.ready = false;
    }

    /// The most recent value of a key, if any (for hooks reading e.g. the last loss).
    pub fn last(&self, key: &str) -> Option<&Scalar> {
        self.history.get(key)?.last().map(|(v, _)| v)
    }

    /// Keys with history, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.history.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_weights_by_count_over_last_n() {
        let mut buf = LogBuffer::default();
        buf.update(&[("loss".into(), 1.0.into())], 2);
        buf.update(&[("loss".into(), 4.0.into())], 1);
        buf.update(&[("loss".into(), 2.0.into())], 1);
        buf.average(2);
        assert_eq!(buf.output["loss"], LogValue::Float(3.0));
        buf.average(0);
        assert_eq!(buf.output["loss"], LogValue::Float(2.0));
        assert!(buf.ready);
        buf.clear_output();
        assert!(!buf.ready && buf.output.is_empty());
    }
}
