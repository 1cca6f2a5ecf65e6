//! Reading a plugin file: digest, component or not, which `weft:plugin` world it targets and
//! at which WIT version (read before compiling), compiled (or loaded from the cache) once per
//! file.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::engine::Runtime;

/// The WIT package plugins are written against.
pub const PACKAGE: &str = "weft:plugin";

/// What a component is for: the world it targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// `world hook`: a `custom_hooks` type.
    Hook,
    /// `world optimizer-constructor`: an `optimizer.constructor`.
    OptimizerConstructor,
    /// `world custom-optimizer`: an `optimizer.type`.
    CustomOptimizer,
}

impl World {
    /// The world's WIT name.
    pub fn wit_name(self) -> &'static str {
        match self {
            World::Hook => "hook",
            World::OptimizerConstructor => "optimizer-constructor",
            World::CustomOptimizer => "custom-optimizer",
        }
    }

    /// The interface the world exports.
    fn export(self) -> &'static str {
        match self {
            World::Hook => "hooks",
            World::OptimizerConstructor => "constructors",
            World::CustomOptimizer => "optimizer",
        }
    }

    /// Where the config names a type of this world.
    pub fn config_slot(self) -> &'static str {
        match self {
            World::Hook => "a hook type (custom_hooks)",
            World::OptimizerConstructor => "an optimizer constructor (optimizer.constructor)",
            World::CustomOptimizer => "an optimizer type (optimizer.type)",
        }
    }

    const ALL: [World; 3] = [
        World::Hook,
        World::OptimizerConstructor,
        World::CustomOptimizer,
    ];
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wit_name())
    }
}

/// A loaded plugin file.
pub struct Loaded {
    /// The file.
    pub path: PathBuf,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The world it targets.
    pub world: World,
    /// The `weft:plugin` version it was built against.
    pub version: String,
    /// Every import, as the component names it.
    pub imports: Vec<String>,
    /// Every export.
    pub exports: Vec<String>,
    /// The compiled component.
    pub component: Component,
    /// The engine it was compiled for (metered when the plugin has a fuel limit).
    pub engine: wasmtime::Engine,
}

/// The hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The message a digest mismatch starts its explanation with (see [`is_mismatch`]).
const MISMATCH: &str = "sha256 mismatch: the config pins";

/// Whether a [`load`] error is a pinned digest that does not match: never skipped, not even
/// with `allow_failed_imports` (a pin exists to refuse a different file).
pub fn is_mismatch(message: &str) -> bool {
    message.contains(MISMATCH)
}

/// Reads, checks and compiles a plugin file for the engine its `limits` call for.
/// `expected` is the digest the config pins, if any. Errors name the file and say what to do.
pub fn load(
    rt: &Runtime,
    path: &Path,
    expected: Option<&str>,
    limits: &crate::Limits,
) -> Result<Loaded, String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read plugin {shown}: {e}"))?;
    let sha256 = sha256_hex(&bytes);
    if let Some(want) = expected
        && !want.eq_ignore_ascii_case(&sha256)
    {
        return Err(format!(
            "plugin {shown}: {MISMATCH} {want}, the file has {sha256} \
             (rebuilt or replaced since it was pinned?)"
        ));
    }
    // World and version first, from the component's type information: a plugin built for
    // another weft is refused without paying for its compilation (seconds for Python and JS).
    let engine = rt.engine_for(limits).clone();
    // A digest already in the compile cache was validated in full when it was compiled, by a
    // weft with this engine: its bytes are those, so validating them again (a tenth of a
    // second for a Python or JavaScript component) proves nothing new.
    let validated = crate::cache::holds(rt, &engine, &sha256);
    let (world, version) =
        interface(&bytes, validated).map_err(|m| format!("plugin {shown}: {m}"))?;
    let component = crate::cache::compile(rt, &engine, &bytes, &sha256).map_err(|e| {
        format!(
            "plugin {shown}: not a valid component: {}",
            root_message(&e)
        )
    })?;
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_string()).collect();
    let exports: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_string()).collect();
    Ok(Loaded {
        path: path.to_path_buf(),
        sha256,
        size: bytes.len() as u64,
        world,
        version,
        imports,
        exports,
        component,
        engine,
    })
}

/// The world a component targets and the WIT version it was built against, read from its
/// type information without compiling it: the header, the binary's validity and its
/// `weft:plugin` export, and whether this weft serves that version.
pub fn read_interface(bytes: &[u8]) -> Result<(World, String), String> {
    interface(bytes, false)
}

/// [`read_interface`], validating the binary unless it is known to be valid already.
fn interface(bytes: &[u8], validated: bool) -> Result<(World, String), String> {
    check_header(bytes)?;
    // Validate the whole binary before anything builds from it: a 38 KiB file declaring
    // more than it holds made both wit-component's decoder and wasmtime's compiler allocate
    // gigabytes (found by `make fuzz`); the validator rejects it in under a millisecond.
    if !validated {
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(bytes)
            .map_err(|e| format!("not a valid component: {e}"))?;
    }
    let decoded = wit_component::decode(bytes)
        .map_err(|e| format!("not a valid component: {}", e.root_cause()))?;
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        return Err("a WIT package, not a component".into());
    };
    let exports: Vec<String> = resolve.worlds[world]
        .exports
        .keys()
        .map(|k| resolve.name_world_key(k))
        .collect();
    let (world, version) = detect_world(&exports)?;
    check_version(&version)?;
    Ok((world, version))
}

