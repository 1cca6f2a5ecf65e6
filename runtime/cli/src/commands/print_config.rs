//! `weft print-config`: the fully merged config as TOML.

use std::path::Path;

use anyhow::Result;

use crate::session::load_config;

/// Prints the merged config (after `_base_`, `_delete_` and `--cfg-options`) after checking
/// that it validates: hooks, schedules, the model and its optimizer included.
pub fn run(config: &Path, options: &[String]) -> Result<()> {
    let cfg = load_config(config, options)?;
    let schema = cfg.schema()?;
    // Build the plan and hooks too, so schedule and hook errors surface here, not mid-run.
    let plan = weft_core::build::plan(&cfg, &schema)?;
    let log = weft_core::RunLog::capturing();
    let registries = crate::plugins::load(&cfg, &log)?;
    weft_core::build::hooks(&cfg, &schema, &plan, &registries.hooks, &log)?;
    crate::session::dry_optimizer(&cfg, &schema, &registries.extensions)?;
    print!("{}", cfg.to_toml_string());
    Ok(())
}
