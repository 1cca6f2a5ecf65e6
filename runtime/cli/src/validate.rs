//! The checks every command runs before it acts (`train`, `test`, `print-config`,
//! `param-groups`, `schedule`): one function, so that no command accepts a config another
//! one refuses, and every error names the file, line and column it is about.

use std::path::{Path, PathBuf};

use anyhow::Result;
use weft_config::schema::RunConfig;
use weft_config::{Config, ConfigError, ErrorKind};
use weft_core::build::RunPlan;
use weft_core::plugin::Extensions;
use weft_core::{HookSet, RunLog};
use weft_nn::Device;
use weft_nn::models::{Model, build_model_seeded};
use weft_nn::optim::{OptimizerSetup, build_optimizer};

use crate::plugins::Registries;

/// A config that passed every check that needs neither data nor tensors.
pub struct Checked {
    /// The merged config.
    pub config: Config,
    /// Its typed top level (numeric ranges checked).
    pub schema: RunConfig,
    /// Runner, length, workflow (not checked for evaluation alone).
    pub plan: Option<RunPlan>,
    /// Built-in and plugin types.
    pub registries: Registries,
    /// The hooks, built in MMCV's order (a command that does not run them drops them).
    pub hooks: HookSet,
    /// Where a training run writes (see [`check`]'s `work_dir`).
    pub work_dir: Option<PathBuf>,
}

/// How a training run picks and prepares its work dir once the schema is known, before the
/// plugins load (their traces go there).
pub type PrepareWorkDir<'a> = &'a dyn Fn(&RunConfig) -> Result<PathBuf>;

/// Loads `path` with `--cfg-options` and checks it: schema and ranges, the runner plan,
/// plugins, every hook's arguments, every dataset table. Keys that are accepted but change
/// nothing are said once, as warnings. A training run passes `work_dir`, which picks and
/// prepares its work dir (where plugin traces go).
pub fn check(
    path: &Path,
    options: &[String],
    log: &RunLog,
    work_dir: Option<PrepareWorkDir<'_>>,
) -> Result<Checked> {
    let (config, schema) = load(path, options)?;
    let plan = weft_core::build::plan(&config, &schema)?;
    check_data(&config, &schema)?;
    let work_dir = work_dir.map(|prepare| prepare(&schema)).transpose()?;
    let registries = plugins(&config, &schema, log, work_dir.as_deref())?;
    let hooks = weft_core::build::hooks(&config, &schema, &plan, &registries.hooks, log)?;
    Ok(Checked {
        config,
        schema,
        plan: Some(plan),
        registries,
        hooks,
        work_dir,
    })
}

/// [`check`] for evaluating a checkpoint (`weft test`): the same checks but those of the
/// training loop (its length and hooks), which evaluation does not run.
pub fn check_for_evaluation(path: &Path, options: &[String], log: &RunLog) -> Result<Checked> {
    let (config, schema) = load(path, options)?;
    check_data(&config, &schema)?;
    let registries = plugins(&config, &schema, log, None)?;
    Ok(Checked {
        config,
        schema,
        plan: None,
        registries,
        hooks: HookSet::default(),
        work_dir: None,
    })
}

fn load(path: &Path, options: &[String]) -> Result<(Config, RunConfig)> {
    let mut config = Config::from_file(path)?;
    config.apply_options(options)?;
    let schema = config.schema()?;
    Ok((config, schema))
}

/// Every dataset table, before anything is created on disk.
fn check_data(config: &Config, schema: &RunConfig) -> Result<()> {
    for node in [&schema.data.train, &schema.data.val, &schema.data.test]
        .into_iter()
        .flatten()
    {
        weft_data::check_dataset(&node.0, config)?;
    }
    Ok(())
}

/// The plugins, and the warnings every command gives once.
fn plugins(
    config: &Config,
    schema: &RunConfig,
    log: &RunLog,
    work_dir: Option<&Path>,
) -> Result<Registries> {
    let registries = crate::plugins::load_for_run(config, log, work_dir)?;
    for skipped in registries.plugins.skipped() {
        log.warn(&format!(
            "the plugin {skipped} is not loaded (allow_failed_imports = true); its types are unavailable"
        ));
    }
    for warning in schema.ignored_keys(weft_nn::cuda_available()) {
        log.warn(&warning);
    }
    Ok(registries)
}

/// The model and its optimizer on `device`, the initial weights drawn from `seed`, with the
/// checks that need both (a momentum schedule needs an optimizer with momentum).
pub fn model_and_optimizer(
    c: &Checked,
    device: Device,
    seed: u64,
) -> Result<(Model, OptimizerSetup)> {
    build_model_and_optimizer(&c.config, &c.schema, &c.registries.extensions, device, seed)
}

/// [`model_and_optimizer`] from the parts (for tools that hold no [`Checked`]).
pub fn build_model_and_optimizer(
    config: &Config,
    schema: &RunConfig,
    extensions: &Extensions,
    device: Device,
    seed: u64,
) -> Result<(Model, OptimizerSetup)> {
    let model = build_model_seeded(&schema.model.0, config, device, seed)?;
    let setup = build_optimizer(&schema.optimizer.0, config, &model.store, extensions)?;
    if let Some(m) = &schema.momentum_config
        && let Some(g) = setup.groups.iter().position(|g| !g.momentum.is_some())
    {
        return Err(ConfigError::at(
            ErrorKind::InvalidValue,
            format!(
                "momentum_config schedules momentum, but the optimizer {} has neither `momentum` nor `betas` (group {g})",
                setup.optimizer.name()
            ),
            &m.0.origin,
            config.sources(),
        )
        .with_help("remove momentum_config, or use an optimizer with momentum (SGD, RMSprop) or betas (Adam, AdamW)")
        .into());
    }
    Ok((model, setup))
}
