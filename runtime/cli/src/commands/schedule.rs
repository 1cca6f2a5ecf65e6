//! `weft schedule`: the lr and momentum of every group at every train iteration of the run,
//! computed by the real hooks without a model step or data.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use serde_json::json;

use crate::session::iters_per_epoch;
use crate::validate;

/// Options of `weft schedule`.
pub struct ScheduleOptions<'a> {
    /// The config.
    pub config: &'a Path,
    /// `--cfg-options`.
    pub cfg_options: &'a [String],
    /// `--iters-per-epoch` (default: from the training set's length).
    pub iters_per_epoch: Option<usize>,
    /// `--json`.
    pub json: bool,
    /// `--plot FILE.png`.
    pub plot: Option<PathBuf>,
}

/// Prints the schedule (one JSON object with `--json`, else a table) and draws it if asked.
pub fn run(o: &ScheduleOptions<'_>) -> Result<()> {
    let log = weft_core::RunLog::warnings_to_stderr();
    let checked = validate::check(o.config, o.cfg_options, &log, None)?;
    let (_, setup) = validate::model_and_optimizer(&checked, weft_nn::Device::Cpu, 0)?;
    let validate::Checked {
        config: cfg,
        schema,
        plan,
        registries,
        ..
    } = checked;
    let plan = plan.expect("checked for training");
    let per_epoch = match o.iters_per_epoch {
        Some(n) => n,
        None => iters_per_epoch(&cfg, &schema.data)?,
    };
    if per_epoch == 0 {
        return Err(anyhow!(
            "an epoch needs at least one iteration (--iters-per-epoch)"
        ));
    }
    let extra = plugin_hooks(&cfg, &schema, &plan, &registries)?;
    let entries =
        weft_core::dry::simulate(&cfg, &schema, &plan, setup.groups.clone(), per_epoch, extra)?;
    if let Some(path) = &o.plot {
        crate::plot::schedule(path, &entries)?;
    }
    if o.json {
        println!("{}", json!({ "iters": entries }));
        return Ok(());
    }
    println!(
        "{:>6} {:>8} {:>6}  lr per group / momentum per group",
        "epoch", "iter", "inner"
    );
    for e in &entries {
        let lr: Vec<String> = e.lr.iter().map(|v| format!("{v:.6e}")).collect();
        let m: Vec<String> = e.momentum.iter().map(|v| format!("{v:.4}")).collect();
        println!(
            "{:>6} {:>8} {:>6}  {} / {}",
            e.epoch,
            e.iter,
            e.inner_iter,
            lr.join(" "),
            m.join(" ")
        );
    }
    Ok(())
}

/// The config's plugin hooks, which may set the lr and momentum (a custom LR policy); they
/// run against the dry engine, which has no step outputs, metrics or gradients.
fn plugin_hooks(
    cfg: &weft_config::Config,
    schema: &weft_config::schema::RunConfig,
    plan: &weft_core::build::RunPlan,
    registries: &crate::plugins::Registries,
) -> Result<Vec<(Box<dyn weft_core::Hook>, weft_core::Priority)>> {
    let names: Vec<String> = registries
        .plugins
        .infos()
        .into_iter()
        .filter(|i| i.world == weft_host::World::Hook.wit_name())
        .map(|i| i.type_name)
        .collect();
    let b = weft_core::build::BuildContext {
        config: cfg,
        runner: plan.runner,
        log_interval: 10,
    };
    let mut out = Vec::new();
    for entry in &schema.custom_hooks {
        let (name, mut args) = weft_core::build::split_type(cfg, &entry.0, "custom_hooks")?;
        if names.contains(&name.value) {
            let priority = weft_core::build::take_priority(cfg, &mut args)?;
            let hook = registries.hooks.build(&name, &args, &b)?;
            let priority = priority.unwrap_or_else(|| hook.default_priority());
            out.push((hook, priority));
        }
    }
    Ok(out)
}
