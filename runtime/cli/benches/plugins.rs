//! Benchmark: what plugins cost. Three measurements, printed as JSON lines:
//!
//! 1. `hook_call`: one hook call into a compiled Rust component that reads one value from the
//!    run state (`FaultyHook` with `fault = "none"`), against the same hook written natively;
//! 2. `iteration`: a LeNet-5 training iteration on Fashion-MNIST with no extra hooks, with
//!    five native hooks, and with five component hooks (each acting before the iteration,
//!    after backward and after the iteration), rounds alternated;
//! 3. `optimizer_step`: one step of the `MyOptimizer` component (SGD with momentum as an
//!    elementwise program the host runs) against native SGD (libtorch's fused kernel) on the
//!    same parameters; the two alternate over 5 rounds of 25 timed steps.
//!
//! The components come from `make guests` and tests/guests (`benches/plugins.sh` builds them).
//! NullHook is also timed in C and Zig (tests/guests/null_hook_c, null_hook_zig, built by
//! the script), and `WEFT_BENCH_OTHER_NULL_HOOK=FILE` times one more build (the Rust guest
//! built against another WIT version, say), all in the same rounds as the Rust one.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use weft::session::{TrainOptions, prepare};
use weft_config::Config;
use weft_core::{Dispatch, Hook, HookResult, Priority, RunContext, RunLog, Stage, StageSet};
use weft_host::hook::WasmHook;

mod common;
use common::median;

fn guests() -> PathBuf {
    std::env::var_os("WEFT_BENCH_GUESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/guests/wasm32-wasip2/release")
        })
}

/// The native twin of `FaultyHook` with `fault = "none"`: reads one value, does nothing.
struct NativeProbe;

impl Hook for NativeProbe {
    fn name(&self) -> &str {
        "NativeProbe"
    }
    fn points(&self) -> StageSet {
        [
            Stage::BeforeTrainIter,
            Stage::AfterTrainIter,
            Stage::AfterBackward,
        ]
        .into_iter()
        .collect()
    }
    fn before_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        black_box(ctx.iter);
        Ok(())
    }
    fn after_train_iter(&mut self, ctx: &mut RunContext) -> HookResult {
        black_box(ctx.iter);
        Ok(())
    }
    fn after_backward(&mut self, ctx: &mut RunContext) -> HookResult {
        black_box(ctx.iter);
        Ok(())
    }
}

fn probe_config() -> serde_json::Value {
    json!({ "fault": "none", "at": "nowhere" })
}

fn wasm_probe(log: &RunLog, limits: weft_host::Limits) -> WasmHook {
    let plugin = weft_host::open_with(&guests().join("faulty.wasm"), None, log.clone(), limits)
        .unwrap_or_else(|e| panic!("{e} (build the guests: benches/plugins.sh)"));
    WasmHook::new(plugin, &probe_config()).unwrap()
}

fn time_calls(hook: &mut dyn Hook, ctx: &mut RunContext) -> f64 {
    const BATCH: usize = 20_000;
    ctx.set_stage(Stage::AfterTrainIter);
    // The point that serves after_train_iter (the generic after_iter for FaultyHook), as the
    // runner resolves it.
    let point = Dispatch::of(hook.points())
        .get(Stage::AfterTrainIter)
        .expect("the hook acts after train iterations");
    for _ in 0..BATCH {
        hook.call(point, ctx).unwrap();
    }
    let mut per_call = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        for _ in 0..BATCH {
            hook.call(point, ctx).unwrap();
        }
        per_call.push(t.elapsed().as_secs_f64() / BATCH as f64);
    }
    median(per_call)
}

