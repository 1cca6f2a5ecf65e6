//! # weft-fuzz: every input weft reads from outside, as a fuzz target
//!
//! Each target takes arbitrary bytes and feeds them to the real reader; the property is that
//! none of them panics, aborts or hangs, whatever the bytes (a reader may refuse them, with a
//! message). `tools/fuzz/libfuzzer/` runs them under libFuzzer (`make fuzz`, coverage-guided,
//! a million executions each); `tests/all/fuzz_corpus.rs` replays the kept corpus and every
//! input that once failed (`tools/fuzz/corpus/<target>/`) in `make test`.

mod guest_values;

use std::path::PathBuf;

pub use guest_values::guest_values;

/// A fuzz target: arbitrary bytes in, no panic out.
pub type Target = fn(&[u8]);

/// The targets by name (the names of the corpus folders and the libFuzzer binaries).
pub const TARGETS: [(&str, Target); 6] = [
    ("config", config),
    ("python_config", python_config),
    ("checkpoint", checkpoint),
    ("component", component),
    ("component_compile", component_compile),
    ("guest_values", guest_values),
];

/// A scratch file of this process for a reader that takes a path.
fn scratch(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    std::fs::write(&path, data).expect("the scratch directory is writable");
    path
}

/// A config file and `--cfg-options`: the bytes up to a line `---` are the TOML, each line
/// after it one option. Loading, merging, the options and the typed schema with its ranges.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (toml, options) = match text.split_once("\n---\n") {
        Some((t, o)) => (t.to_string(), o.lines().map(str::to_string).collect()),
        None => (text.to_string(), Vec::new()),
    };
    let path = scratch("config.toml", toml.as_bytes());
    if let Ok(mut cfg) = weft_config::Config::from_file(&path) {
        let _ = cfg.apply_options(&options);
        let _ = cfg.schema();
        let _ = cfg.to_toml_string();
    }
    for option in &options {
        let _ = weft_config::parse_option(option);
    }
}

/// An MMCV Python config: lexed, parsed, run over values, merged, typed and written as TOML
/// (what `weft train x.py` and `weft import-mmcv` do with it).
pub fn python_config(data: &[u8]) {
    let path = scratch("config.py", data);
    if let Ok(cfg) = weft_config::Config::from_file(&path) {
        let _ = cfg.schema();
        let _ = cfg.to_toml_string();
    }
}

/// A checkpoint file, read as `--resume-from` and `load_from` read one.
pub fn checkpoint(data: &[u8]) {
    let path = scratch("checkpoint.safetensors", data);
    let _ = weft_nn::checkpoint::read(&path);
}

/// A plugin file's interface, read as `custom_imports` and `weft plugin inspect` read it
/// before compiling: header, validity, world and WIT version.
pub fn component(data: &[u8]) {
    let _ = weft_host::component::read_interface(data);
}

/// A plugin file read whole, compilation included (through a cache of this process's own, so
/// fuzzing leaves the user's alone). Slow: each input that decodes is compiled by cranelift.
pub fn component_compile(data: &[u8]) {
    static CACHE: std::sync::Once = std::sync::Once::new();
    CACHE.call_once(|| {
        let dir = std::env::temp_dir().join(format!("weft-fuzz-cache-{}", std::process::id()));
        set_cache_dir(dir);
    });
    let path = scratch("plugin.wasm", data);
    let _ = weft_host::inspect(&path, None);
}

#[allow(unsafe_code, reason = "see the SAFETY note")]
fn set_cache_dir(dir: PathBuf) {
    // SAFETY: called once, before the plugin runtime (the only reader of this variable)
    // starts, while no other thread of this process reads the environment.
    unsafe { std::env::set_var("WEFT_COMPONENT_CACHE", dir) };
}
