//! Benchmark: the reference hook `MyHook` (guest-examples/<language>/my_hook) in each guest
//! language. Per language, one JSON line: component size, cold load (compiling the
//! component with Cranelift, nothing cached), cached load (the compiled code read back from
//! the component cache), and the cost of one hook call (`after_train_iter`, which MyHook
//! serves with its generic `after_iter`: one run-state read, no request).
//!
//! `benches/guest_languages.sh` builds the examples and runs this; it also builds the
//! JavaScript example on the QuickJS engine (measured as `js-quickjs`). Further builds are
//! named in `WEFT_BENCH_EXTRA_HOOKS=label=path,...` (a plugin built on an older SDK, say),
//! measured in the same run.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use weft_core::{Dispatch, Hook, RunContext, RunLog, Stage};
use weft_host::hook::WasmHook;

mod common;
use common::{dry_context as context, median};

const LANGUAGES: [&str; 6] = ["rust", "python", "js", "c", "go", "zig"];

/// Median seconds per call over 9 batches, after a warm-up batch.
fn per_call(hook: &mut WasmHook, ctx: &mut RunContext, batch: usize) -> f64 {
    ctx.set_stage(Stage::AfterTrainIter);
    let point = Dispatch::of(hook.points())
        .get(Stage::AfterTrainIter)
        .expect("the hook acts after train iterations");
    let mut times = Vec::new();
    for round in 0..10 {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(hook.call(point, ctx)).unwrap();
        }
        if round > 0 {
            times.push(t.elapsed().as_secs_f64() / batch as f64);
        }
    }
    median(times)
}

fn main() {
    // The first load of each component must compile it: the script points the component
    // cache at an empty folder.
    std::env::var_os("WEFT_COMPONENT_CACHE")
        .expect("set WEFT_COMPONENT_CACHE to an empty folder (benches/guest_languages.sh does)");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest-examples");
    let log = RunLog::capturing();
    let mut builds: Vec<(&str, PathBuf)> = LANGUAGES
        .iter()
        .map(|language| {
            (
                *language,
                root.join(format!("{language}/my_hook/my_hook.wasm")),
            )
        })
        .collect();
    // Other builds of MyHook, `label=path` separated by commas: the script adds the
    // JavaScript example on QuickJS; an older SDK's builds can be set beside the current ones.
    let extra = std::env::var("WEFT_BENCH_EXTRA_HOOKS").unwrap_or_default();
    for item in extra.split(',').filter(|i| !i.is_empty()) {
        let (label, path) = item
            .split_once('=')
            .unwrap_or_else(|| panic!("WEFT_BENCH_EXTRA_HOOKS: `{item}` is not label=path"));
        builds.push((label, PathBuf::from(path)));
    }
    for (language, path) in builds {
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run benches/guest_languages.sh)", path.display()))
            .len();
        let t = Instant::now();
        weft_host::open(&path, None, log.clone()).unwrap();
        let cold = t.elapsed().as_secs_f64();
        let mut cached = Vec::new();
        let mut plugin = None;
        for _ in 0..5 {
            let t = Instant::now();
            plugin = Some(weft_host::open(&path, None, log.clone()).unwrap());
            cached.push(t.elapsed().as_secs_f64());
        }
        let mut hook = WasmHook::new(plugin.unwrap(), &json!({ "a": 3, "b": "bench" })).unwrap();
        let mut ctx = context(&log);
        // Interpreted guests: fewer calls per batch.
        let slow = language.starts_with("python") || language.starts_with("js");
        let call = per_call(&mut hook, &mut ctx, if slow { 2_000 } else { 20_000 });
        println!(
            "{}",
            json!({ "bench": "guest_language", "language": language, "size_bytes": size,
                    "cold_load_ms": cold * 1e3, "cached_load_ms": median(cached) * 1e3,
                    "call_ns": call * 1e9 })
        );
    }
}
