//! Turning a core WebAssembly module into a weft plugin component (what `wasm-tools component
//! embed` and `component new --adapt` do), for languages whose compilers emit core modules
//! (C, Zig, Go): the `weft:plugin` WIT is built into weft, and the WASI preview-1 adapter
//! comes from the `wasi-preview1-component-adapter-provider` crate, so no other tool is needed.

use std::path::Path;

use wit_component::{ComponentEncoder, StringEncoding, embed_component_metadata};
use wit_parser::{Resolve, SourceMap};

/// The files of the WIT package new plugins build against.
const WIT: &[(&str, &str)] = crate::wit::latest::FILES;

/// The files of a served version of the built-in WIT package: `version`, or the one new
/// plugins build against.
fn files(version: Option<&str>) -> Result<&'static [(&'static str, &'static str)], String> {
    match version {
        None => Ok(WIT),
        Some(v) => crate::wit::files(v).ok_or_else(|| {
            format!(
                "this weft serves weft:plugin {}, not {v}",
                crate::wit::SUPPORTED.join(", ")
            )
        }),
    }
}

/// Writes a served version of the built-in WIT package into `dir` (for bindings
/// generators): `version`, or the one new plugins build against.
pub fn write_wit(dir: &Path, version: Option<&str>) -> Result<(), String> {
    let files = files(version)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot write {}: {e}", dir.display()))?;
    for &(name, text) in files {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("cannot write {}: {e}", dir.display()))?;
    }
    Ok(())
}

fn resolve(files: &[(&str, &str)]) -> Result<(Resolve, wit_parser::PackageId), String> {
    let mut map = SourceMap::new();
    for &(name, text) in files {
        map.push(Path::new(name), text);
    }
    let group = map.parse().map_err(|(_, e)| format!("built-in WIT: {e}"))?;
    let mut resolve = Resolve::default();
    let pkg = resolve
        .push_group(group)
        .map_err(|e| format!("built-in WIT: {e:#}"))?;
    Ok((resolve, pkg))
}

/// Whether a core module imports WASI preview 1 (and so needs the adapter).
fn imports_preview1(module: &[u8]) -> Result<bool, String> {
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::ImportSection(reader) = payload.map_err(|e| e.to_string())? {
            for import in reader.into_imports() {
                if import.map_err(|e| e.to_string())?.module == "wasi_snapshot_preview1" {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// A component from a core module: `world` (`hook`, `optimizer-constructor`,
/// `custom-optimizer`) embeds the world's type information first, from WIT `version` (the
/// one new plugins build against when `None`; modules from C and Zig bindings already carry
/// it); WASI preview-1 imports are adapted to preview 2.
pub fn componentize(
    module: &[u8],
    world: Option<&str>,
    version: Option<&str>,
) -> Result<Vec<u8>, String> {
    if module.len() < 8 || &module[..4] != b"\0asm" || module[6..8] != [0, 0] {
        return Err("not a core WebAssembly module".into());
    }
    let mut bytes = module.to_vec();
    if let Some(world) = world {
        let (resolve, pkg) = resolve(files(version)?)?;
        let id = resolve
            .select_world(&[pkg], Some(world))
            .map_err(|e| format!("no world `{world}` in weft:plugin: {e}"))?;
        embed_component_metadata(&mut bytes, &resolve, id, StringEncoding::UTF8)
            .map_err(|e| format!("{e:#}"))?;
    }
    let mut encoder = ComponentEncoder::default()
        .module(&bytes)
        .map_err(|e| format!("{e:#}"))?
        .validate(true);
    if imports_preview1(module)? {
        encoder = encoder
            .adapter(
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
            .map_err(|e| format!("{e:#}"))?;
    }
    encoder.encode().map_err(|e| format!("{e:#}"))
}
