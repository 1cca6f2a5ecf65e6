//! Plugin components for the tests: the examples in guest-examples/ and the fault fixtures
//! in tests/guests/, built once per test run for wasm32-wasip2 with the real toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn target() -> PathBuf {
    repo().join("target/guests")
}

fn build_all() -> Result<(), String> {
    for workspace in ["guest-examples", "tests/guests"] {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--quiet",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(repo().join(workspace).join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", target())
            // The outer build's flags (coverage, sanitizers) are not for the guests.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "building {workspace} for wasm32-wasip2 failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    // The example configs name guest-examples/rust/<name>/<name>.wasm, as `make guests` leaves them.
    for entry in std::fs::read_dir(repo().join("guest-examples/rust")).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let built = target().join(format!("wasm32-wasip2/release/{name}.wasm"));
        std::fs::copy(&built, dir.join(format!("{name}.wasm")))
            .map_err(|e| format!("copying {}: {e}", built.display()))?;
    }
    Ok(())
}

/// The built component of a guest crate (an example or a fault fixture).
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(e) = BUILT.get_or_init(build_all) {
        panic!("{e}");
    }
    let path = target().join(format!("wasm32-wasip2/release/{name}.wasm"));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// The guest languages besides Rust, each built by `guest-sdk/<language>/build.sh`.
pub const LANGUAGES: [&str; 5] = ["python", "js", "c", "go", "zig"];

/// A build of an example in `guest-examples/<language>/<name>/` (Rust included), copied next
/// to its sources (where the configs name it) and returned.
///
/// Builds of the other languages are cached per user, keyed by a digest of everything that
/// goes into them (sources, SDK, build script, WIT, toolchain locations, JS engine):
/// componentize-py and componentize-js take seconds per component, Zig's first build minutes,
/// and nothing changes between most test runs.
pub fn example(language: &str, name: &str) -> PathBuf {
    if language == "rust" {
        guest(name);
        return repo()
            .join("guest-examples/rust")
            .join(name)
            .join(format!("{name}.wasm"));
    }
    built(language, name, Variant::default())
}

/// A fixture of `tests/guests/<name>/` in another language, built with that language's SDK
/// (cached like the examples).
pub fn fixture_in(language: &str, name: &str) -> PathBuf {
    let dir = repo().join("tests/guests").join(name);
    build_cached(language, &dir, Variant::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// A JavaScript example built on the QuickJS engine (componentize-qjs), from the cache; it
/// stays there, so that the examples' folders keep the default engine's build.
pub fn quickjs_example(name: &str) -> PathBuf {
    let variant = Variant {
        js_engine: Some("quickjs"),
        ..Variant::default()
    };
    built("js", name, variant)
}

/// An example built against an older version of the WIT package than its SDK's default
/// (`WEFT_WIT_VERSION` for the build script), from the cache, like [`quickjs_example`].
pub fn example_on_wit(language: &str, name: &str, version: &'static str) -> PathBuf {
    let variant = Variant {
        wit: Some(version),
        ..Variant::default()
    };
    built(language, name, variant)
}

/// A build other than the default one of a language's SDK.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Variant {
    /// The JavaScript engine, when not SpiderMonkey.
    js_engine: Option<&'static str>,
    /// The WIT version, when not the SDK's.
    wit: Option<&'static str>,
}

/// The build of an example, made (or taken from the cache) once per test run; the default
/// build is then placed next to the example's sources. One build at a time: the machine has
/// two cores.
fn built(language: &str, name: &str, variant: Variant) -> PathBuf {
    static DONE: std::sync::Mutex<Vec<(String, Result<PathBuf, String>)>> =
        std::sync::Mutex::new(Vec::new());
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    let id = format!("{language}/{name}/{variant:?}");
    if let Some((_, r)) = done.iter().find(|(k, _)| *k == id) {
        return r.clone().unwrap_or_else(|e| panic!("{e}"));
    }
    let dir = repo().join("guest-examples").join(language).join(name);
    let result = build_cached(language, &dir, variant).map(|cached| {
        if variant != Variant::default() {
            return cached;
        }
        // Atomically: another test may be loading an earlier copy.
        let placed = dir.join(format!("{name}.wasm"));
        let partial = dir.join(format!(".{name}.wasm.partial"));
        std::fs::copy(&cached, &partial).unwrap();
        std::fs::rename(&partial, &placed).unwrap();
        placed
    });
    done.push((id, result.clone()));
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn cache_root() -> PathBuf {
    crate::support::weft_cache().join("guest-builds")
}

/// Every file under `dir` (sorted, built outputs, caches and Markdown left out: no build reads
/// a README) into the digest.
fn digest_dir(h: &mut sha2::Sha256, dir: &Path) {
    use sha2::Digest;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let file = p.file_name().unwrap().to_string_lossy().into_owned();
        if file.ends_with(".wasm")
            || file.ends_with(".md")
            || file == "__pycache__"
            || file == "target"
        {
            continue;
        }
        if p.is_dir() {
            digest_dir(h, &p);
        } else {
            h.update(file.as_bytes());
            h.update(std::fs::read(&p).unwrap());
        }
    }
}

fn build_cached(language: &str, dir: &Path, variant: Variant) -> Result<PathBuf, String> {
    use sha2::Digest;
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let sdk = repo().join("guest-sdk").join(language);
    let mut h = sha2::Sha256::new();
    digest_dir(&mut h, dir);
    digest_dir(&mut h, &sdk);
    if language == "zig" {
        // The Zig SDK links the C one.
        digest_dir(&mut h, &repo().join("guest-sdk/c"));
    }
    digest_dir(&mut h, &repo().join("wit"));
    for var in ["WEFT_GUEST_PY", "WEFT_GUEST_JS", "WEFT_WIT_BINDGEN"] {
        h.update(std::env::var(var).unwrap_or_default().as_bytes());
    }
    let engine = variant.js_engine.unwrap_or("spidermonkey");
    h.update(engine.as_bytes());
    // Only when set, so that the default builds keep their keys.
    if let Some(version) = variant.wit {
        h.update(b"wit ");
        h.update(version.as_bytes());
    }
    let key: String = h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cached = cache_root().join(format!("{language}-{name}-{key}.wasm"));
    if cached.is_file() {
        return Ok(cached);
    }
    std::fs::create_dir_all(cache_root()).map_err(|e| e.to_string())?;
    let partial = cached.with_extension("partial.wasm");
    let out = Command::new(sdk.join("build.sh"))
        .arg(dir)
        .arg(&partial)
        .env("WEFT", env!("CARGO_BIN_EXE_weft"))
        .env("WEFT_JS_ENGINE", engine)
        .envs(variant.wit.map(|v| ("WEFT_WIT_VERSION", v)))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", sdk.join("build.sh").display()))?;
    if !out.status.success() {
        return Err(format!(
            "building {} failed:\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::rename(&partial, &cached).map_err(|e| e.to_string())?;
    Ok(cached)
}
