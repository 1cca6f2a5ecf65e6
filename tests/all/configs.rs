//! Every runnable config in `configs/` loads, validates and builds its hooks.

use std::path::{Path, PathBuf};

use weft_core::RunLog;
use weft_core::build;

fn configs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // `_base_` folders and `_name.toml` files are bases, not runnable on their own.
        let base = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('_'));
        if base {
            continue;
        }
        if path.is_dir() {
            configs(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn every_config_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut found = Vec::new();
    configs(&root, &mut found);
    assert!(found.len() >= 4, "{found:?}");
    // The plugin configs name the example components of every language, which must be built.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest-examples");
    for language in std::fs::read_dir(&examples).unwrap() {
        let language = language.unwrap().path();
        if !language.is_dir() {
            continue;
        }
        let lang = language.file_name().unwrap().to_string_lossy().into_owned();
        for example in std::fs::read_dir(&language).unwrap() {
            let example = example.unwrap().path();
            if example.is_dir() && example.file_name().is_some_and(|n| n != "target") {
                crate::guests::example(&lang, &example.file_name().unwrap().to_string_lossy());
            }
        }
    }
    for path in found {
        let cfg = weft_config::Config::from_file(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let schema = cfg
            .schema()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let plan = build::plan(&cfg, &schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let log = RunLog::capturing();
        let registries =
            weft::plugins::load(&cfg, &log).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        build::hooks(&cfg, &schema, &plan, &registries.hooks, &log)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        weft::session::dry_optimizer(&cfg, &schema, &registries.extensions)
            .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
    }
}
