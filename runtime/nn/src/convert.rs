//! Checkpoints between weft's safetensors and PyTorch's `.pth`, either way (`weft convert`).

use std::path::Path;

use serde_json::{Value, json};
use tch::Tensor;

use crate::checkpoint::{self, OPTIMIZER_PREFIX};

/// What a conversion wrote.
pub struct Converted {
    /// Model tensors written.
    pub tensors: usize,
    /// Their elements.
    pub elements: i64,
    /// What the input held that the output cannot (an optimizer's state).
    pub left_out: Vec<String>,
}

/// weft's run state that only a weft checkpoint with its optimizer state can use: left out
/// of a `.pth`, where it would only weigh.
const RESUME_ONLY: [&str; 3] = ["resume", "hook_states", "log_buffer"];

fn read(input: &Path) -> Result<checkpoint::Loaded, String> {
    checkpoint::read(input).map_err(|e| format!("cannot read {}: {e}", input.display()))
}

/// The model's tensors in a state_dict's order (optimizer state noted in `left_out`).
fn model_tensors(loaded: checkpoint::Loaded, left_out: &mut Vec<String>) -> Vec<(String, Tensor)> {
    let mut tensors: Vec<(String, Tensor)> = loaded
        .tensors
        .into_iter()
        .filter(|(k, _)| !k.starts_with(OPTIMIZER_PREFIX))
        .collect();
    if loaded.meta.get("optimizer").is_some() {
        left_out.push("optimizer state (weft's own; it resumes only from safetensors)".into());
    }
    tensors.sort_by_key(|(name, _)| order_key(name));
    tensors
}

/// safetensors keeps no order; this one reads like a state_dict: modules by path (numbers in
/// it compared as numbers, so `layer2` comes before `layer10`), and in a module PyTorch's
/// order of `weight`, `bias` and the batch-norm buffers.
fn order_key(name: &str) -> (Vec<(u64, String)>, usize) {
    let (module, leaf) = name.rsplit_once('.').unwrap_or(("", name));
    let path = module
        .split('.')
        .map(|part| match part.parse::<u64>() {
            Ok(n) => (n, String::new()),
            Err(_) => (u64::MAX, part.to_string()),
        })
        .collect();
    let rank = [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    .iter()
    .position(|l| *l == leaf)
    .unwrap_or(5);
    (path, rank)
}

fn summary(tensors: &[(String, Tensor)], left_out: Vec<String>) -> Converted {
    Converted {
        tensors: tensors.len(),
        elements: tensors.iter().map(|(_, t)| t.numel() as i64).sum(),
        left_out,
    }
}

/// Writes `input` (either format) as a `.pth` in MMCV's layout: the model's tensors and
/// weft's run metadata (epoch, iter, config) with the model's name as `weft_model`.
pub fn to_pth(input: &Path, output: &Path) -> Result<Converted, String> {
    let loaded = read(input)?;
    let mut left_out = Vec::new();
    let mut meta = loaded.meta.get("meta").cloned().unwrap_or(Value::Null);
    if let Some(m) = meta.as_object_mut() {
        for key in RESUME_ONLY {
            m.remove(key);
        }
        if let Some(model) = loaded.meta.get("model") {
            m.insert("weft_model".into(), model.clone());
        }
    }
    let tensors = model_tensors(loaded, &mut left_out);
    crate::pth::write(output, &tensors, &meta)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    Ok(summary(&tensors, left_out))
}

/// Writes a `.pth` as safetensors: its state_dict, and MMCV's `meta` in the header.
pub fn to_safetensors(input: &Path, output: &Path) -> Result<Converted, String> {
    let bytes =
        std::fs::read(input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    if !crate::pth::is_zip(&bytes) && !crate::pth::is_legacy(&bytes) {
        return Err(format!(
            "{} is not a PyTorch file (already safetensors?)",
            input.display()
        ));
    }
    let shown = input.display().to_string();
    let pth = crate::pth::read_bytes(&bytes, &shown)
        .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let mut left_out: Vec<String> = pth
        .skipped
        .iter()
        .map(|k| format!("{k} (not tensors of the model)"))
        .collect();
    if pth.optimizer.is_some() {
        left_out.push("optimizer (resume from the .pth itself to use it)".into());
    }
    let header = json!({ "version": 1, "meta": pth.meta });
    checkpoint::write(output, &pth.state_dict, &header)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    Ok(summary(&pth.state_dict, left_out))
}
