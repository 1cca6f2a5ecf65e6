//! `custom_imports`: from config entries to plugins registered under their type names.
//!
//! ```toml
//! custom_imports = { imports = [
//!     "guest-examples/rust/my_hook/my_hook.wasm",
//!     { path = "plugins/guard.wasm", sha256 = "…", on_error = "disable",
//!       limits = { memory_mb = 64, call_timeout_ms = 100 }, allow_dirs = ["work_dirs/guard"],
//!       trace = "guard.trace" },
//! ], allow_failed_imports = false }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use weft_config::{Config, ConfigError, ErrorKind, Node, Origin, RawNode};
use weft_core::RunLog;
use weft_core::build::HookRegistry;
use weft_core::plugin::{Extensions, ExternalConstructor, ExternalOptimizer};

use crate::component::{self, World};
use crate::constructor::WasmConstructor;
use crate::hook::WasmHook;
use crate::limits::{Limits, OnError};
use crate::optimizer::WasmOptimizer;
use crate::plugin::{Plugin, PluginInfo};
use crate::sandbox::Capabilities;
use crate::trace::Trace;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomImports {
    imports: Vec<RawNode>,
    #[serde(default)]
    allow_failed_imports: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportTable {
    path: String,
    sha256: Option<String>,
    #[serde(default)]
    on_error: OnError,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    allow_dirs: Vec<String>,
    /// A file in the work dir to write the plugin's trace to (see `trace.rs`).
    trace: Option<String>,
}

/// The plugins a config imports, loaded and linked.
#[derive(Default)]
pub struct LoadedPlugins {
    plugins: Vec<Arc<Plugin>>,
    skipped: Vec<String>,
}

impl LoadedPlugins {
    /// What each plugin is (for the log and checkpoints).
    pub fn infos(&self) -> Vec<PluginInfo> {
        self.plugins.iter().map(|p| p.info.clone()).collect()
    }

    /// The entries that failed to load and were skipped (`allow_failed_imports`).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Whether nothing was imported.
    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    /// Adds every plugin's type to the hook registry or the optimizer extensions.
    pub fn register(&self, registry: &mut HookRegistry, ext: &mut Extensions) {
        for plugin in &self.plugins {
            let name = plugin.info.type_name.clone();
            let plugin = plugin.clone();
            match plugin.world {
                World::Hook => registry.register(&name, move |node, b| {
                    // Each entry gets an instance (and a store) of its own.
                    let hook = WasmHook::new(plugin.clone(), &node.to_json())
                        .map_err(|m| b.config.error_at(ErrorKind::InvalidValue, m, &node.origin))?;
                    Ok(Box::new(hook))
                }),
                World::CustomOptimizer => {
                    ext.optimizers.insert(
                        name,
                        Box::new(move |json| {
                            WasmOptimizer::new(plugin.clone(), json)
                                .map(|o| Box::new(o) as Box<dyn ExternalOptimizer>)
                        }),
                    );
                }
                World::OptimizerConstructor => {
                    ext.constructors.insert(
                        name,
                        Box::new(move || {
                            Ok(Box::new(WasmConstructor::new(plugin.clone()))
                                as Box<dyn ExternalConstructor>)
                        }),
                    );
                }
            }
        }
    }
}

/// Loads the plugins of `custom_imports`. Names already taken by a built-in hook (in
/// `registry`), a built-in optimizer or constructor (`builtin_types`, as the engine lists
/// them) or another plugin are errors; with `allow_failed_imports`, a plugin that fails to load is a
/// warning (as in MMCV) instead.
pub fn load_imports(
    cfg: &Config,
    registry: &HookRegistry,
    builtin_types: &[&str],
    log: &RunLog,
    work_dir: Option<&Path>,
) -> Result<LoadedPlugins, ConfigError> {
    let Some(node) = cfg.get("custom_imports").filter(|n| !n.is_null()) else {
        return Ok(LoadedPlugins::default());
    };
    let spec: CustomImports = cfg.read(node)?;
    let rt = crate::engine::runtime()
        .map_err(|e| cfg.error_at(ErrorKind::InvalidValue, e.to_string(), &node.origin))?;
    let mut loaded = LoadedPlugins::default();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let entries = spec.imports.iter().map(|e| read_entry(cfg, &e.0)).collect();
    let fetched = fetch_components(rt, entries);
    for (entry, fetched) in spec.imports.iter().zip(fetched) {
        let entry = &entry.0;
        let result = fetched
            .and_then(|f| link_one(cfg, entry, f, log, work_dir))
            .and_then(|plugin| claim(cfg, entry, plugin, registry, builtin_types, &mut owners));
        match result {
            Ok(plugin) => loaded.plugins.push(Arc::new(plugin)),
            Err(e) if spec.allow_failed_imports && !component::is_mismatch(&e.message) => {
                let shown = entry
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| entry.get("path").and_then(Node::as_str).map(str::to_string))
                    .unwrap_or_default();
                log.warn(&format!(
                    "{e}\nThe plugin is skipped (allow_failed_imports = true)."
                ));
                loaded.skipped.push(shown);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(loaded)
}

/// Registers the plugin's type name as its own: a built-in type or another plugin's is refused
/// at the entry's place in the config.
fn claim(
    cfg: &Config,
    entry: &Node,
    plugin: Plugin,
    registry: &HookRegistry,
    builtin_types: &[&str],
    owners: &mut BTreeMap<String, String>,
) -> Result<Plugin, ConfigError> {
    let name = &plugin.info.type_name;
    let refuse = |m: String| Err(cfg.error_at(ErrorKind::InvalidValue, m, &entry.origin));
    if registry.contains(name) || builtin_types.contains(&name.as_str()) {
        return refuse(format!(
            "plugin {} provides `{name}`, which is a built-in type; rename the plugin's type",
            plugin.info.path
        ));
    }
    if let Some(other) = owners.get(name) {
        return refuse(format!(
            "`{name}` is provided by both {other} and {}",
            plugin.info.path
        ));
    }
    owners.insert(name.clone(), plugin.info.path.clone());
    Ok(plugin)
}

/// One `custom_imports` entry, read and checked, its file found.
struct Entry {
    table: ImportTable,
    path: PathBuf,
}

fn read_entry(cfg: &Config, entry: &Node) -> Result<Entry, ConfigError> {
    let table = match entry.as_str() {
        Some(path) => ImportTable {
            path: path.to_string(),
            sha256: None,
            on_error: OnError::default(),
            limits: Limits::default(),
            allow_dirs: Vec::new(),
            trace: None,
        },
        None => cfg.read(entry)?,
    };
    let at = |m: String| cfg.error_at(ErrorKind::InvalidValue, m, &entry.origin);
    check_limits(&table.limits).map_err(at)?;
    if let Some(want) = &table.sha256
        && (want.len() != 64 || !want.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(at(format!("sha256 must be 64 hex digits, got {want:?}")));
    }
    let path = resolve(cfg, &table.path, &entry.origin).map_err(at)?;
    Ok(Entry { table, path })
}

/// An entry with its component read, checked and compiled (or taken from the cache), and
/// the time that took.
struct Fetched {
    entry: Entry,
    loaded: Result<component::Loaded, String>,
    took: Duration,
}

/// Fetches every readable entry's component, as many at once as there are cores: hashing,
/// validating and deserializing a Python or JavaScript component takes a tenth of a second
/// or more each, and nothing in it depends on another plugin. Results keep the config's
/// order; an entry that could not be read passes through as its error.
fn fetch_components(
    rt: &crate::Runtime,
    entries: Vec<Result<Entry, ConfigError>>,
) -> Vec<Result<Fetched, ConfigError>> {
    let fetch = |entry: Entry| {
        let started = Instant::now();
        let t = &entry.table;
        let loaded = component::load(rt, &entry.path, t.sha256.as_deref(), &t.limits);
        Fetched {
            entry,
            loaded,
            took: started.elapsed(),
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = Vec::with_capacity(entries.len());
    let mut entries = entries.into_iter();
    loop {
        let chunk: Vec<_> = entries.by_ref().take(threads).collect();
        if chunk.is_empty() {
            return out;
        }
        std::thread::scope(|s| {
            let running: Vec<_> = chunk
                .into_iter()
                .map(|e| e.map(|e| s.spawn(|| fetch(e))))
                .collect();
            out.extend(
                running
                    .into_iter()
                    .map(|r| r.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))),
            );
        });
    }
}

/// Links a fetched component into a plugin (instantiating it, in the config's order, so its
/// output at start-up comes in that order) and says it is ready.
fn link_one(
    cfg: &Config,
    node: &Node,
    fetched: Fetched,
    log: &RunLog,
    work_dir: Option<&Path>,
) -> Result<Plugin, ConfigError> {
    let at = |m: String| cfg.error_at(ErrorKind::InvalidValue, m, &node.origin);
    let Fetched {
        entry: Entry { table, .. },
        loaded,
        took,
    } = fetched;
    let started = Instant::now();
    let file = loaded.map_err(at)?;
    let caps = Capabilities {
        dirs: table.allow_dirs.iter().map(PathBuf::from).collect(),
    };
    let mut plugin =
        Plugin::link(file, table.limits, table.on_error, caps, log.clone()).map_err(at)?;
    // Traces are run output: written only by a training run, into its work dir.
    if let (Some(trace), Some(dir)) = (&table.trace, work_dir) {
        let file = Trace::create(&dir.join(trace)).map_err(at)?;
        plugin.trace = Some(Arc::new(file));
    }
    let info = &plugin.info;
    log.info(&format!(
        "plugin {}: {} (world {}, weft:plugin@{}, sha256 {}, {} KiB, ready in {} ms{})",
        info.type_name,
        info.path,
        info.world,
        info.version,
        &info.sha256[..16],
        info.size.div_ceil(1024),
        (took + started.elapsed()).as_millis(),
        if plugin.caps.dirs.is_empty() {
            String::new()
        } else {
            format!(", may use {}", table.allow_dirs.join(", "))
        }
    ));
    Ok(plugin)
}

fn check_limits(l: &Limits) -> Result<(), String> {
    if !(1..=65_536).contains(&l.memory_mb) {
        return Err(format!(
            "limits.memory_mb must be between 1 and 65536, got {}",
            l.memory_mb
        ));
    }
    if !(1..=3_600_000).contains(&l.call_timeout_ms) {
        return Err(format!(
            "limits.call_timeout_ms must be between 1 and 3600000, got {}",
            l.call_timeout_ms
        ));
    }
    if l.fuel == Some(0) {
        return Err("limits.fuel must be positive (leave it out for no fuel limit)".into());
    }
    Ok(())
}

/// A relative path is looked up from the working directory (as MMCV resolves paths), then
/// from the directory of the config file that names it and that directory's parents, so a
/// config under `configs/` can name `guest-examples/...` from the repository root.
fn resolve(cfg: &Config, path: &str, origin: &Origin) -> Result<PathBuf, String> {
    let p = Path::new(path);
    if p.is_absolute() || p.is_file() {
        return Ok(p.to_path_buf());
    }
    let location = cfg.sources().locate(origin);
    let config_file = location.path().unwrap_or_else(|| cfg.path());
    // Absolute, so that the climb through the parents works for a config given as a bare
    // file name in the working directory (whose parent is the empty path).
    let config_dir = config_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let config_dir = if config_dir.as_os_str().is_empty() {
        std::env::current_dir().unwrap_or_default()
    } else {
        std::path::absolute(&config_dir).unwrap_or(config_dir)
    };
    if let Some(found) = config_dir
        .ancestors()
        .map(|d| d.join(p))
        .find(|c| c.is_file())
    {
        return Ok(found);
    }
    let hint = if path.starts_with("guest-examples/") || path.starts_with("tests/guests/") {
        " (build the examples first: `make guests`)"
    } else {
        ""
    };
    Err(format!(
        "plugin file {path} not found (looked in the working directory, in {} and above){hint}",
        config_dir.display()
    ))
}