fn hook_call() -> f64 {
    let log = RunLog::capturing();
    let mut ctx = common::dry_context(&log);
    let mut wasm = wasm_probe(&log, weft_host::Limits::default());
    // The same plugin with a fuel limit runs on the metered engine.
    let metered_limits = weft_host::Limits {
        fuel: Some(1 << 40),
        ..Default::default()
    };
    let mut metered = wasm_probe(&log, metered_limits);
    let mut native = NativeProbe;
    let w = time_calls(&mut wasm, &mut ctx);
    let m = time_calls(&mut metered, &mut ctx);
    let n = time_calls(&mut native, &mut ctx);
    println!(
        "{}",
        json!({ "bench": "hook_call", "component_ns": w * 1e9,
                "component_with_fuel_limit_ns": m * 1e9, "native_ns": n * 1e9 })
    );
    for (hook, what) in [(&wasm, "no fuel limit"), (&metered, "fuel limit")] {
        let parts = weft_host::profile::hook_call_parts(hook.plugin(), &ctx, 20_000).unwrap();
        for (part, ns) in parts {
            println!(
                "{}",
                json!({ "bench": "hook_call_part", "plugin": what, "part": part, "ns": ns })
            );
        }
    }
    // weft's share end to end: the same export called through its bindings alone, alternated
    // with whole calls so that both see the machine in the same state.
    // NullHook (tests/guests/null_hook) does nothing at all: its call is a hook call's own
    // cost, set against an empty export in the same rounds.
    let null_plugin = weft_host::open(&guests().join("null_hook.wasm"), None, log.clone())
        .unwrap_or_else(|e| panic!("{e} (build the guests: benches/plugins.sh)"));
    let mut null = WasmHook::new(null_plugin, &json!({})).unwrap();
    let point = Dispatch::of(wasm.points())
        .get(Stage::AfterTrainIter)
        .expect("the hook acts after train iterations");
    let null_point = Dispatch::of(null.points())
        .get(Stage::AfterTrainIter)
        .expect("NullHook acts after train iterations");
    // NullHook in the C and Zig SDKs (benches/plugins.sh builds them into target/guests/),
    // and another build named by WEFT_BENCH_OTHER_NULL_HOOK, alternated with the Rust one so
    // that all see the machine in the same state.
    let mut others: Vec<(String, WasmHook, Vec<f64>)> = Vec::new();
    let built = guests().join("../..");
    let named = std::env::var_os("WEFT_BENCH_OTHER_NULL_HOOK").map(PathBuf::from);
    for (label, path) in [
        ("c", Some(built.join("null_hook_c.wasm"))),
        ("zig", Some(built.join("null_hook_zig.wasm"))),
        ("other", named),
    ] {
        let Some(path) = path.filter(|p| p.is_file()) else {
            continue;
        };
        let plugin = weft_host::open(&path, None, log.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let label = format!("{label} on weft:plugin@{}", plugin.info.version);
        others.push((
            label,
            WasmHook::new(plugin, &json!({})).unwrap(),
            Vec::new(),
        ));
    }
    let mut rounds: [Vec<f64>; 5] = Default::default();
    // The canonical ABI's share: the shapes of a hook export with no guest code in them, in
    // the same rounds.
    let mut shapes: Vec<(&str, Vec<f64>)> = Vec::new();
    for _ in 0..5 {
        for (i, (shape, ns)) in weft_host::profile::abi_shapes_ns(20_000)
            .unwrap()
            .into_iter()
            .enumerate()
        {
            match shapes.get_mut(i) {
                Some((_, all)) => all.push(ns),
                None => shapes.push((shape, vec![ns])),
            }
        }
        rounds[0].push(time_calls(&mut wasm, &mut ctx) * 1e9);
        rounds[1].push(wasm.bindings_only_ns(point, &ctx, 20_000).unwrap());
        rounds[2].push(time_calls(&mut null, &mut ctx) * 1e9);
        rounds[3].push(null.bindings_only_ns(null_point, &ctx, 20_000).unwrap());
        rounds[4].push(weft_host::profile::empty_call_ns(20_000).unwrap());
        for (_, hook, all) in others.iter_mut() {
            all.push(time_calls(hook, &mut ctx) * 1e9);
        }
    }
    for (label, _, all) in others {
        println!(
            "{}",
            json!({ "bench": "hook_call_null_hook", "build": label, "whole_ns": median(all) })
        );
    }
    for (shape, all) in shapes {
        println!(
            "{}",
            json!({ "bench": "hook_call_abi_shape", "shape": shape, "ns": median(all) })
        );
    }
    let [probe, probe_bindings, nothing, nothing_bindings, empty] = rounds.map(median);
    let share = nothing - nothing_bindings;
    println!(
        "{}",
        json!({ "bench": "hook_call_end_to_end",
                "faulty_whole_ns": probe, "faulty_bindings_only_ns": probe_bindings,
                "null_whole_ns": nothing, "null_bindings_only_ns": nothing_bindings,
                "empty_export_ns": empty, "weft_share_ns": share })
    );
    w
}

fn train_config(dir: &Path) -> PathBuf {
    let path = dir.join("bench_train.toml");
    std::fs::write(
        &path,
        r#"
model = { type = "LeNet5" }
optimizer = { type = "SGD", lr = 0.01, momentum = 0.9, weight_decay = 5e-4 }
optimizer_config = { grad_clip = { max_norm = 35, norm_type = 2 } }
log_config = { interval = 100, hooks = [{ type = "TextLoggerHook" }] }
workflow = [["train", 1]]
total_epochs = 1
seed = 0
device = "cpu"
threads = 2

[data]
samples_per_gpu = 64
workers_per_gpu = 2
train = { type = "FashionMNIST", split = "train", num_samples = 19200 }
"#,
    )
    .unwrap();
    path
}

/// Seconds per training iteration with `extra` hooks (0: none, else five native or five
/// component hooks).
fn iteration(dir: &Path, variant: &str) -> f64 {
    let opts = TrainOptions {
        config: train_config(dir),
        work_dir: Some(dir.join(variant)),
        ..TrainOptions::default()
    };
    let mut session = prepare(&opts).unwrap();
    let log = session.runner.ctx.log.clone();
    for _ in 0..5 {
        let hook: Box<dyn Hook> = match variant {
            "native" => Box::new(NativeProbe),
            "component" => Box::new(wasm_probe(&log, weft_host::Limits::default())),
            _ => break,
        };
        session.runner.hooks.register(hook, Priority::NORMAL);
    }
    let iters = session
        .runner
        .ctx
        .engine
        .loader_len(weft_config::schema::Phase::Train) as f64;
    let t = Instant::now();
    session.runner.run().unwrap();
    t.elapsed().as_secs_f64() / iters
}

fn optimizer_steps() {
    let dir = std::env::temp_dir().join(format!("weft-bench-plugins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = guests().join("my_optimizer.wasm");
    for (mname, mcfg) in [
        ("lenet5", r#"{ type = "LeNet5" }"#),
        ("resnet18", r#"{ type = "ResNet", depth = 18 }"#),
    ] {
        let mut rows: Vec<(&str, f64)> = Vec::new();
        for round in 0..5 {
            for (oname, ocfg) in [
                (
                    "native_sgd",
                    r#"{ type = "SGD", lr = 0.01, momentum = 0.9, weight_decay = 5e-4 }"#,
                ),
                (
                    "component_sgd",
                    r#"{ type = "MyOptimizer", lr = 0.01, momentum = 0.9, weight_decay = 5e-4 }"#,
                ),
            ] {
                let path = dir.join(format!("opt-{mname}-{oname}-{round}.toml"));
                std::fs::write(
                    &path,
                    format!(
                        "custom_imports = {{ imports = [{:?}] }}\nmodel = {mcfg}\noptimizer = {ocfg}\n",
                        wasm.to_str().unwrap()
                    ),
                )
                .unwrap();
                let cfg = Config::from_file(&path).unwrap();
                let log = RunLog::capturing();
                let registries = weft::plugins::load(&cfg, &log).unwrap();
                let (model, mut setup) = common::model_with_grads(&cfg, &registries.extensions);
                let params = model.store.params();
                let mut times = Vec::new();
                for _ in 0..30 {
                    let t = Instant::now();
                    setup.optimizer.step(params, &setup.groups, None).unwrap();
                    times.push(t.elapsed().as_secs_f64());
                }
                rows.push((oname, median(times[5..].to_vec())));
            }
        }
        let pick = |name: &str| median(rows.iter().filter(|r| r.0 == name).map(|r| r.1).collect());
        let (n, c) = (pick("native_sgd"), pick("component_sgd"));
        println!(
            "{}",
            json!({ "bench": "optimizer_step", "model": mname, "native_us": n * 1e6,
                    "component_us": c * 1e6, "component_over_native": c / n })
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    tch::set_num_threads(2);
    // `WEFT_BENCH_ONLY=optimizer` or `=hook_call` runs that part alone.
    match std::env::var("WEFT_BENCH_ONLY").as_deref() {
        Ok("optimizer") => return optimizer_steps(),
        Ok("hook_call") => {
            hook_call();
            return;
        }
        _ => {}
    }
    let per_call = hook_call();
    let dir = std::env::temp_dir().join(format!("weft-bench-iter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut times: Vec<(&str, f64)> = Vec::new();
    for _round in 0..3 {
        for variant in ["none", "native", "component"] {
            times.push((variant, iteration(&dir, variant)));
        }
    }
    let pick = |name: &str| median(times.iter().filter(|r| r.0 == name).map(|r| r.1).collect());
    let (base, native, component) = (pick("none"), pick("native"), pick("component"));
    // Five hooks, three calls each per training iteration.
    let calls = 15.0;
    println!(
        "{}",
        json!({ "bench": "iteration", "base_ms": base * 1e3, "native5_ms": native * 1e3,
                "component5_ms": component * 1e3,
                "measured_overhead_pct": (component - base) / base * 100.0,
                "calls_per_iter": calls,
                "estimated_overhead_pct": calls * per_call / base * 100.0 })
    );
    let _ = std::fs::remove_dir_all(&dir);
    optimizer_steps();
}
