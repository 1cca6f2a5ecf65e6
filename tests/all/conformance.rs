//! The reference plugins in every guest language behave identically: the same config
//! (configs/plugins/conformance/<language>.toml) gives the same trace of hook calls, log
//! lines and requests, value for value, and the same trained weights, bit for bit.

use std::path::{Path, PathBuf};

use weft::session::{TrainOptions, prepare};
use weft_core::RunOutcome;

use crate::guests::{LANGUAGES, example};
use crate::support::temp_dir;
use crate::training::model_tensors;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Trains with a language's config; returns the two traces and the final weights.
fn run(language: &str, out: &Path) -> (String, String, Vec<(String, Vec<f32>)>) {
    let config = repo().join(format!("configs/plugins/conformance/{language}.toml"));
    // The configs write their traces into the work dir.
    let [t0, t1] = [out.join("my_hook.trace"), out.join("warmup_cosine.trace")];
    let opts = TrainOptions {
        config,
        work_dir: Some(out.to_path_buf()),
        ..TrainOptions::default()
    };
    let mut session = prepare(&opts).unwrap_or_else(|e| panic!("{language}: {e:#}"));
    let outcome = session
        .runner
        .run()
        .unwrap_or_else(|e| panic!("{language}: {e}"));
    assert_eq!(outcome, RunOutcome::Completed, "{language}");
    drop(session);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    (
        read(&t0),
        read(&t1),
        model_tensors(&out.join("epoch_2.safetensors")),
    )
}

/// The first differing line, for a readable failure.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: rust {x:?}, other {y:?}", i + 1);
        }
    }
    format!("{} lines against {}", a.lines().count(), b.lines().count())
}

fn build(language: &str) {
    for name in ["my_hook", "warmup_cosine"] {
        example(language, name);
    }
}

#[test]
fn the_reference_plugins_behave_identically_in_every_language() {
    let dir = temp_dir("conformance");
    build("rust");
    let (hook, cosine, weights) = run("rust", &dir.join("rust"));
    // The Rust traces themselves: every point and request of the run.
    assert_eq!(hook.matches("MyHook after_iter").count(), 76, "{hook}");
    assert!(hook.contains("  log info \"MyHook(a=3, b=conf) before_run: 60 iterations planned\""));
    assert!(hook.contains("  log info \"after_run at iter 60 after 76 iterations seen\""));
    assert_eq!(cosine.matches("  set-lr 0 ").count(), 60, "{cosine}");
    for label in LANGUAGES {
        build(label);
        let (h, c, w) = run(label, &dir.join(label));
        assert!(
            h == hook,
            "{label}: MyHook trace differs at {}",
            first_difference(&hook, &h)
        );
        assert!(
            c == cosine,
            "{label}: WarmupCosineLrHook trace differs at {}",
            first_difference(&cosine, &c)
        );
        assert!(
            w == weights,
            "{label}: the trained weights differ from the Rust run's"
        );
    }
}
