//! `weft print-config`: the fully merged config as TOML.

use std::path::Path;

use anyhow::Result;

use crate::validate;

/// Prints the merged config (after `_base_`, `_delete_` and `--cfg-options`) once it passes
/// the checks `weft train` runs (hooks, schedules, datasets, the model and its optimizer);
/// warnings go to stderr. Without `check`, prints it as merged, as MMCV's print_config.py.
pub fn run(config: &Path, options: &[String], check: bool) -> Result<()> {
    if !check {
        let mut cfg = weft_config::Config::from_file(config)?;
        cfg.apply_options(options)?;
        print!("{}", cfg.to_toml_string());
        return Ok(());
    }
    let log = weft_core::RunLog::warnings_to_stderr();
    let checked = validate::check(config, options, &log, None)?;
    validate::model_and_optimizer(&checked, weft_nn::Device::Cpu, 0)?;
    print!("{}", checked.config.to_toml_string());
    Ok(())
}
