//! One store per plugin instance: an empty WASI context, a memory cap, fuel and deadline,
//! and linkers whose clock subscriptions refuse to block.

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::Result;
use wasmtime::component::Linker;
use wasmtime::{Store, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx};
use weft_core::RunLog;

use crate::engine::TICK;
use crate::limits::Limits;
use crate::output::Capture;
use crate::state::HostState;
use crate::trace::Trace;

/// Fuel a metered store holds between calls (each call is armed with its own budget).
const UNLIMITED_FUEL: u64 = u64::MAX / 2;

/// What a plugin may touch beyond its own memory.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    /// Host directories preopened read-write, at the same path (`allow_dirs`).
    pub dirs: Vec<PathBuf>,
}

/// A fresh store for one instance of a plugin.
pub fn store(
    engine: &wasmtime::Engine,
    plugin: Arc<str>,
    log: RunLog,
    limits: &Limits,
    caps: &Capabilities,
    trace: Option<Arc<Trace>>,
) -> Result<Store<HostState>> {
    let stdout = Capture::default();
    let stderr = Capture::default();
    let mut wasi = WasiCtx::builder();
    // No arguments, environment, stdin, preopens or sockets: only what is granted below.
    wasi.stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        // File operations run on the calling thread rather than a thread pool, so a call
        // blocked in the kernel is on the thread the watchdog interrupts (see watchdog.rs);
        // it also saves a thread hop per operation.
        .allow_blocking_current_thread(true);
    for dir in &caps.dirs {
        std::fs::create_dir_all(dir).map_err(|e| {
            wasmtime::format_err!("cannot create the allowed directory {}: {e}", dir.display())
        })?;
        let guest = dir.display().to_string();
        wasi.preopened_dir(dir, &guest, FsPerms::ReadWrite)
            .map_err(|e| wasmtime::format_err!("cannot grant {}: {e}", dir.display()))?;
    }
    let state = HostState {
        wasi: wasi.build(),
        table: wasmtime::component::ResourceTable::new(),
        limits: StoreLimitsBuilder::new()
            .memory_size((limits.memory_mb as usize) << 20)
            .trap_on_grow_failure(true)
            .instances(16)
            .tables(64)
            .memories(16)
            .build(),
        plugin,
        log,
        stdout,
        stderr,
        call: None,
        step: None,
        handles: 0,
        tensor_bytes: 0,
        tensor_limit: None,
        deadline: None,
        budget: crate::budget::Budget::default(),
        scalar_names: Default::default(),
        trace,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    if limits.fuel.is_some() {
        store.set_fuel(UNLIMITED_FUEL)?;
    }
    store.epoch_deadline_trap();
    store.set_epoch_deadline(deadline_ticks(limits));
    Ok(store)
}

/// A call's deadline in epoch ticks (at least one).
pub fn deadline_ticks(limits: &Limits) -> u64 {
    (limits.call_timeout_ms / TICK.as_millis() as u64).max(1)
}

/// Arms the deadline (`ticks`, [`deadline_ticks`] of `limits`) and, on the metered engine,
/// the fuel budget for one call.
pub fn arm(store: &mut Store<HostState>, limits: &Limits, ticks: u64) -> Result<()> {
    store.set_epoch_deadline(ticks);
    if let Some(fuel) = limits.fuel {
        store.set_fuel(fuel)?;
    }
    Ok(())
}

/// A linker with WASI (sync) whose monotonic-clock subscriptions trap: a plugin blocked in
/// `sleep` would hold the training thread past any deadline, since neither epochs nor fuel
/// interrupt a host call.
pub fn linker(engine: &wasmtime::Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    linker.allow_shadowing(true);
    let mut clock = linker.instance("wasi:clocks/monotonic-clock@0.2.12")?;
    for name in ["subscribe-duration", "subscribe-instant"] {
        clock.func_new(name, move |_store, _ty, _params, _results| {
            wasmtime::bail!(
                "plugins may not sleep or wait ({name}): a blocked call would outlive its deadline"
            )
        })?;
    }
    linker.allow_shadowing(false);
    Ok(linker)
}
