//! Every runnable config in `configs/` (TOML, and MMCV-style Python) passes the checks every
//! command runs (`weft::validate`): the configs without plugins on their own, the plugin
//! configs once the example components of every language are built.

use std::path::{Path, PathBuf};

use weft_core::RunLog;

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
        } else if path.extension().is_some_and(|e| e == "toml" || e == "py") {
            out.push(path);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

/// The runnable configs that import plugins (`true`) or not.
fn runnable(with_plugins: bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    configs(&root(), &mut found);
    found
        .into_iter()
        .filter(|p| {
            let cfg = weft_config::Config::from_file(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            cfg.get("custom_imports").is_some() == with_plugins
        })
        .collect()
}

fn check(path: &Path) {
    let log = RunLog::capturing();
    let checked = weft::validate::check(path, &[], &log, None)
        .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
    weft::validate::model_and_optimizer(&checked, weft_nn::Device::Cpu, 0)
        .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
}

#[test]
fn every_config_without_plugins_validates() {
    let found = runnable(false);
    assert!(found.len() >= 4, "{found:?}");
    for path in found {
        check(&path);
    }
}

#[test]
fn every_plugin_config_validates_with_the_examples_built() {
    let found = runnable(true);
    assert!(found.len() >= 6, "{found:?}");
    // The plugin configs name the example components of every language.
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
        check(&path);
    }
}

#[test]
fn the_python_tsm_config_is_the_toml_one() {
    let dir = root().join("recognition/tsm");
    let py = weft_config::Config::from_file(&dir.join("tsm_r18_1x1x8_mfmnist_rgb.py")).unwrap();
    let toml = weft_config::Config::from_file(&dir.join("tsm_r18_1x1x8_mfmnist_rgb.toml")).unwrap();
    let (py, toml) = (py.root().to_json(), toml.root().to_json());
    let toml = toml.as_object().unwrap();
    for (key, value) in py.as_object().unwrap() {
        match toml.get(key) {
            Some(t) => assert_eq!(value, t, "{key}"),
            // The Python file's own variables (`_train_pipeline`, ...): the TOML inlines them.
            None => assert!(key.starts_with('_'), "{key} is only in the Python config"),
        }
    }
    for key in toml.keys() {
        assert!(py.get(key).is_some(), "{key} is only in the TOML config");
    }
}
