//! A custom optimizer backed by a component: the engine lends it a step context (groups,
//! options, parameter, gradient and state tensors as handles) and the component calls the
//! host's fused tensor operations, so the arithmetic stays native and on the model's device.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::Resource;
use weft_core::plugin::{ExternalOptimizer, StepView};

use crate::plugin::{Linked, Plugin};
use crate::state::HostState;
use crate::tensors::{StepHandle, TENSOR_BUDGET_FACTOR, TENSOR_BUDGET_MARGIN, step_resource};
use crate::wit::OptimizerInstance;

struct Live {
    store: Store<HostState>,
    bindings: OptimizerInstance,
    step: Resource<StepHandle>,
}

/// An optimizer whose update rule is a component's.
pub struct WasmOptimizer {
    plugin: Arc<Plugin>,
    defaults: Vec<(String, f64)>,
    live: Option<Live>,
    steps: u64,
}

impl WasmOptimizer {
    /// Instantiates the plugin and calls `init` with the optimizer table (without `type`).
    pub fn new(plugin: Arc<Plugin>, config: &serde_json::Value) -> Result<WasmOptimizer, String> {
        let Linked::Optimizer(pre) = &plugin.linked else {
            return Err(format!(
                "plugin {} is not a custom optimizer",
                plugin.info.path
            ));
        };
        let (mut store, bindings) = plugin.instantiate(|s| pre.instantiate(s))?;
        let step = step_resource(&mut store.data_mut().table).map_err(|e| e.to_string())?;
        let _call = plugin.arm(&mut store)?;
        let result = bindings.init(&mut store, &config.to_string());
        let stderr = store.data_mut().flush_output();
        let defaults = match result {
            Ok(Ok(d)) => d,
            Ok(Err(m)) => return Err(plugin.failure("init", &m, &stderr)),
            Err(e) => return Err(plugin.fault("init", &e, &stderr)),
        };
        if !defaults.iter().any(|(k, _)| k == "lr") {
            return Err(plugin.failure("init", "its defaults do not name `lr`", &stderr));
        }
        if let Some((k, v)) = defaults.iter().find(|(_, v)| !v.is_finite()) {
            return Err(plugin.failure(
                "init",
                &format!("default {k} = {v} is not finite"),
                &stderr,
            ));
        }
        Ok(WasmOptimizer {
            plugin,
            defaults,
            live: Some(Live {
                store,
                bindings,
                step,
            }),
            steps: 0,
        })
    }
}

impl ExternalOptimizer for WasmOptimizer {
    fn name(&self) -> &str {
        &self.plugin.info.type_name
    }

    fn defaults(&self) -> &[(String, f64)] {
        &self.defaults
    }

    fn step(&mut self, view: Box<dyn StepView>) -> Result<(), String> {
        self.steps += 1;
        let during = format!("step {}", self.steps);
        let Some(live) = self.live.as_mut() else {
            return Err(self.plugin.failure(
                &during,
                "the plugin failed earlier and was stopped",
                "",
            ));
        };
        let _call = self.plugin.arm(&mut live.store)?;
        if live.store.data().tensor_limit.is_none() {
            let params: u64 = (0..view.num_groups())
                .flat_map(|g| view.params(g))
                .map(|t| t.size_bytes())
                .sum();
            live.store.data_mut().tensor_limit =
                Some(TENSOR_BUDGET_FACTOR * params + TENSOR_BUDGET_MARGIN);
        }
        live.store.data_mut().step = Some(view);
        let borrow = Resource::<StepHandle>::new_borrow(live.step.rep());
        let result = live.bindings.step(&mut live.store, borrow);
        live.store.data_mut().step = None;
        let stderr = live.store.data_mut().flush_output();
        let message = match result {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(m)) => self.plugin.failure(&during, &m, &stderr),
            Err(e) => self.plugin.fault(&during, &e, &stderr),
        };
        // A failed store is never entered again; an optimizer cannot be disabled mid-run.
        self.live = None;
        Err(message)
    }
}
