//! What plugins may provide besides hooks: optimizer constructors and custom optimizers.
//!
//! Custom optimizers work on [`TensorRef`]s, abstract handles to tensors on the model's
//! device, so that neither this crate nor the WebAssembly host names libtorch: `weft-nn`
//! implements the handles, `weft-host` implements the optimizers by calling components.

use std::any::Any;
use std::collections::BTreeMap;

use crate::error::EngineError;
use crate::paramwise::{GroupSpec, ModelTable};

/// A tensor kept by the engine; operations run on its device.
pub trait TensorRef: Send {
    /// For implementations to recognise their own handles in binary operations.
    fn as_any(&self) -> &dyn Any;
    /// Number of elements.
    fn numel(&self) -> u64;
    /// Shape.
    fn shape(&self) -> Vec<u64>;
    /// A new zero tensor like this one.
    fn zeros_like(&self) -> Result<Box<dyn TensorRef>, EngineError>;
    /// A new tensor with a copy of the values.
    fn copy(&self) -> Result<Box<dyn TensorRef>, EngineError>;
    /// The p-norm over all elements (infinite p: largest absolute value); waits for the device.
    fn norm(&self, p: f64) -> Result<f64, EngineError>;
    /// The first `n` values (for inspection); waits for the device.
    fn head(&self, n: usize) -> Result<Vec<f64>, EngineError>;
    /// `self += alpha * x`.
    fn add_(&self, x: &dyn TensorRef, alpha: f64) -> Result<(), EngineError>;
    /// `self *= s`.
    fn mul_scalar_(&self, s: f64) -> Result<(), EngineError>;
    /// `self += value * a * b`.
    fn addcmul_(&self, a: &dyn TensorRef, b: &dyn TensorRef, value: f64)
    -> Result<(), EngineError>;
    /// `self += value * a / b`.
    fn addcdiv_(&self, a: &dyn TensorRef, b: &dyn TensorRef, value: f64)
    -> Result<(), EngineError>;
    /// `self += w * (end - self)`.
    fn lerp_(&self, end: &dyn TensorRef, w: f64) -> Result<(), EngineError>;
    /// `self = src`.
    fn copy_from_(&self, src: &dyn TensorRef) -> Result<(), EngineError>;
    /// A new tensor `sqrt(self) + eps`.
    fn sqrt_add(&self, eps: f64) -> Result<Box<dyn TensorRef>, EngineError>;
    /// `self = max(self, x)`.
    fn maximum_(&self, x: &dyn TensorRef) -> Result<(), EngineError>;
}

/// Gradient statistics of one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamStat {
    /// Qualified name.
    pub name: String,
    /// Number of elements.
    pub numel: u64,
    /// L2 norm of the gradient (0 without one).
    pub norm: f64,
    /// Largest absolute gradient value.
    pub abs_max: f64,
    /// Whether every gradient value is finite.
    pub finite: bool,
}

/// The gradients of a moment (after backward), readable later without borrowing the engine.
pub trait GradView: Send {
    /// The joint p-norm of all gradients, if any exist; waits for the device.
    fn norm(&self, p: f64) -> Result<Option<f64>, EngineError>;
    /// Statistics per parameter; waits for the device.
    fn stats(&self) -> Result<Vec<ParamStat>, EngineError>;
}

/// One step of a custom optimizer as the engine presents it.
pub trait StepView: Send {
    /// Number of parameter groups.
    fn num_groups(&self) -> usize;
    /// The group's options as scheduled for this step (`lr`, `momentum`, `weight_decay`, and
    /// the optimizer's other options).
    fn options(&self, group: usize) -> Vec<(String, f64)>;
    /// The group's parameters that have a gradient.
    fn params(&self, group: usize) -> Vec<Box<dyn TensorRef>>;
    /// Their gradients, in the same order.
    fn grads(&self, group: usize) -> Vec<Box<dyn TensorRef>>;
    /// A state tensor per parameter of [`StepView::params`], created as zeros on first use
    /// (then `true`); kept by the engine and saved in checkpoints.
    fn state(
        &mut self,
        group: usize,
        name: &str,
    ) -> Result<(Vec<Box<dyn TensorRef>>, bool), EngineError>;
}

/// An optimizer whose update rule lives elsewhere (a plugin).
pub trait ExternalOptimizer: Send {
    /// The type name.
    fn name(&self) -> &str;
    /// Option names with their defaults (`lr` among them).
    fn defaults(&self) -> &[(String, f64)];
    /// One update of every group.
    fn step(&mut self, view: Box<dyn StepView>) -> Result<(), String>;
}

/// An optimizer constructor whose rules live elsewhere (a plugin).
pub trait ExternalConstructor: Send {
    /// The type name.
    fn name(&self) -> &str;
    /// Parameter groups for the model; `optimizer` is the optimizer's config table (without
    /// `type` and `constructor`) as JSON. Group members are first-entry indices of `table`.
    fn build(
        &mut self,
        optimizer: &serde_json::Value,
        table: &ModelTable,
    ) -> Result<Vec<GroupSpec>, String>;
}

/// Creates a custom optimizer from its config table (as JSON).
pub type OptimizerFactory =
    Box<dyn Fn(&serde_json::Value) -> Result<Box<dyn ExternalOptimizer>, String> + Send + Sync>;

/// Creates an optimizer constructor.
pub type ConstructorFactory =
    Box<dyn Fn() -> Result<Box<dyn ExternalConstructor>, String> + Send + Sync>;

/// Optimizers and constructors provided by plugins, by type name.
#[derive(Default)]
pub struct Extensions {
    /// Custom optimizers.
    pub optimizers: BTreeMap<String, OptimizerFactory>,
    /// Optimizer constructors.
    pub constructors: BTreeMap<String, ConstructorFactory>,
}
