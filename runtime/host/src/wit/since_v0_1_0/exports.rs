//! Calls into what a component of this version exports, in the host's own types (stages,
//! model tables, group specs), so that the code driving plugins is written once for every
//! version. These exports have not changed since 0.1.0: later versions compile this same file
//! against their own bindings. (The hook points' exports changed in 0.3.0: they are in
//! `hook_call.rs`.)

use wasmtime::Store;
use wasmtime::component::Resource;
use weft_core::Stage;
use weft_core::paramwise::{GroupSpec, ModelTable};

use super::constructor_world::OptimizerConstructor;
use super::hook_world::Hook;
use super::optimizer_world::CustomOptimizer;
use super::{ModuleInfo, ParamInfo, stage_of};
use crate::state::HostState;
use crate::tensors::StepHandle;

type Outcome<T> = wasmtime::Result<Result<T, String>>;

/// `type-name` of a hook.
pub fn hook_type_name(b: &Hook, store: &mut Store<HostState>) -> wasmtime::Result<String> {
    b.weft_plugin_hooks().call_type_name(store)
}

/// `init` of a hook: the stages it implements.
pub fn hook_init(b: &Hook, store: &mut Store<HostState>, config: &str) -> Outcome<Vec<Stage>> {
    Ok(b.weft_plugin_hooks()
        .call_init(store, config)?
        .map(|points| points.into_iter().map(stage_of).collect()))
}

/// `save-state` of a hook.
pub fn hook_save_state(b: &Hook, store: &mut Store<HostState>) -> Outcome<Option<String>> {
    b.weft_plugin_hooks().call_save_state(store)
}

/// `load-state` of a hook.
pub fn hook_load_state(b: &Hook, store: &mut Store<HostState>, text: &str) -> Outcome<()> {
    b.weft_plugin_hooks().call_load_state(store, text)
}

/// `type-name` of an optimizer constructor.
pub fn constructor_type_name(
    b: &OptimizerConstructor,
    store: &mut Store<HostState>,
) -> wasmtime::Result<String> {
    b.weft_plugin_constructors().call_type_name(store)
}

/// `build` of an optimizer constructor, over the model's table.
pub fn constructor_build(
    b: &OptimizerConstructor,
    store: &mut Store<HostState>,
    optimizer: &str,
    table: &ModelTable,
) -> Outcome<Vec<GroupSpec>> {
    let modules: Vec<ModuleInfo> = table
        .modules
        .iter()
        .map(|m| ModuleInfo {
            path: m.path.clone(),
            kind: m.kind.clone(),
            attrs_json: serde_json::Value::Object(m.attrs.clone()).to_string(),
        })
        .collect();
    let params: Vec<ParamInfo> = table
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
    let groups = b
        .weft_plugin_constructors()
        .call_build(store, optimizer, &modules, &params)?;
    Ok(groups.map(|groups| {
        groups
            .into_iter()
            .map(|g| GroupSpec {
                params: g.params.into_iter().map(|i| i as usize).collect(),
                options: g.options.into_iter().collect(),
            })
            .collect()
    }))
}

/// `type-name` of a custom optimizer.
pub fn optimizer_type_name(
    b: &CustomOptimizer,
    store: &mut Store<HostState>,
) -> wasmtime::Result<String> {
    b.weft_plugin_optimizer().call_type_name(store)
}

/// `init` of a custom optimizer: its defaults.
pub fn optimizer_init(
    b: &CustomOptimizer,
    store: &mut Store<HostState>,
    config: &str,
) -> Outcome<Vec<(String, f64)>> {
    b.weft_plugin_optimizer().call_init(store, config)
}

/// `step` of a custom optimizer.
pub fn optimizer_step(
    b: &CustomOptimizer,
    store: &mut Store<HostState>,
    step: Resource<StepHandle>,
) -> Outcome<()> {
    b.weft_plugin_optimizer().call_step(store, step)
}
