//! # weft-guest: weft plugins in Rust
//!
//! A plugin is a WebAssembly component that weft loads from `custom_imports`. This crate
//! hides the raw bindings of the `weft:plugin` WIT package behind a trait per plugin kind,
//! with a no-op default for every hook point, and a macro that exports it:
//!
//! ```ignore
//! use weft_guest::hook::{Hook, HookPoint, RunState, register_hook};
//!
//! #[derive(serde::Deserialize)]
//! struct MyHook { a: i64, b: String }
//!
//! impl Hook for MyHook {
//!     const TYPE_NAME: &'static str = "MyHook";
//!     fn new(config: serde_json::Value) -> Result<Self, String> {
//!         serde_json::from_value(config).map_err(|e| e.to_string())
//!     }
//!     fn points(&self) -> Vec<HookPoint> {
//!         vec![HookPoint::BeforeRun]
//!     }
//!     fn before_run(&mut self, _s: &RunState) -> Result<(), String> {
//!         weft_guest::hook::info(&format!("a = {}, b = {}", self.a, self.b));
//!         Ok(())
//!     }
//! }
//! register_hook!(MyHook);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component. Enable the crate feature of the plugin
//! kind: `hook`, `constructor` or `optimizer`.

#[cfg(feature = "constructor")]
pub mod constructor;
#[cfg(feature = "hook")]
pub mod hook;
#[cfg(feature = "optimizer")]
pub mod optimizer;

/// A plugin's state as JSON text, for `save_state` (checkpoints keep it as given).
pub fn save_json<T: serde::Serialize>(state: &T) -> Result<Option<String>, String> {
    serde_json::to_string(state)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The state `save_json` wrote, for `load_state` when a run resumes.
pub fn load_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("bad saved state: {e}"))
}

/// Reads a plugin's JSON config into a typed struct, with the key path in errors.
pub fn config<T: serde::de::DeserializeOwned>(config: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(config).map_err(|e| format!("bad plugin config: {e}"))
}
