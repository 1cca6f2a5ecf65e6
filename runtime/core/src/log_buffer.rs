//! MMCV's `LogBuffer`: histories of logged values and the averaged output loggers print.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

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
        for (key, entries) in &mut self.history {
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
            // The window's device values are on the host now: keep only the numbers, so
            // that the history does not hold a device tensor per iteration until the epoch
            // ends.
            for (v, _) in &mut entries[start..] {
                if let Scalar::Device(_) = v {
                    *v = Scalar::Host(v.get());
                }
            }
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

    /// Everything the buffer holds, as JSON, for checkpoints: a run resumed in the middle of
    /// a logging window then averages the same values as the uninterrupted run. (Reads the
    /// device values of the open window; checkpoints are rare.)
    pub fn snapshot(&self) -> Value {
        let history: Map<String, Value> = self
            .history
            .iter()
            .map(|(k, entries)| {
                let items = entries
                    .iter()
                    .map(|(v, n)| json!([number(v.get()), n]))
                    .collect();
                (k.clone(), Value::Array(items))
            })
            .collect();
        let output: Map<String, Value> = self
            .output
            .iter()
            .map(|(k, v)| {
                let tagged = match v {
                    LogValue::Float(f) => json!({ "f": number(*f) }),
                    LogValue::Int(i) => json!({ "i": i }),
                    LogValue::Text(t) => json!({ "t": t }),
                };
                (k.clone(), tagged)
            })
            .collect();
        json!({ "history": history, "output": output, "ready": self.ready })
    }

    /// Restores what [`LogBuffer::snapshot`] wrote.
    pub fn restore(&mut self, saved: &Value) -> Result<(), String> {
        let bad = || "the checkpoint's log buffer record is malformed".to_string();
        let mut restored = LogBuffer::default();
        if let Some(history) = saved.get("history").and_then(Value::as_object) {
            for (k, entries) in history {
                let entries = entries.as_array().ok_or_else(bad)?;
                let mut out = Vec::with_capacity(entries.len());
                for e in entries {
                    let v = e.get(0).and_then(from_number).ok_or_else(bad)?;
                    let n = e.get(1).and_then(Value::as_u64).ok_or_else(bad)?;
                    out.push((Scalar::Host(v), n as usize));
                }
                restored.history.insert(k.clone(), out);
            }
        }
        if let Some(output) = saved.get("output").and_then(Value::as_object) {
            for (k, v) in output {
                let value = if let Some(f) = v.get("f") {
                    LogValue::Float(from_number(f).ok_or_else(bad)?)
                } else if let Some(i) = v.get("i").and_then(Value::as_i64) {
                    LogValue::Int(i)
                } else if let Some(t) = v.get("t").and_then(Value::as_str) {
                    LogValue::Text(t.to_string())
                } else {
                    return Err(bad());
                };
                restored.output.insert(k.clone(), value);
            }
        }
        restored.ready = saved.get("ready").and_then(Value::as_bool).unwrap_or(false);
        *self = restored;
        Ok(())
    }
}

/// A float as JSON, which has no NaN or infinities: those as strings.
fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(v.to_string()))
}

fn from_number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
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

    #[test]
    fn a_snapshot_restores_the_open_window_exactly() {
        let mut buf = LogBuffer::default();
        buf.update(
            &[("loss".into(), 0.1.into()), ("x".into(), f64::NAN.into())],
            3,
        );
        buf.update_one("loss", 0.2.into(), 1);
        buf.output.insert("eval_iter_num".into(), LogValue::Int(7));
        buf.ready = true;
        let saved = buf.snapshot();
        let mut back = LogBuffer::default();
        back.restore(&serde_json::from_str(&saved.to_string()).unwrap())
            .unwrap();
        assert_eq!(back.snapshot(), saved);
        back.average(2);
        buf.average(2);
        assert_eq!(back.output["loss"], buf.output["loss"]);
        assert!(matches!(back.output["x"], LogValue::Float(f) if f.is_nan()));
    }
}
