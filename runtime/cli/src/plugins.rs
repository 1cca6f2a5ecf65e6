//! The type registries of a run: built-in hooks, optimizers and constructors plus what the
//! config's `custom_imports` plugins provide.

use std::path::Path;

use weft_config::{Config, ConfigError};
use weft_core::RunLog;
use weft_core::build::HookRegistry;
use weft_core::plugin::Extensions;
use weft_host::LoadedPlugins;

/// Hook types, plugin optimizers and constructors, and the plugins behind them.
pub struct Registries {
    /// Every hook type `custom_hooks` may name.
    pub hooks: HookRegistry,
    /// Optimizer types and constructors from plugins.
    pub extensions: Extensions,
    /// The loaded plugins.
    pub plugins: LoadedPlugins,
}

/// Loads the config's plugins and registers their types next to the built-ins.
pub fn load(config: &Config, log: &RunLog) -> Result<Registries, ConfigError> {
    load_for_run(config, log, None)
}

/// [`load`] for a training run, whose plugin traces (`trace`) go into `work_dir`.
pub fn load_for_run(
    config: &Config,
    log: &RunLog,
    work_dir: Option<&Path>,
) -> Result<Registries, ConfigError> {
    let mut hooks = HookRegistry::with_builtins();
    // The engine's own optimizer and constructor names, which no plugin may take.
    let builtin: Vec<&str> = weft_nn::optim::KINDS
        .iter()
        .map(|k| k.name)
        .chain(weft_nn::optim::CONSTRUCTORS)
        .collect();
    let plugins = weft_host::load_imports(config, &hooks, &builtin, log, work_dir)?;
    let mut extensions = Extensions::default();
    plugins.register(&mut hooks, &mut extensions);
    Ok(Registries {
        hooks,
        extensions,
        plugins,
    })
}
