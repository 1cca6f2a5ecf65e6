//! Custom optimizers: the update rule in the plugin, the tensors and their arithmetic in the
//! host (on the model's device). Each operation takes lists, so a step is a few calls per
//! group whatever the number of parameters.

use std::cell::RefCell;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.1.0",
        world: "custom-optimizer",
        default_bindings_module: "weft_guest::optimizer::bindings",
        // The plugin crate exports (through `register_optimizer!`), so that a build with
        // several of this crate's features on still yields a component of one world.
        pub_export_macro: true,
        export_macro_name: "export_optimizer_world",
    });
}

pub use bindings::log;
pub use bindings::weft::plugin::steps::StepContext;
pub use bindings::weft::plugin::tensors::{
    Tensor, add, addcdiv, addcmul, copies, copy_from, lerp, maximum, mul_scalar, norms, sqrt_add,
};
pub use bindings::weft::plugin::types::LogLevel;

/// Reads an option from a group's options (as [`StepContext::options`] returns them).
pub fn option(options: &[(String, f64)], name: &str) -> Option<f64> {
    options.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

/// Borrows every tensor of a list, the form the operations take.
pub fn refs(ts: &[Tensor]) -> Vec<&Tensor> {
    ts.iter().collect()
}

/// A custom optimizer.
pub trait Optimizer: Sized + 'static {
    /// The name configs use: `optimizer = { type = "MyOptimizer", ... }`.
    const TYPE_NAME: &'static str;

    /// Builds the optimizer from its config table (without `type`).
    fn new(config: serde_json::Value) -> Result<Self, String>;

    /// Every option with its value for groups that do not override it; `lr` must be among
    /// them, and `momentum` if a momentum schedule should drive it.
    fn defaults(&self) -> Vec<(String, f64)>;

    /// One update of every group.
    fn step(&mut self, ctx: &StepContext) -> Result<(), String>;
}

#[doc(hidden)]
pub trait DynOptimizer {
    fn defaults(&self) -> Vec<(String, f64)>;
    fn step(&mut self, ctx: &StepContext) -> Result<(), String>;
}

impl<O: Optimizer> DynOptimizer for O {
    fn defaults(&self) -> Vec<(String, f64)> {
        Optimizer::defaults(self)
    }
    fn step(&mut self, ctx: &StepContext) -> Result<(), String> {
        Optimizer::step(self, ctx)
    }
}

#[doc(hidden)]
pub struct Registration {
    pub type_name: &'static str,
    pub new: fn(serde_json::Value) -> Result<Box<dyn DynOptimizer>, String>,
}

unsafe extern "Rust" {
    // Defined by `register_optimizer!` in the plugin crate.
    safe fn __weft_guest_optimizer_registration() -> Registration;
}

thread_local! {
    static OPTIMIZER: RefCell<Option<Box<dyn DynOptimizer>>> = const { RefCell::new(None) };
}

#[doc(hidden)]
pub struct Component;

impl bindings::exports::weft::plugin::optimizer::Guest for Component {
    fn type_name() -> String {
        __weft_guest_optimizer_registration().type_name.to_string()
    }

    fn init(config_json: String) -> Result<Vec<(String, f64)>, String> {
        let config =
            serde_json::from_str(&config_json).map_err(|e| format!("bad config JSON: {e}"))?;
        let opt = (__weft_guest_optimizer_registration().new)(config)?;
        let defaults = opt.defaults();
        OPTIMIZER.with(|o| *o.borrow_mut() = Some(opt));
        Ok(defaults)
    }

    fn step(ctx: &StepContext) -> Result<(), String> {
        OPTIMIZER.with(|o| match o.borrow_mut().as_deref_mut() {
            Some(opt) => opt.step(ctx),
            None => Err("step was called before init".into()),
        })
    }
}

/// Exports an [`Optimizer`] type as the component's optimizer.
#[macro_export]
macro_rules! register_optimizer {
    ($t:ty) => {
        #[unsafe(no_mangle)]
        fn __weft_guest_optimizer_registration() -> $crate::optimizer::Registration {
            $crate::optimizer::Registration {
                type_name: <$t as $crate::optimizer::Optimizer>::TYPE_NAME,
                new: |config| {
                    <$t as $crate::optimizer::Optimizer>::new(config)
                        .map(|o| Box::new(o) as Box<dyn $crate::optimizer::DynOptimizer>)
                },
            }
        }
        use $crate::optimizer::Component as __WeftOptimizerComponent;
        $crate::optimizer::bindings::export_optimizer_world!(__WeftOptimizerComponent with_types_in $crate::optimizer::bindings);
    };
}
pub use register_optimizer;
