//! The process-wide wasmtime engines, an epoch ticker for deadlines, and the
//! compiled-component cache. Two engines: every plugin runs with epoch deadlines, and only
//! plugins that set `limits.fuel` run on the metered engine, because fuel is compiled into
//! the code (a counter update in every basic block) and would otherwise cost every call of
//! every plugin for a limit nobody asked for.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::Result;
use wasmtime::{Config, Engine};

/// How often the epoch advances; per-call deadlines are counted in these ticks.
pub const TICK: Duration = Duration::from_millis(2);

/// The engines and where compiled components are cached.
pub struct Runtime {
    /// The engine of plugins without a fuel limit: epoch deadlines only.
    pub engine: Engine,
    /// The engine of plugins with `limits.fuel`: epoch deadlines and fuel metering.
    pub metered: Engine,
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
    let engine = Engine::new(&config(false))?;
    let metered = Engine::new(&config(true))?;
    crate::watchdog::install();
    let ticker = (engine.clone(), metered.clone());
    std::thread::Builder::new()
        .name("weft-plugin-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                ticker.0.increment_epoch();
                ticker.1.increment_epoch();
                crate::watchdog::tick();
            }
        })
        .map_err(|e| wasmtime::format_err!("cannot start the epoch ticker: {e}"))?;
    Ok(Runtime {
        engine,
        metered,
        cache_dir: cache_dir(),
    })
}

fn config(fuel: bool) -> Config {
    let mut config = Config::new();
    // Component calls cost about 2.5x more with async support on; plugins are synchronous.
    config.concurrency_support(false);
    // Deadlines: the ticker below advances the epoch; each call gets a budget of ticks.
    config.epoch_interruption(true);
    // Deterministic budgets for the plugins that ask for one (`limits.fuel`).
    config.consume_fuel(fuel);
    config
}

impl Runtime {
    /// The engine a plugin with these limits runs on.
    pub fn engine_for(&self, limits: &crate::Limits) -> &Engine {
        if limits.fuel.is_some() {
            &self.metered
        } else {
            &self.engine
        }
    }
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
