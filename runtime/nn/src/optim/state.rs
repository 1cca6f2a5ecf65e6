//! Per-parameter optimizer state (buffers and scalar counters), saved into checkpoints as
//! `<parameter>.<key>` tensors plus a JSON map of scalars.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};
use tch::{TchError, Tensor};

use crate::store::Param;

/// Scalar counters the update rules keep per parameter.
const SCALAR_KEYS: [&str; 4] = ["step", "mu_product", "eta", "mu"];

/// State of every parameter, keyed by parameter index and state name.
#[derive(Debug, Default)]
pub struct ParamStates {
    tensors: BTreeMap<(usize, &'static str), Tensor>,
    scalars: BTreeMap<(usize, &'static str), f64>,
}

impl ParamStates {
    /// The buffer `key` of parameter `i`, created by `init` on first use. The returned handle
    /// shares storage with the stored one.
    pub fn buffer(
        &mut self,
        i: usize,
        key: &'static str,
        init: impl FnOnce() -> Result<Tensor, TchError>,
    ) -> Result<Tensor, TchError> {
        if let Some(t) = self.tensors.get(&(i, key)) {
            return Ok(t.shallow_clone());
        }
        let t = init()?;
        let handle = t.shallow_clone();
        self.tensors.insert((i, key), t);
        Ok(handle)
    }

    /// The buffer if it exists.
    pub fn get(&self, i: usize, key: &'static str) -> Option<Tensor> {
        self.tensors.get(&(i, key)).map(Tensor::shallow_clone)
    }

    /// Replaces a buffer.
    pub fn set(&mut self, i: usize, key: &'static str, t: Tensor) {
        self.tensors.insert((i, key), t);
    }

    /// A scalar counter, if set.
    pub fn scalar(&self, i: usize, key: &'static str) -> Option<f64> {
        self.scalars.get(&(i, key)).copied()
    }

    /// Sets a scalar counter.
    pub fn set_scalar(&mut self, i: usize, key: &'static str, v: f64) {
        self.scalars.insert((i, key), v);
    }

    /// Increments and returns the `step` counter of parameter `i`.
    pub fn next_step(&mut self, i: usize) -> f64 {
        let s = self.scalar(i, "step").unwrap_or(0.0) + 1.0;
        self.set_scalar(i, "step", s);
        s
    }

    /// Tensors named `<parameter>.<key>`, sorted.
    pub fn tensors(&self, params: &[Param]) -> Vec<(String, Tensor)> {
        self.tensors
            .iter()
            .map(|((i, k), t)| (format!("{}.{k}", params[*i].name), t.shallow_clone()))
            .collect()
    }

    /// Scalars as `{parameter: {key: value}}`.
    pub fn scalars_json(&self, params: &[Param]) -> Value {
        let mut out = Map::new();
        for ((i, k), v) in &self.scalars {
            let entry = out
                .entry(params[*i].name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert((*k).to_string(), Value::from(*v));
            }
        }
        Value::Object(out)
    }

    /// Restores state saved by [`ParamStates::tensors`] and [`ParamStates::scalars_json`]:
    /// the buffers named in `keys` and every scalar counter.
    pub fn load(
        &mut self,
        params: &[Param],
        tensors: &mut HashMap<String, Tensor>,
        scalars: &Value,
        keys: &[&'static str],
    ) -> Result<(), TchError> {
        self.tensors.clear();
        self.scalars.clear();
        for (i, p) in params.iter().enumerate() {
            for key in keys {
                if let Some(t) = tensors.remove(&format!("{}.{key}", p.name)) {
                    self.tensors
                        .insert((i, key), t.f_to_device(p.tensor.device())?);
                }
            }
            for key in SCALAR_KEYS {
                if let Some(v) = scalars
                    .get(&p.name)
                    .and_then(|m| m.get(key))
                    .and_then(Value::as_f64)
                {
                    self.scalars.insert((i, key), v);
                }
            }
        }
        Ok(())
    }
}
