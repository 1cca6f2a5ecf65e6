//! `weft import-mmcv`: an MMCV/MMAction2 Python config (and its `_base_` files) as weft TOML.

use std::path::Path;

use anyhow::{Context, Result};

/// Converts `config`; writes to `output` (or prints, for the merged form).
pub fn run(config: &Path, output: Option<&Path>, keep_bases: bool) -> Result<()> {
    if keep_bases {
        let out = output
            .map(Path::to_path_buf)
            .unwrap_or_else(|| config.with_extension("toml"));
        let files = weft_config::import::with_bases(config, &out)?;
        for f in &files {
            std::fs::write(&f.path, &f.text)
                .with_context(|| format!("cannot write {}", f.path.display()))?;
            println!("wrote {}", f.path.display());
        }
        return Ok(());
    }
    let text = weft_config::import::merged(config)?;
    match output {
        Some(out) => {
            std::fs::write(out, &text)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {}", out.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
