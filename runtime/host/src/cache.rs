//! Compiled components on disk, so that Python and JavaScript plugins (4-6 s to compile on two
//! cores) load in milliseconds after the first run.
#![allow(
    unsafe_code,
    reason = "loading precompiled code the cache itself wrote"
)]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use wasmtime::Result;
use wasmtime::component::Component;

use wasmtime::Engine;

use crate::engine::Runtime;

/// The cache file for a component: its digest plus a hash of everything that makes
/// compiled code incompatible (wasmtime version and engine settings).
fn path(rt: &Runtime, engine: &Engine, sha256: &str) -> Option<PathBuf> {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let key = format!("{sha256}-{:016x}.cwasm", h.finish());
    rt.cache_dir.as_ref().map(|d| d.join(key))
}

/// Whether the cache holds a compilation of the component with digest `sha256` for
/// `engine`: such a component was validated in full before it was compiled.
pub fn holds(rt: &Runtime, engine: &Engine, sha256: &str) -> bool {
    path(rt, engine, sha256).is_some_and(|p| p.is_file())
}

/// Compiles `bytes` (digest `sha256`) for `engine` or loads the cached compilation.
pub fn compile(rt: &Runtime, engine: &Engine, bytes: &[u8], sha256: &str) -> Result<Component> {
    let cached = path(rt, engine, sha256);
    if let Some(p) = &cached
        && p.is_file()
    {
        // SAFETY: the file was produced by `Component::serialize` from this digest under a
        // key that includes the engine's compatibility hash, in a per-user cache directory.
        match unsafe { Component::deserialize_file(engine, p) } {
            Ok(c) => return Ok(c),
            Err(_) => {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    let component = Component::new(engine, bytes)?;
    if let Some(p) = cached
        && let Ok(serialized) = component.serialize()
    {
        // Best effort: a cache that cannot be written only costs time.
        let _ = write_atomically(&p, &serialized);
    }
    Ok(component)
}

fn write_atomically(path: &PathBuf, bytes: &[u8]) -> Result<()> {
    let Some(dir) = path.parent() else {
        wasmtime::bail!("cache path {} has no parent", path.display());
    };
    std::fs::create_dir_all(dir)?;
    // Unique per process and write: plugins load on several threads, and two entries may
    // name the same component.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id(),
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
