//! `weft import-mmcv`: an MMCV/MMAction2 Python config (and its `_base_` files) as weft TOML.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// The first line of every file `weft import-mmcv` writes.
const MARK: &str = "# Converted from ";

/// Refuses to replace a file that `weft import-mmcv` did not write (a hand-written TOML beside
/// a base config, say), unless `force`.
fn writable(path: &Path, force: bool) -> Result<()> {
    if force || !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if !text.starts_with(MARK) {
        bail!(
            "{} exists and was not written by weft import-mmcv; move it away or pass --force",
            path.display()
        );
    }
    Ok(())
}

/// Converts `config`; writes to `output` (or prints, for the merged form).
pub fn run(config: &Path, output: Option<&Path>, keep_bases: bool, force: bool) -> Result<()> {
    if keep_bases {
        let out = output
            .map(Path::to_path_buf)
            .unwrap_or_else(|| config.with_extension("toml"));
        let files = weft_config::import::with_bases(config, &out)?;
        for f in &files {
            writable(&f.path, force)?;
        }
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
            writable(out, force)?;
            std::fs::write(out, &text)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {}", out.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