/// Tells a core module, a truncated file and a non-WebAssembly file apart before wasmtime's
/// less specific parse errors.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(if bytes.is_empty() {
            "the file is empty".into()
        } else {
            "not a WebAssembly file (no `\\0asm` header)".into()
        });
    }
    // Bytes 4..8: version and layer; core modules are layer 0, components layer 1.
    if bytes[6..8] == [0, 0] {
        return Err(
            "a core WebAssembly module, not a component: build for `wasm32-wasip2` \
                    (Rust) or wrap it with `wasm-tools component new` (see docs/plugins.md)"
                .into(),
        );
    }
    Ok(())
}

/// The world a component targets, from its `weft:plugin/<interface>@<version>` export.
fn detect_world(exports: &[String]) -> Result<(World, String), String> {
    let mut found = Vec::new();
    for name in exports {
        let Some(rest) = name.strip_prefix(PACKAGE).and_then(|r| r.strip_prefix('/')) else {
            continue;
        };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
        if let Some(world) = World::ALL.into_iter().find(|w| w.export() == iface) {
            found.push((world, version.to_string()));
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "exports none of weft's plugin interfaces ({}); it exports [{}]. Build it against \
             one of the worlds in wit/ (hook, optimizer-constructor, custom-optimizer)",
            World::ALL
                .map(|w| format!("{PACKAGE}/{}", w.export()))
                .join(", "),
            exports.join(", ")
        )),
        many => Err(format!(
            "exports several plugin interfaces ({}); a component is one plugin",
            many.iter()
                .map(|(w, _)| w.export())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// Whether this host can run a component built against `version`: within a 0.x minor line,
/// a host serving 0.1.N runs components built against 0.1.0 to 0.1.N (see `wit/README.md`);
/// each served minor line (0.1, 0.2, 0.3) has its own module.
/// Returns the served version whose module links it.
pub fn check_version(version: &str) -> Result<&'static str, String> {
    let served = crate::wit::SUPPORTED
        .iter()
        .map(|s| format!("{PACKAGE}@{s}"))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(v) = parse_version(version) else {
        return Err(format!(
            "unversioned or malformed {PACKAGE} version `{version}`; this weft serves {served}"
        ));
    };
    let fits = |s: &str| parse_version(s).is_some_and(|h| v.0 == h.0 && v.1 == h.1 && v.2 <= h.2);
    if let Some(s) = crate::wit::SUPPORTED.iter().find(|s| fits(s)) {
        return Ok(s);
    }
    // The host is behind when the plugin is newer than every served version, or newer than
    // the served version of its own minor line (it did not fit, so its patch is higher): a
    // 0.2.1 plugin on a host serving 0.2.0 and 0.3.0. Otherwise the plugin is (0.0.x).
    let hosted: Vec<_> = crate::wit::SUPPORTED
        .iter()
        .filter_map(|s| parse_version(s))
        .collect();
    let host_behind =
        hosted.iter().all(|h| *h < v) || hosted.iter().any(|h| (h.0, h.1) == (v.0, v.1));
    let advice = if host_behind {
        "upgrade weft, or rebuild the plugin against this weft's wit/ (`weft plugin wit`)"
    } else {
        "rebuild the plugin against this weft's wit/ (`weft plugin wit`)"
    };
    Err(format!(
        "built against {PACKAGE}@{version}, which this weft (serving {served}) cannot run: {advice}"
    ))
}

/// wasmtime errors carry a context chain; the innermost cause is the useful part.
pub fn root_message(e: &wasmtime::Error) -> String {
    let outer = e.to_string();
    let root = e.root_cause().to_string();
    // wasmtime attaches the guest's backtrace as context ("error while executing at wasm
    // backtrace: 0: 0x1a2b - <unknown>!..."): raw code addresses, noise to a plugin's user.
    if outer == root || outer.contains("wasm backtrace") {
        root
    } else {
        format!("{outer}: {root}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_within_the_minor_line_are_compatible() {
        assert_eq!(check_version("0.1.0").unwrap(), "0.1.0");
        assert_eq!(check_version("0.2.0").unwrap(), "0.2.0");
        assert!(check_version("0.2.1").unwrap_err().contains("upgrade weft"));
        assert_eq!(check_version("0.3.0").unwrap(), "0.3.0");
        assert!(check_version("0.3.1").unwrap_err().contains("upgrade weft"));
        assert!(check_version("0.4.0").unwrap_err().contains("upgrade weft"));
        assert!(check_version("0.0.9").unwrap_err().contains("rebuild"));
        assert!(check_version("x").is_err());
    }

    #[test]
    fn headers_are_told_apart() {
        assert!(check_header(b"").unwrap_err().contains("empty"));
        assert!(
            check_header(b"hello world")
                .unwrap_err()
                .contains("not a WebAssembly")
        );
        assert!(
            check_header(b"\0asm\x01\0\0\0")
                .unwrap_err()
                .contains("core WebAssembly module")
        );
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn the_world_comes_from_the_export() {
        let hook = vec!["weft:plugin/hooks@0.1.0".to_string()];
        assert_eq!(detect_world(&hook).unwrap(), (World::Hook, "0.1.0".into()));
        let other = vec!["wasi:cli/run@0.2.0".to_string()];
        assert!(detect_world(&other).unwrap_err().contains("exports none"));
    }
}
