//! An optimizer constructor backed by a component: the parameter and module table in,
//! groups out. The engine checks the groups (every parameter exactly once) afterwards.

use std::sync::Arc;

use weft_core::paramwise::{GroupSpec, ModelTable};
use weft_core::plugin::ExternalConstructor;

use crate::plugin::{Linked, Plugin};

/// A constructor plugin; each `build` runs in a fresh instance.
pub struct WasmConstructor {
    plugin: Arc<Plugin>,
}

impl WasmConstructor {
    /// A constructor backed by `plugin`.
    pub fn new(plugin: Arc<Plugin>) -> WasmConstructor {
        WasmConstructor { plugin }
    }
}

impl ExternalConstructor for WasmConstructor {
    fn name(&self) -> &str {
        &self.plugin.info.type_name
    }

    fn build(
        &mut self,
        optimizer: &serde_json::Value,
        table: &ModelTable,
    ) -> Result<Vec<GroupSpec>, String> {
        let plugin = &self.plugin;
        let Linked::Constructor(pre) = &plugin.linked else {
            return Err(format!(
                "plugin {} is not an optimizer constructor",
                plugin.info.path
            ));
        };
        let (mut store, bindings) = plugin.instantiate(|s| pre.instantiate(s))?;
        let _call = plugin.arm(&mut store)?;
        let result = bindings.build(&mut store, &optimizer.to_string(), table);
        let stderr = store.data_mut().flush_output();
        let groups = match result {
            Ok(Ok(groups)) => groups,
            Ok(Err(m)) => return Err(plugin.failure("build", &m, &stderr)),
            Err(e) => return Err(plugin.fault("build", &e, &stderr)),
        };
        Ok(groups)
    }
}
