//! The guest SDKs from a user's side: `weft plugin new` projects in every language build with
//! their one command and run in training unchanged; bad plugin sources and missing
//! toolchains get messages that name the file and say what to do.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::temp_dir;
use crate::training::small_config;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `weft plugin new --lang LANGUAGE NAME` under `dir`.
fn scaffold(language: &str, name: &str, dir: &Path) -> PathBuf {
    let out = Command::new(WEFT)
        .args(["plugin", "new", "--lang", language, name, "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    dir.join(name)
}

/// Runs a project's `build.sh` with no arguments, as its README says.
fn build(project: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(project.join("build.sh"));
    cmd.env("WEFT", WEFT)
        // Rust projects share the guest examples' compiled dependencies.
        .env("CARGO_TARGET_DIR", repo().join("target/guests"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// `weft train` on a one-epoch small job with one hook from `wasm` (a `type` table, with
/// its config), in `dir`; returns the run's output.
fn train_with(dir: &Path, wasm: &Path, hook: &str) -> Output {
    let cfg = small_config(
        &dir.join("run"),
        &[],
        &format!(
            "total_epochs = 1\ncustom_imports = {{ imports = [{:?}] }}\ncustom_hooks = [{hook}]",
            wasm.to_str().unwrap()
        ),
    );
    Command::new(WEFT)
        .arg("train")
        .arg(&cfg)
        .arg("--work-dir")
        .arg(dir.join("work"))
        .output()
        .unwrap()
}

#[test]
fn new_projects_in_every_language_build_with_one_command_and_train() {
    let dir = temp_dir("plugin-new");
    for language in ["rust", "python", "js", "c", "go", "zig"] {
        let project = scaffold(language, "loss_report", &dir.join(language));
        let out = build(&project, &[]);
        assert!(out.status.success(), "{language}: {}", text(&out));
        let wasm = project.join("loss_report.wasm");
        assert!(wasm.is_file(), "{language}: no loss_report.wasm");
        let out = train_with(
            &dir.join(format!("{language}-run")),
            &wasm,
            "{ type = \"LossReport\", interval = 10 }",
        );
        let log = text(&out);
        assert!(out.status.success(), "{language}: {log}");
        assert!(
            log.contains("[LossReport] LossReport ready: 30 iterations planned"),
            "{language}: {log}"
        );
        for iter in [10, 20, 30] {
            assert!(
                log.contains(&format!("[LossReport] iteration {iter}: loss ")),
                "{language}: no loss line at iteration {iter}: {log}"
            );
        }
        assert!(!log.contains("[LossReport] iteration 5:"), "{language}");
    }
    // A second project of the same name in the same place is refused.
    let out = Command::new(WEFT)
        .args(["plugin", "new", "--lang", "c", "loss_report", "--dir"])
        .arg(dir.join("c"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    let out = Command::new(WEFT)
        .args(["plugin", "new", "--lang", "c", "Bad-Name"])
        .output()
        .unwrap();
    assert!(text(&out).contains("lower_snake_case"), "{}", text(&out));
}

#[test]
fn syntax_errors_and_missing_toolchains_name_the_file_and_the_fix() {
    let dir = temp_dir("guest-bad-input");
    // Python: the file and line of the syntax error, before any componentize-py output.
    let py = scaffold("python", "broken_py", &dir);
    let file = py.join("broken_py.py");
    let source = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        source.replace("def before_run(self, s):", "def before_run(self, s)"),
    )
    .unwrap();
    let out = build(&py, &[]);
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(
        msg.contains(&format!("{} has a syntax error", file.display())),
        "{msg}"
    );
    assert!(msg.contains("line "), "{msg}");
    // JavaScript: the same, with the plugin's own line numbers.
    let js = scaffold("js", "broken_js", &dir);
    let file = js.join("broken_js.js");
    let source = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, source.replace("beforeRun(s) {", "beforeRun(s) {{")).unwrap();
    let out = build(&js, &[]);
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(
        msg.contains(&format!("{} has a syntax error", file.display())),
        "{msg}"
    );
    assert!(msg.contains(&format!("{}:", file.display())), "{msg}");
    // A missing toolchain: what is missing and how to install it.
    let fresh = scaffold("python", "no_toolchain", &dir);
    let out = build(&fresh, &[("WEFT_GUEST_PY", "/nonexistent/venv")]);
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(msg.contains("componentize-py not found"), "{msg}");
    assert!(msg.contains("make guest-toolchains"), "{msg}");
    let go = scaffold("go", "no_go", &dir);
    let out = build(&go, &[("WEFT_GUEST_PY", "/nonexistent/venv")]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("make guest-toolchains"),
        "{}",
        text(&out)
    );
}

#[test]
fn javascript_errors_of_any_kind_reach_the_log_as_messages() {
    let dir = temp_dir("guest-js-throws");
    let js = scaffold("js", "thrower", &dir);
    let file = js.join("thrower.js");
    // A thrown object (not a string) would trap a bare componentize-js component; the SDK
    // turns it into the error result, so weft can say what happened.
    let source = std::fs::read_to_string(&file).unwrap().replace(
        "info(`Thrower ready: ${s.maxIters()} iterations planned`);",
        "throw { code: 7, why: \"no data\" };",
    );
    std::fs::write(&file, source).unwrap();
    let out = build(&js, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = train_with(&dir, &js.join("thrower.wasm"), "{ type = \"Thrower\" }");
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(
        msg.contains("plugin Thrower (") && msg.contains("thrower.wasm) failed in before_run"),
        "{msg}"
    );
    assert!(msg.contains(r#"{"code":7,"why":"no data"}"#), "{msg}");
}

#[test]
fn a_trap_in_a_javascript_plugin_says_how_to_avoid_it() {
    // A hook written against the raw bindings, without the SDK's exportHook: its thrown
    // object traps the component, and weft says why such plugins trap and what to use.
    let dir = temp_dir("guest-js-raw");
    let project = dir.join("raw_hook");
    std::fs::create_dir_all(&project).unwrap();
    let points = [
        "afterRun",
        "beforeTrainEpoch",
        "afterTrainEpoch",
        "beforeValEpoch",
        "afterValEpoch",
        "beforeTrainIter",
        "afterTrainIter",
        "beforeValIter",
        "afterValIter",
        "beforeEpoch",
        "afterEpoch",
        "afterBackward",
        "beforeIter",
        "afterIter",
    ];
    let noops: String = points
        .iter()
        .map(|p| format!("  {p}(_s) {{}},\n"))
        .collect();
    std::fs::write(
        project.join("raw_hook.js"),
        format!(
            "export const hooks = {{\n  typeName() {{ return \"RawHook\"; }},\n  init(_c) {{ return [\"before-run\"]; }},\n  saveState() {{ return undefined; }},\n  loadState(_t) {{}},\n  beforeRun(_s) {{ throw {{ code: 1 }}; }},\n{noops}}};\n"
        ),
    )
    .unwrap();
    let out = Command::new(repo().join("guest-sdk/js/build.sh"))
        .arg(&project)
        .env("WEFT", WEFT)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = train_with(
        &dir,
        &project.join("raw_hook.wasm"),
        "{ type = \"RawHook\" }",
    );
    let msg = text(&out);
    assert!(!out.status.success());
    assert!(msg.contains("raw_hook.wasm) failed in before_run"), "{msg}");
    assert!(msg.contains("a throw leaves an export"), "{msg}");
    assert!(msg.contains("weft-plugin.js"), "{msg}");
}

#[test]
fn a_c_plugin_that_cannot_save_its_state_fails_the_checkpoint_with_its_message() {
    let dir = temp_dir("guest-c-save-state");
    let project = scaffold("c", "no_save", &dir);
    let file = project.join("no_save.c");
    let mut source = std::fs::read_to_string(&file).unwrap();
    source += "\nchar *weft_save_state(void) {\n  weft_fail(\"cannot save: %d bytes over quota\", 42);\n  return NULL;\n}\n";
    std::fs::write(&file, source).unwrap();
    let out = build(&project, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = train_with(&dir, &project.join("no_save.wasm"), "{ type = \"NoSave\" }");
    let msg = text(&out);
    assert!(!out.status.success(), "{msg}");
    assert!(
        msg.contains("failed in save-state: cannot save: 42 bytes over quota"),
        "{msg}"
    );
}

#[test]
fn a_failing_hook_point_reports_its_message_in_python_and_c() {
    // Both SDKs build hooks on WIT 0.3.0, where a failing point leaves the guest through
    // `runner.fail`: the message (a Python exception with its traceback, C's weft_fail text)
    // is what the user reads, with the run state read during the call in it.
    let dir = temp_dir("guest-point-failure");
    let python = scaffold("python", "boom", &dir.join("python"));
    std::fs::write(
        python.join("boom.py"),
        "import weft_plugin as weft\n\n\nclass Boom(weft.Hook):\n    TYPE_NAME = \"Boom\"\n\n    def before_run(self, s):\n        raise ValueError(f\"refused at iter {s.iter()} of {s.max_iters()}\")\n\n\nHooks = weft.export_hook(Boom)\n",
    )
    .unwrap();
    let c = scaffold("c", "boom_c", &dir.join("c"));
    std::fs::write(
        c.join("boom_c.c"),
        "#include <inttypes.h>\n#include \"weft_plugin.h\"\n\nconst char *weft_type_name(void) { return \"BoomC\"; }\nint weft_init(const char *config_json) { return 0; }\nint weft_before_run(weft_state_t s) {\n  return weft_fail(\"refused at iter %\" PRIu64 \" of %\" PRIu64, weft_iter(s), weft_max_iters(s));\n}\n",
    )
    .unwrap();
    for (project, wasm, ty) in [(&python, "boom.wasm", "Boom"), (&c, "boom_c.wasm", "BoomC")] {
        let out = build(project, &[]);
        assert!(out.status.success(), "{}", text(&out));
        let out = train_with(
            &project.join("run"),
            &project.join(wasm),
            &format!("{{ type = \"{ty}\" }}"),
        );
        let msg = text(&out);
        assert!(!out.status.success(), "{msg}");
        assert!(
            msg.contains(&format!("{wasm}) failed in before_run: ")),
            "{msg}"
        );
        assert!(msg.contains("refused at iter 0 of 30"), "{msg}");
        assert!(!msg.contains("wasm trap"), "{msg}");
    }
}

#[test]
fn componentize_refuses_what_is_not_a_core_module_and_wit_writes_the_package() {
    let dir = temp_dir("componentize-bad");
    let readme = repo().join("README.md");
    let out = Command::new(WEFT)
        .args(["plugin", "componentize"])
        .arg(&readme)
        .arg("-o")
        .arg(dir.join("x.wasm"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("README.md: not a core WebAssembly module"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("x.wasm").exists());
    let out = Command::new(WEFT)
        .args(["plugin", "wit"])
        .arg(dir.join("wit"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    for file in ["hooks.wit", "runner.wit", "types.wit", "worlds.wit"] {
        let ours = std::fs::read_to_string(dir.join("wit").join(file)).unwrap();
        let repo_copy =
            std::fs::read_to_string(repo().join("wit/since_v0.1.0").join(file)).unwrap();
        assert_eq!(ours, repo_copy, "{file}");
    }
}
