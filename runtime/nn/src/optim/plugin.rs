//! Custom optimizers from plugins: the update rule runs in a component, the tensors and their
//! arithmetic stay here ([`NnTensor`] implements the core's [`TensorRef`]).

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tch::{TchError, Tensor};
use weft_core::plugin::{ExternalOptimizer, GroupOperand, Instr, StepView, TensorRef};
use weft_core::{EngineError, Momentum, ParamGroup};

use super::{Closure, Optimizer, StepError, ops};
use crate::store::Param;

fn err(e: TchError) -> EngineError {
    EngineError::new(e.to_string())
}

/// A tensor handle given to plugins (a shallow clone: it shares storage with the original).
pub struct NnTensor(pub Tensor);

impl NnTensor {
    fn of(t: &dyn TensorRef) -> Result<&Tensor, EngineError> {
        t.as_any()
            .downcast_ref::<NnTensor>()
            .map(|n| &n.0)
            .ok_or_else(|| EngineError::new("a tensor from another engine"))
    }

    fn same_shape(&self, other: &Tensor) -> Result<(), EngineError> {
        if self.0.size() != other.size() {
            return Err(EngineError::new(format!(
                "shapes differ: {:?} and {:?}",
                self.0.size(),
                other.size()
            )));
        }
        Ok(())
    }

    fn inplace(&self, f: impl FnOnce() -> Result<(), TchError>) -> Result<(), EngineError> {
        tch::no_grad(f).map_err(err)
    }

    /// An in-place update reading two more tensors of this one's shape.
    fn with_pair(
        &self,
        a: &dyn TensorRef,
        b: &dyn TensorRef,
        f: impl FnOnce(&Tensor, &Tensor) -> Result<(), TchError>,
    ) -> Result<(), EngineError> {
        let (a, b) = (NnTensor::of(a)?, NnTensor::of(b)?);
        self.same_shape(a)?;
        self.same_shape(b)?;
        self.inplace(|| f(a, b))
    }
}

impl TensorRef for NnTensor {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn numel(&self) -> u64 {
        self.0.numel() as u64
    }
    fn size_bytes(&self) -> u64 {
        (self.0.numel() * self.0.kind().elt_size_in_bytes()) as u64
    }
    fn shape(&self) -> Vec<u64> {
        self.0.size().iter().map(|d| *d as u64).collect()
    }
    fn zeros_like(&self) -> Result<Box<dyn TensorRef>, EngineError> {
        Ok(Box::new(NnTensor(ops::zeros_like(&self.0).map_err(err)?)))
    }
    fn copy(&self) -> Result<Box<dyn TensorRef>, EngineError> {
        Ok(Box::new(NnTensor(ops::clone(&self.0).map_err(err)?)))
    }
    fn norm(&self, p: f64) -> Result<f64, EngineError> {
        crate::clip::total_norm(&[self.0.shallow_clone()], p)
            .and_then(|n| n.f_double_value(&[]))
            .map_err(err)
    }
    fn head(&self, n: usize) -> Result<Vec<f64>, EngineError> {
        let flat = self.0.f_flatten(0, -1).map_err(err)?;
        let k = (flat.numel()).min(n) as i64;
        let part = flat
            .f_narrow(0, 0, k)
            .and_then(|t| t.f_to_kind(tch::Kind::Double))
            .map_err(err)?;
        Vec::<f64>::try_from(part).map_err(err)
    }
    fn add_(&self, x: &dyn TensorRef, alpha: f64) -> Result<(), EngineError> {
        let x = NnTensor::of(x)?;
        self.same_shape(x)?;
        self.inplace(|| ops::add_(&self.0, x, alpha))
    }
    fn mul_scalar_(&self, s: f64) -> Result<(), EngineError> {
        self.inplace(|| ops::mul_(&self.0, s))
    }
    fn addcmul_(
        &self,
        a: &dyn TensorRef,
        b: &dyn TensorRef,
        value: f64,
    ) -> Result<(), EngineError> {
        self.with_pair(a, b, |a, b| ops::addcmul_(&self.0, a, b, value))
    }
    fn addcdiv_(
        &self,
        a: &dyn TensorRef,
        b: &dyn TensorRef,
        value: f64,
    ) -> Result<(), EngineError> {
        self.with_pair(a, b, |a, b| ops::addcdiv_(&self.0, a, b, value))
    }
    fn lerp_(&self, end: &dyn TensorRef, w: f64) -> Result<(), EngineError> {
        let end = NnTensor::of(end)?;
        self.same_shape(end)?;
        self.inplace(|| ops::lerp_(&self.0, end, w))
    }
    fn copy_from_(&self, src: &dyn TensorRef) -> Result<(), EngineError> {
        let src = NnTensor::of(src)?;
        self.same_shape(src)?;
        self.inplace(|| ops::copy_(&self.0, src))
    }
    fn sqrt_add(&self, eps: f64) -> Result<Box<dyn TensorRef>, EngineError> {
        let t = tch::no_grad(|| self.0.f_sqrt()?.f_add_scalar(eps)).map_err(err)?;
        Ok(Box::new(NnTensor(t)))
    }
    fn maximum_(&self, x: &dyn TensorRef) -> Result<(), EngineError> {
        let x = NnTensor::of(x)?;
        self.same_shape(x)?;
        self.inplace(|| ops::copy_(&self.0, &self.0.f_maximum(x)?))
    }
    fn run_program(
        &self,
        program: &[Instr],
        operands: &[Vec<&dyn TensorRef>],
    ) -> Result<(), EngineError> {
        let tensors = operands
            .iter()
            .map(|list| {
                list.iter()
                    .map(|t| NnTensor::of(*t).map(Tensor::shallow_clone))
                    .collect()
            })
            .collect::<Result<Vec<Vec<Tensor>>, EngineError>>()?;
        super::fused::run_program(program, &tensors).map_err(err)
    }
}

