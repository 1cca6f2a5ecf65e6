//! The parts of a hook call, each timed alone, for the `plugins` benchmark: a call costs the
//! bare wasmtime call plus what weft does around it (arming the limits, lending the run
//! context, collecting the plugin's output), and each part is weighed here so that a change
//! to one shows up as a number (docs/benchmarks.md, "One hook call, part by part").

use std::hint::black_box;
use std::time::Instant;

use wasmtime::component::{Component, Linker, Resource, ResourceType};
use wasmtime::{Config, Engine, Store};
use weft_core::{RunContext, Stage};

use crate::plugin::Plugin;
use crate::state::CallState;

/// A component whose one export does nothing: the floor of a component call.
const EMPTY: &str = r#"(component
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m))
  (func (export "f") (canon lift (core func $i "f"))))"#;

/// A component whose exports have the shapes of a hook export, each doing nothing beyond
/// what the canonical ABI asks of a callee: `plain: func()`; `lent: func(s: borrow<r>)`,
/// which drops the borrow it was lent as the ABI requires (a guest-to-host call); `fallible:
/// func() -> result<_, string>`, returned through memory with a post-return call; and
/// `hook`, both at once, the shape of every hook export of weft:plugin 0.1.0 and 0.2.0
/// (0.3.0's hook exports are `plain`'s shape).
const SHAPES: &str = r#"(component
  (import "r" (type $r (sub resource)))
  (core func $drop (canon resource.drop $r))
  (core module $m
    (import "host" "drop" (func $drop (param i32)))
    (memory (export "memory") 1)
    (func (export "plain"))
    (func (export "lent") (param i32) local.get 0 call $drop)
    (func (export "fallible") (result i32) i32.const 16)
    (func (export "hook") (param i32) (result i32) local.get 0 call $drop i32.const 16)
    (func (export "post") (param i32)))
  (core instance $host (export "drop" (func $drop)))
  (core instance $i (instantiate $m (with "host" (instance $host))))
  (type $outcome (result (error string)))
  (func (export "plain") (canon lift (core func $i "plain")))
  (func (export "lent") (param "s" (borrow $r)) (canon lift (core func $i "lent")))
  (func (export "fallible") (result $outcome)
    (canon lift (core func $i "fallible") (memory (core memory $i "memory")) (post-return (core func $i "post"))))
  (func (export "hook") (param "s" (borrow $r)) (result $outcome)
    (canon lift (core func $i "hook") (memory (core memory $i "memory")) (post-return (core func $i "post")))))"#;

/// The host resource `SHAPES` is lent.
struct Lent;

/// Nanoseconds per call of each export of `SHAPES` on an engine without fuel or epochs: what
/// a hook export's borrowed run state and `result<_, string>` cost in the canonical ABI
/// alone, with no guest code and no weft code around the call.
pub fn abi_shapes_ns(n: usize) -> Result<Vec<(&'static str, f64)>, String> {
    let run = || -> wasmtime::Result<Vec<(&'static str, f64)>> {
        let mut config = Config::new();
        config.concurrency_support(false);
        let engine = Engine::new(&config)?;
        let component = Component::new(&engine, SHAPES)?;
        let mut linker = Linker::new(&engine);
        linker
            .root()
            .resource("r", ResourceType::host::<Lent>(), |_, _| Ok(()))?;
        let mut store = Store::new(&engine, ());
        let instance = linker.instantiate(&mut store, &component)?;
        let plain = instance.get_typed_func::<(), ()>(&mut store, "plain")?;
        let lent = instance.get_typed_func::<(Resource<Lent>,), ()>(&mut store, "lent")?;
        let fallible =
            instance.get_typed_func::<(), (Result<(), String>,)>(&mut store, "fallible")?;
        let hook = instance
            .get_typed_func::<(Resource<Lent>,), (Result<(), String>,)>(&mut store, "hook")?;
        let borrow = || Resource::<Lent>::new_borrow(0);
        Ok(vec![
            (
                "func()",
                per_call(n, || plain.call(&mut store, ()).expect("plain")),
            ),
            (
                "func(borrow<r>)",
                per_call(n, || lent.call(&mut store, (borrow(),)).expect("lent")),
            ),
            (
                "func() -> result<_, string>",
                per_call(n, || {
                    let (outcome,) = fallible.call(&mut store, ()).expect("fallible");
                    black_box(outcome).expect("an ok result");
                }),
            ),
            (
                "func(borrow<r>) -> result<_, string> (a hook's shape)",
                per_call(n, || {
                    let (outcome,) = hook.call(&mut store, (borrow(),)).expect("hook");
                    black_box(outcome).expect("an ok result");
                }),
            ),
        ])
    };
    run().map_err(|e| format!("{e:#}"))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    // The shapes must stay a valid component whose calls succeed: a borrow not dropped, or a
    // result read from outside memory, fails the call and would make the bench panic.
    #[test]
    fn every_abi_shape_links_and_returns() {
        let shapes = abi_shapes_ns(10).unwrap();
        assert_eq!(shapes.len(), 4);
        assert!(shapes.iter().all(|(_, ns)| ns.is_finite() && *ns > 0.0));
    }
}
