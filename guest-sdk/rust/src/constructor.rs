//! Optimizer constructors: the model's modules and parameters in, parameter groups out
//! (MMCV's `OptimizerConstructor`).

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.1.0",
        world: "optimizer-constructor",
        default_bindings_module: "weft_guest::constructor::bindings",
        // The plugin crate exports (through `register_constructor!`), so that a build with
        // several of this crate's features on still yields a component of one world.
        pub_export_macro: true,
        export_macro_name: "export_constructor_world",
    });
}

pub use bindings::log;
pub use bindings::weft::plugin::types::{LogLevel, ModuleInfo, ParamGroup, ParamInfo};

impl ModuleInfo {
    /// The constructor attributes (`in_channels`, `groups`, ...) as a JSON object.
    pub fn attrs(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(&self.attrs_json).unwrap_or_default()
    }

    /// One integer attribute.
    pub fn attr_i64(&self, name: &str) -> Option<i64> {
        self.attrs().get(name).and_then(serde_json::Value::as_i64)
    }
}

/// An optimizer constructor.
pub trait Constructor: 'static {
    /// The name configs use: `optimizer = { ..., constructor = "MyOptimizerConstructor" }`.
    const TYPE_NAME: &'static str;

    /// Builds the groups. `optimizer` is the optimizer table without `type` and
    /// `constructor` (`lr`, `weight_decay`, `paramwise_cfg`, ...). `params` lists every
    /// parameter entry in MMCV's `add_params` order; put each index whose `alias_of` is none
    /// and that `requires_grad` in exactly one group.
    fn build(
        optimizer: serde_json::Value,
        modules: &[ModuleInfo],
        params: &[ParamInfo],
    ) -> Result<Vec<ParamGroup>, String>;
}

#[doc(hidden)]
pub struct Registration {
    pub type_name: &'static str,
    pub build:
        fn(serde_json::Value, &[ModuleInfo], &[ParamInfo]) -> Result<Vec<ParamGroup>, String>,
}

unsafe extern "Rust" {
    // Defined by `register_constructor!` in the plugin crate.
    safe fn __weft_guest_constructor_registration() -> Registration;
}

#[doc(hidden)]
pub struct Component;

impl bindings::exports::weft::plugin::constructors::Guest for Component {
    fn type_name() -> String {
        __weft_guest_constructor_registration()
            .type_name
            .to_string()
    }

    fn build(
        optimizer_json: String,
        modules: Vec<ModuleInfo>,
        params: Vec<ParamInfo>,
    ) -> Result<Vec<ParamGroup>, String> {
        let optimizer = serde_json::from_str(&optimizer_json)
            .map_err(|e| format!("bad optimizer JSON: {e}"))?;
        (__weft_guest_constructor_registration().build)(optimizer, &modules, &params)
    }
}

/// Exports a [`Constructor`] type as the component's constructor.
#[macro_export]
macro_rules! register_constructor {
    ($t:ty) => {
        #[unsafe(no_mangle)]
        fn __weft_guest_constructor_registration() -> $crate::constructor::Registration {
            $crate::constructor::Registration {
                type_name: <$t as $crate::constructor::Constructor>::TYPE_NAME,
                build: <$t as $crate::constructor::Constructor>::build,
            }
        }
        use $crate::constructor::Component as __WeftConstructorComponent;
        $crate::constructor::bindings::export_constructor_world!(__WeftConstructorComponent with_types_in $crate::constructor::bindings);
    };
}
pub use register_constructor;
