//! The parts of a hook call, each timed alone, for the `plugins` benchmark: a call costs the
//! bare wasmtime call plus what weft does around it (arming the limits, lending the run
//! context, collecting the plugin's output), and each part is weighed here so that a change
//! to one shows up as a number (docs/benchmarks.md, "One hook call, part by part").

use std::hint::black_box;
use std::time::Instant;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};
use weft_core::{RunContext, Stage};

use crate::plugin::Plugin;
use crate::state::CallState;

/// A component whose one export does nothing: the floor of a component call.
const EMPTY: &str = r#"(component
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m))
  (func (export "f") (canon lift (core func $i "f"))))"#;

/// Median nanoseconds per call of `f` over 9 batches of `n`, after a warm-up batch.
pub(crate) fn per_call(n: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..n {
        f();
    }
    let mut batches: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_secs_f64() * 1e9 / n as f64
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    batches[4]
}

/// The metering of an engine, which its stores must be given budgets for.
#[derive(Clone, Copy)]
enum Metering {
    None,
    Epochs,
    EpochsAndFuel,
}

/// One call of the empty export in a store of `engine`, budgets armed as weft's stores are.
fn bare_call(engine: &Engine, metering: Metering, n: usize) -> wasmtime::Result<f64> {
    let component = Component::new(engine, EMPTY)?;
    let mut store = Store::new(engine, ());
    if !matches!(metering, Metering::None) {
        store.epoch_deadline_trap();
        store.set_epoch_deadline(u64::MAX / 2);
    }
    if matches!(metering, Metering::EpochsAndFuel) {
        store.set_fuel(u64::MAX / 2)?;
    }
    let instance = Linker::new(engine).instantiate(&mut store, &component)?;
    let f = instance.get_typed_func::<(), ()>(&mut store, "f")?;
    Ok(per_call(n, || {
        f.call(&mut store, ()).expect("the empty call")
    }))
}

/// Nanoseconds per call of an empty component export on an engine with neither fuel nor
/// epochs: wasmtime's floor for a component call on this machine.
pub fn empty_call_ns(n: usize) -> Result<f64, String> {
    let mut plain = Config::new();
    plain.concurrency_support(false);
    let plain = Engine::new(&plain).map_err(|e| e.to_string())?;
    bare_call(&plain, Metering::None, n).map_err(|e| e.to_string())
}

/// Nanoseconds per call of each part, in the order a hook call performs them. `plugin` is a
/// hook plugin (its store is used for the parts that need one); `ctx` the run context lent.
pub fn hook_call_parts(
    plugin: &Plugin,
    ctx: &RunContext,
    n: usize,
) -> Result<Vec<(&'static str, f64)>, String> {
    let err = |e: wasmtime::Error| e.to_string();
    let mut parts = vec![(
        "bare call (an empty export; no fuel, no epochs)",
        empty_call_ns(n)?,
    )];
    let engine = &plugin.engine;
    let metering = if plugin.limits.fuel.is_some() {
        Metering::EpochsAndFuel
    } else {
        Metering::Epochs
    };
    parts.push((
        "bare call on this plugin's engine (epoch checks; fuel if limits.fuel)",
        bare_call(engine, metering, n).map_err(err)?,
    ));
    let mut store = plugin.store()?;
    parts.push((
        "arm the per-call limits (deadline, fuel, watchdog) and disarm",
        per_call(n, || drop(black_box(plugin.arm(&mut store)))),
    ));
    parts.push((
        "lend the run context and take it back",
        per_call(n, || {
            store.data_mut().call = Some(CallState::new(Stage::AfterTrainIter, ctx));
            black_box(store.data_mut().call.take());
        }),
    ));
    parts.push((
        "collect the plugin's output (none written)",
        per_call(n, || drop(black_box(store.data_mut().flush_output()))),
    ));
    Ok(parts)
}
