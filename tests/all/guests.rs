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
