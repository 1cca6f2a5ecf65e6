//! The process-wide wasmtime engine: one configuration for every plugin, an epoch ticker for
//! deadlines, and the compiled-component cache.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::Result;
use wasmtime::{Config, Engine};

/// How often the epoch advances; per-call deadlines are counted in these ticks.
pub const TICK: Duration = Duration::from_millis(2);

/// The engine and where compiled components are cached.
pub struct Runtime {
    /// The engine every plugin runs in.
    pub engine: Engine,
    /// Compiled components, keyed by wasmtime version, engine settings and component digest.
    pub cache_dir: Option<PathBuf>,
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The shared runtime, created on first use.
pub fn runtime() -> Result<&'static Runtime> {
    RUNTIME
        .get_or_init(|| build().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| wasmtime::format_err!("cannot start the plugin runtime: {e}"))
}

fn build() -> Result<Runtime> {
    let mut config = Config::new();
    // Component calls cost about 2.5x more with async support on; plugins are synchronous.
    config.concurrency_support(false);
    // Deadlines: the ticker below advances the epoch; each call gets a budget of ticks.
    config.epoch_interruption(true);
    // Optional deterministic budgets; stores without a budget get effectively infinite fuel.
    config.consume_fuel(true);
    let engine = Engine::new(&config)?;
    crate::watchdog::install();
    let ticker = engine.clone();
    std::thread::Builder::new()
        .name("weft-plugin-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                ticker.increment_epoch();
                crate::watchdog::tick();
            }
        })
        .map_err(|e| wasmtime::format_err!("cannot start the epoch ticker: {e}"))?;
    Ok(Runtime {
        engine,
        cache_dir: cache_dir(),
    })
}

fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WEFT_COMPONENT_CACHE") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("weft").join("components"))
}
