//! `weft export`: a trained TorchScript model written back as TorchScript, for PyTorch users.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use weft_nn::checkpoint::{self, OPTIMIZER_PREFIX};

use crate::validate;

/// Loads the config's TorchScript model, puts `checkpoint`'s weights and buffers into it and
/// saves it to `out` (in eval mode).
pub fn torchscript(config: &Path, checkpoint: &Path, out: &Path, options: &[String]) -> Result<()> {
    let log = weft_core::RunLog::warnings_to_stderr();
    let checked = validate::check(config, options, &log, None)?;
    let (model, _) = validate::model_and_optimizer(&checked, weft_nn::Device::Cpu, 0)?;
    let Some(script) = model.net.script() else {
        bail!(
            "the config's model is {}: only a TorchScript model exports to TorchScript \
             (`weft convert` writes any checkpoint as a .pth)",
            model.kind
        );
    };
    let mut loaded = checkpoint::read(checkpoint)
        .map_err(|e| anyhow!("cannot read {}: {e}", checkpoint.display()))?;
    let mut missing = Vec::new();
    for (name, t) in model.store.state_dict() {
        let Some(src) = loaded.tensors.remove(name) else {
            missing.push(name.to_string());
            continue;
        };
        if src.size() != t.size() {
            bail!(
                "{}: {name} is {:?} there and {:?} in the module",
                checkpoint.display(),
                src.size(),
                t.size()
            );
        }
        let mut dst = t.shallow_clone();
        tch::no_grad(|| dst.f_copy_(&src)).map_err(|e| anyhow!("{name}: {e}"))?;
    }
    let extra: Vec<&String> = loaded
        .tensors
        .keys()
        .filter(|k| !k.starts_with(OPTIMIZER_PREFIX))
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        bail!(
            "{} is not a checkpoint of this module: missing {missing:?}, not in the module {extra:?}",
            checkpoint.display()
        );
    }
    script
        .save(out)
        .map_err(|e| anyhow!("cannot write {}: {e}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}
