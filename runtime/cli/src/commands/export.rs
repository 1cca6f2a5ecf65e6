//! `weft export`: a trained TorchScript model written back as TorchScript, for PyTorch users.

use std::path::Path;

use anyhow::{Result, anyhow};

use crate::validate;

/// Loads the config's TorchScript model, puts `checkpoint`'s weights and buffers into it and
/// saves it to `out` (in eval mode).
pub fn torchscript(config: &Path, checkpoint: &Path, out: &Path, options: &[String]) -> Result<()> {
    let log = weft_core::RunLog::warnings_to_stderr();
    let checked = validate::check(config, options, &log, None)?;
    let (model, _) = validate::model_and_optimizer(&checked, weft_nn::Device::Cpu, 0)?;
    weft_nn::models::script::export(&model, checkpoint, out).map_err(|e| anyhow!(e))?;
    println!("wrote {}", out.display());
    Ok(())
}
