//! `weft convert`: checkpoints between weft's safetensors and PyTorch's `.pth`, either way.
//! The output's format follows its extension; the input's is read from its first bytes.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use serde_json::json;

/// Converts `input` into `output` (`.pth`/`.pt` or `.safetensors`).
pub fn run(input: &Path, output: &Path, json_out: bool) -> Result<()> {
    let ext = output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let done = match ext.as_str() {
        "pth" | "pt" => weft_nn::convert::to_pth(input, output),
        "safetensors" => weft_nn::convert::to_safetensors(input, output),
        _ => bail!(
            "{}: the output's extension says its format: .pth (or .pt) for PyTorch, \
             .safetensors for weft",
            output.display()
        ),
    }
    .map_err(|e| anyhow!(e))?;
    if json_out {
        println!(
            "{}",
            json!({
                "input": input.display().to_string(),
                "output": output.display().to_string(),
                "tensors": done.tensors,
                "elements": done.elements,
                "left_out": done.left_out,
            })
        );
    } else {
        println!(
            "wrote {}: {} tensors, {} elements{}",
            output.display(),
            done.tensors,
            done.elements,
            if done.left_out.is_empty() {
                String::new()
            } else {
                format!(" (left out: {})", done.left_out.join(", "))
            }
        );
    }
    Ok(())
}
