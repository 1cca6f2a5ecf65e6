//! `weft plugin inspect FILE.wasm`: what a plugin is, checked the way a run would load it.

use std::path::Path;

use anyhow::{Result, anyhow};

/// Prints a plugin's world, WIT version, type name, imports, digest and size (one JSON
/// object with `json`).
pub fn inspect(path: &Path, sha256: Option<&str>, json: bool) -> Result<()> {
    let info = weft_host::inspect(path, sha256).map_err(|e| anyhow!(e))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("file      {}", info.path);
    println!("type      {}", info.type_name);
    println!("world     {} (weft:plugin@{})", info.world, info.version);
    println!("sha256    {}", info.sha256);
    println!(
        "size      {} bytes ({} KiB)",
        info.size,
        info.size.div_ceil(1024)
    );
    println!("imports   {}", info.imports.len());
    for import in &info.imports {
        println!("  {import}");
    }
    Ok(())
}

/// Writes the component made from a core module.
pub fn componentize(
    module: &Path,
    world: Option<&str>,
    version: Option<&str>,
    output: &Path,
) -> Result<()> {
    let bytes =
        std::fs::read(module).map_err(|e| anyhow!("cannot read {}: {e}", module.display()))?;
    let component = weft_host::componentize::componentize(&bytes, world, version)
        .map_err(|e| anyhow!("{}: {e}", module.display()))?;
    std::fs::write(output, component)
        .map_err(|e| anyhow!("cannot write {}: {e}", output.display()))?;
    Ok(())
}
