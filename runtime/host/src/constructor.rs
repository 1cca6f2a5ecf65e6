//! An optimizer constructor backed by a component: the parameter and module table in,
//! groups out. The engine checks the groups (every parameter exactly once) afterwards.

use std::sync::Arc;

use weft_core::paramwise::{GroupSpec, ModelTable};
use weft_core::plugin::ExternalConstructor;

use crate::plugin::{Linked, Plugin};
use crate::wit::latest::{ModuleInfo, ParamInfo};

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

fn tables(table: &ModelTable) -> (Vec<ModuleInfo>, Vec<ParamInfo>) {
    let modules = table
        .modules
        .iter()
        .map(|m| ModuleInfo {
            path: m.path.clone(),
            kind: m.kind.clone(),
            attrs_json: serde_json::Value::Object(m.attrs.clone()).to_string(),
        })
        .collect();
    let params = table
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| ParamInfo {
            name: table.name(i),
            shape: p.shape.iter().map(|d| *d as u64).collect(),
            requires_grad: p.requires_grad,
            module: p.module as u32,
            alias_of: p.alias_of.map(|a| a as u32),
        })
        .collect();
    (modules, params)
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
        let (modules, params) = tables(table);
        let _call = plugin.arm(&mut store)?;
        let result = bindings.weft_plugin_constructors().call_build(
            &mut store,
            &optimizer.to_string(),
            &modules,
            &params,
        );
        let stderr = store.data_mut().flush_output();
        let groups = match result {
            Ok(Ok(groups)) => groups,
            Ok(Err(m)) => return Err(plugin.failure("build", &m, &stderr)),
            Err(e) => return Err(plugin.fault("build", &e, &stderr)),
        };
        Ok(groups
            .into_iter()
            .map(|g| GroupSpec {
                params: g.params.into_iter().map(|i| i as usize).collect(),
                options: g.options.into_iter().collect(),
            })
            .collect())
    }
}
