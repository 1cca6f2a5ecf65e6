//! The reference plugins in every guest language behave identically: the same config
//! (configs/plugins/conformance/<language>.toml) gives the same trace of hook calls, log
//! lines and requests, value for value, and the same trained weights, bit for bit.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::guests::{LANGUAGES, example, example_on_wit};
use crate::support::temp_dir;
use crate::training::model_tensors;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The traces of the two plugins and the trained weights.
type Outcome = (String, String, Vec<(String, Vec<f32>)>);

/// A language's config in configs/plugins/conformance/.
fn config_of(language: &str) -> PathBuf {
    repo().join(format!("configs/plugins/conformance/{language}.toml"))
}

/// Trains with a conformance config; returns the two traces and the final weights.
///
/// Each run is a `weft train` process of its own: libtorch's default generator (weight
/// initialisation) is global to a process, and the other tests of this binary use it from
/// their threads at the same time.
fn run(config: &Path, out: &Path, resume: Option<&Path>) -> Outcome {
    // The configs write their traces into the work dir.
    let [t0, t1] = [out.join("my_hook.trace"), out.join("warmup_cosine.trace")];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.arg("train")
        .arg(config)
        .arg("--work-dir")
        .arg(out)
        .current_dir(repo());
    if let Some(checkpoint) = resume {
        cmd.arg("--resume-from").arg(checkpoint);
    }
    let done = cmd.output().unwrap();
    assert!(
        done.status.success(),
        "{}: {}",
        config.display(),
        String::from_utf8_lossy(&done.stderr)
    );
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
    let reference = run(&config_of("rust"), &dir.join("rust"), None);
    let (hook, cosine, _) = &reference;
    // The Rust traces themselves: every point and request of the run.
    assert_eq!(hook.matches("MyHook after_iter").count(), 76, "{hook}");
    assert!(hook.contains("  log info \"MyHook(a=3, b=conf) before_run: 60 iterations planned\""));
    assert!(hook.contains("  log info \"after_run at iter 60 after 76 iterations seen\""));
    assert_eq!(cosine.matches("  set-lr 0 ").count(), 60, "{cosine}");
    for label in LANGUAGES {
        build(label);
        conforms(label, &config_of(label), &dir, &reference);
    }
    // A hook built against weft:plugin@0.1.0 (before `ranks`) still loads and behaves
    // identically: Go's examples built on that version's bindings.
    let old = ["my_hook", "warmup_cosine"].map(|name| example_on_wit("go", name, "0.1.0"));
    let config = config_with(&dir, "go-0.1.0", &old);
    let v = crate::support::weft_json(&["plugin", "inspect", old[0].to_str().unwrap(), "--json"]);
    assert_eq!(v["version"], "0.1.0", "{v}");
    let imports = v["imports"].as_array().unwrap();
    assert!(
        !imports
            .iter()
            .any(|i| i.as_str().unwrap().contains("ranks")),
        "{v}"
    );
    conforms("go-0.1.0", &config, &dir, &reference);
    // The JavaScript examples on the QuickJS engine: its bindings could not give back the
    // borrowed run state of 0.2.0's hook points, and 0.3.0's take none.
    let quickjs = ["my_hook", "warmup_cosine"].map(crate::guests::quickjs_example);
    let config = config_with(&dir, "js-quickjs", &quickjs);
    conforms("js-quickjs", &config, &dir, &reference);
}

/// The conformance job over other builds of the two plugins (`[my_hook, warmup_cosine]`),
/// written into `dir` as `<label>.toml`.
fn config_with(dir: &Path, label: &str, plugins: &[PathBuf; 2]) -> PathBuf {
    let config = dir.join(format!("{label}.toml"));
    std::fs::write(
        &config,
        format!(
            "_base_ = [{:?}]\ncustom_imports = {{ imports = [\
             {{ path = {:?}, trace = \"my_hook.trace\" }}, \
             {{ path = {:?}, trace = \"warmup_cosine.trace\" }}] }}\n",
            config_of("_base").to_str().unwrap(),
            plugins[0].to_str().unwrap(),
            plugins[1].to_str().unwrap()
        ),
    )
    .unwrap();
    config
}

/// The run of `config` gives the reference's traces and weights, and so does its resume from
/// the checkpoint of epoch 1.
fn conforms(label: &str, config: &Path, dir: &Path, reference: &Outcome) {
    let (hook, cosine, weights) = reference;
    let (h, c, w) = run(config, &dir.join(label), None);
    assert!(
        h == *hook,
        "{label}: MyHook trace differs at {}",
        first_difference(hook, &h)
    );
    assert!(
        c == *cosine,
        "{label}: WarmupCosineLrHook trace differs at {}",
        first_difference(cosine, &c)
    );
    assert!(
        w == *weights,
        "{label}: the trained weights differ from the Rust run's"
    );
    // The cosine hook keeps its base lr in checkpoints (each language writes its own JSON):
    // resumed after epoch 1, the run sets the same lr from iteration 30 on and ends with the
    // same weights.
    let checkpoint = dir.join(label).join("epoch_1.safetensors");
    let (_, c, w) = run(
        config,
        &dir.join(format!("{label}-resumed")),
        Some(&checkpoint),
    );
    assert!(
        c.contains("WarmupCosineLrHook load-state ok"),
        "{label}: {c}"
    );
    let tail = |t: &str| -> Vec<String> {
        let at = t.find("before_train_iter epoch=1 iter=30 ").unwrap();
        t[at..].lines().map(str::to_string).collect()
    };
    assert_eq!(tail(&c), tail(cosine), "{label}: resumed lr");
    assert!(w == *weights, "{label}: the resumed run's weights differ");
}