/// State tensors by name (`momentum_buffer`), then by parameter index: looked up by `&str`
/// at every step, so a step allocates no keys.
type States = Arc<Mutex<HashMap<String, HashMap<usize, Tensor>>>>;

/// One step as a plugin sees it.
struct View {
    options: Vec<Vec<(String, f64)>>,
    members: Vec<Vec<usize>>,
    params: Vec<Vec<Tensor>>,
    grads: Vec<Vec<Tensor>>,
    states: States,
}

impl StepView for View {
    fn num_groups(&self) -> usize {
        self.options.len()
    }
    fn options(&self, group: usize) -> Vec<(String, f64)> {
        self.options.get(group).cloned().unwrap_or_default()
    }
    fn params(&self, group: usize) -> Vec<Box<dyn TensorRef>> {
        self.params.get(group).map_or_else(Vec::new, |ps| {
            ps.iter()
                .map(|t| Box::new(NnTensor(t.shallow_clone())) as Box<dyn TensorRef>)
                .collect()
        })
    }
    fn grads(&self, group: usize) -> Vec<Box<dyn TensorRef>> {
        self.grads.get(group).map_or_else(Vec::new, |gs| {
            gs.iter()
                .map(|t| Box::new(NnTensor(t.shallow_clone())) as Box<dyn TensorRef>)
                .collect()
        })
    }
    fn state(
        &mut self,
        group: usize,
        name: &str,
    ) -> Result<(Vec<Box<dyn TensorRef>>, bool), EngineError> {
        let fresh = !self.has_state(group, name);
        let tensors = self.state_tensors(group, name)?;
        let handles = tensors
            .into_iter()
            .map(|t| Box::new(NnTensor(t)) as Box<dyn TensorRef>)
            .collect();
        Ok((handles, fresh))
    }

    fn has_state(&self, group: usize, name: &str) -> bool {
        let (Some(members), Ok(states)) = (self.members.get(group), self.states.lock()) else {
            return false;
        };
        members.first().is_some_and(|i| {
            states
                .get(name)
                .is_some_and(|by_param| by_param.contains_key(i))
        })
    }

    fn run_program(
        &mut self,
        group: usize,
        program: &[Instr],
        operands: &[GroupOperand],
    ) -> Result<(), EngineError> {
        if group >= self.params.len() {
            return Err(EngineError::new(format!("there is no group {group}")));
        }
        let mut lists: Vec<Vec<Tensor>> = Vec::with_capacity(operands.len());
        for operand in operands {
            lists.push(match operand {
                GroupOperand::Params => self.params[group]
                    .iter()
                    .map(Tensor::shallow_clone)
                    .collect(),
                GroupOperand::Grads => self.grads[group]
                    .iter()
                    .map(Tensor::shallow_clone)
                    .collect(),
                GroupOperand::State(name) => self.state_tensors(group, name)?,
            });
        }
        super::fused::run_program(program, &lists).map_err(err)
    }
}

impl View {
    /// The group's state tensors of this name, created as zeros if missing.
    fn state_tensors(&mut self, group: usize, name: &str) -> Result<Vec<Tensor>, EngineError> {
        let (Some(members), Some(params)) = (self.members.get(group), self.params.get(group))
        else {
            return Err(EngineError::new(format!("there is no group {group}")));
        };
        let mut states = self
            .states
            .lock()
            .map_err(|_| EngineError::new("optimizer state lock poisoned"))?;
        if !states.contains_key(name) {
            states.insert(name.to_string(), HashMap::new());
        }
        let by_param = states
            .get_mut(name)
            .ok_or_else(|| EngineError::new("optimizer state vanished"))?;
        let mut out = Vec::with_capacity(members.len());
        for (i, p) in members.iter().zip(params) {
            let t = match by_param.get(i) {
                Some(t) => t.shallow_clone(),
                None => {
                    let t = ops::zeros_like(p).map_err(err)?;
                    by_param.insert(*i, t.shallow_clone());
                    t
                }
            };
            out.push(t);
        }
        Ok(out)
    }
}

/// A custom optimizer whose rule is a plugin's.
pub struct PluginOptimizer {
    plugin: Box<dyn ExternalOptimizer>,
    /// Options per group other than lr, momentum and weight decay (which live in the groups).
    options: Vec<BTreeMap<String, f64>>,
    states: States,
}

impl PluginOptimizer {
    /// An optimizer over groups with the given extra options.
    pub fn new(
        plugin: Box<dyn ExternalOptimizer>,
        mut options: Vec<BTreeMap<String, f64>>,
    ) -> PluginOptimizer {
        // The schedulable three are read from the groups at every step (hooks change them).
        for group in &mut options {
            group.retain(|k, _| !matches!(k.as_str(), "lr" | "momentum" | "weight_decay"));
        }
        PluginOptimizer {
            plugin,
            options,
            states: Arc::default(),
        }
    }
}

impl Optimizer for PluginOptimizer {
    fn name(&self) -> &str {
        self.plugin.name()
    }

    fn step(
        &mut self,
        params: &[Param],
        groups: &[ParamGroup],
        _closure: Option<&mut Closure<'_>>,
    ) -> Result<(), StepError> {
        let mut view = View {
            options: Vec::new(),
            members: Vec::new(),
            params: Vec::new(),
            grads: Vec::new(),
            states: self.states.clone(),
        };
        for (group, extra) in groups.iter().zip(&self.options) {
            let idx = &group.members;
            let mut opts: Vec<(String, f64)> = extra.iter().map(|(k, v)| (k.clone(), *v)).collect();
            opts.push(("lr".into(), group.lr));
            opts.push(("weight_decay".into(), group.weight_decay));
            if let Momentum::Momentum(m) = group.momentum {
                opts.push(("momentum".into(), m));
            }
            let with_grad: Vec<usize> = idx
                .iter()
                .copied()
                .filter(|i| params[*i].tensor.grad().defined())
                .collect();
            view.params.push(
                with_grad
                    .iter()
                    .map(|i| params[*i].tensor.shallow_clone())
                    .collect(),
            );
            view.grads
                .push(with_grad.iter().map(|i| params[*i].tensor.grad()).collect());
            view.members.push(with_grad);
            view.options.push(opts);
        }
        self.plugin.step(Box::new(view)).map_err(StepError::Plugin)
    }

    fn state_tensors(&self, params: &[Param]) -> Vec<(String, Tensor)> {
        let states = self.states.lock().expect("optimizer state lock");
        let mut out: Vec<(String, Tensor)> = states
            .iter()
            .flat_map(|(k, by_param)| {
                by_param
                    .iter()
                    .map(move |(i, t)| (format!("{}.{k}", params[*i].name), t.shallow_clone()))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn state_meta(&self, _params: &[Param]) -> Value {
        let names: Vec<String> = {
            let states = self.states.lock().expect("optimizer state lock");
            let mut n: Vec<String> = states
                .iter()
                .filter(|(_, by_param)| !by_param.is_empty())
                .map(|(k, _)| k.clone())
                .collect();
            n.sort();
            n
        };
        json!({ "plugin": self.plugin.name(), "state_names": names })
    }

    fn load_state(
        &mut self,
        params: &[Param],
        tensors: &mut HashMap<String, Tensor>,
        meta: &Value,
    ) -> Result<(), TchError> {
        let names: Vec<String> = meta
            .get("state_names")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut states = self.states.lock().expect("optimizer state lock");
        states.clear();
        for (i, p) in params.iter().enumerate() {
            for name in &names {
                if let Some(t) = tensors.remove(&format!("{}.{name}", p.name)) {
                    let t = t.f_to_device(p.tensor.device())?;
                    states.entry(name.clone()).or_default().insert(i, t);
                }
            }
        }
        Ok(())
    }
}
