//! MMCV Python configs without Python: 63 real MMAction2 0.24.1 recognition configs (and the
//! `_base_` files they use, tests/fixtures/third_party/mmaction2/configs/) read as MMCV 1.7.2's
//! `Config.fromfile` reads them (its dumps recorded once in fromfile.json by record.py
//! there), and `weft import-mmcv` turning them into TOML that reads back the same, merged or
//! with the `_base_` chain kept.

use std::path::{Path, PathBuf};

use serde_json::Value;
use weft_config::Config;

use crate::support::{fixture, temp_dir};

fn dumps() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(fixture("third_party/mmaction2/fromfile.json")).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Value::Object(m) => m,
        _ => panic!("fromfile.json is an object"),
    }
}

fn config_path(rel: &str) -> PathBuf {
    fixture("third_party/mmaction2/configs").join(rel)
}

/// MMCV's dump with its module-level variables under weft's names (`_img_norm_cfg`).
fn as_weft(dump: &Value) -> Value {
    let Value::Object(top) = dump else {
        panic!("a dump is an object")
    };
    Value::Object(
        top.iter()
            .map(|(k, v)| (weft_config::python::variable_key(k), v.clone()))
            .collect(),
    )
}

/// Where two JSON trees differ first, as a path, or `None`.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => {
                        if let Some(d) = first_difference(v, w, &p) {
                            return Some(d);
                        }
                    }
                    (v, w) => return Some(format!("{p}: {v:?} vs {w:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, &format!("{path}[{i}]"))),
        // An int stays an int; a float's JSON text comes back within an ulp (serde_json).
        (Value::Number(x), Value::Number(y))
            if x.is_f64() == y.is_f64()
                && (x.as_f64().unwrap() - y.as_f64().unwrap()).abs()
                    <= 1e-15 * y.as_f64().unwrap().abs() =>
        {
            None
        }
        _ if a == b => None,
        _ => Some(format!("{path}: {a} vs {b}")),
    }
}

/// `None` has no TOML form: a TOML file leaves the key out, which weft reads as unset.
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| {
                    if v.is_null() {
                        Value::String("None".into())
                    } else {
                        without_nulls(v)
                    }
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn sixty_three_mmaction2_configs_read_as_mmcv_reads_them() {
    let dumps = dumps();
    assert!(dumps.len() >= 50, "{} configs", dumps.len());
    let mut families = std::collections::BTreeSet::new();
    for (rel, dump) in &dumps {
        let cfg = Config::from_file(&config_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        if let Some(d) = first_difference(&cfg.root().to_json(), &as_weft(dump), "") {
            panic!("{rel}: {d}");
        }
        families.insert(rel.split('/').nth(1).unwrap().to_string());
    }
    assert!(families.len() >= 15, "{families:?}");
}

#[test]
fn import_mmcv_writes_toml_that_reads_back_the_same_merged_or_with_its_bases() {
    let dir = temp_dir("import-mmcv");
    // A copy of the fixture tree: --keep-bases writes each base's TOML beside its Python file.
    let tree = dir.join("configs");
    copy_tree(&fixture("third_party/mmaction2/configs"), &tree);
    for rel in dumps().keys() {
        let py = tree.join(rel);
        let want = without_nulls(&Config::from_file(&py).unwrap().root().to_json());

        let merged = dir.join("merged.toml");
        std::fs::write(&merged, weft_config::import::merged(&py).unwrap()).unwrap();
        let back = Config::from_file(&merged).unwrap_or_else(|e| panic!("{rel} merged: {e}"));
        if let Some(d) = first_difference(&back.root().to_json(), &want, "") {
            panic!("{rel} merged: {d}");
        }

        let out = dir
            .join("kept")
            .join(py.file_name().unwrap())
            .with_extension("toml");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let files = weft_config::import::with_bases(&py, &out)
            .unwrap_or_else(|e| panic!("{rel} with bases: {e}"));
        for f in &files {
            std::fs::write(&f.path, &f.text).unwrap();
        }
        let has_bases = std::fs::read_to_string(&py).unwrap().contains("_base_");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap().contains("_base_ ="),
            has_bases,
            "{rel}"
        );
        let back = Config::from_file(&out).unwrap_or_else(|e| panic!("{rel} with bases: {e}"));
        if let Some(d) = first_difference(&back.root().to_json(), &want, "") {
            panic!("{rel} with bases: {d}");
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_python_config_trains_checks_and_fails_as_a_toml_one_does() {
    let dir = temp_dir("python-config");
    let base = dir.join("base.py");
    std::fs::write(
        &base,
        "optimizer = dict(type='SGD', lr=0.1, momentum=0.9)\nimg_norm_cfg = dict(mean=[1.0], std=[2.0])\n",
    )
    .unwrap();
    // A child that uses a base variable through MMCV's `{{_base_.x}}` and clears a value.
    let child = dir.join("child.py");
    std::fs::write(
        &child,
        "_base_ = ['./base.py']\noptimizer = dict(lr=0.02, momentum=None)\nmean = '{{_base_.img_norm_cfg.mean}}'\n",
    )
    .unwrap();
    let cfg = Config::from_file(&child).unwrap();
    let json = cfg.root().to_json();
    assert_eq!(json["optimizer"]["lr"], 0.02);
    assert_eq!(json["optimizer"]["type"], "SGD");
    assert_eq!(json["_mean"], serde_json::json!([1.0]));
    // --keep-bases cannot drop `momentum` by leaving it out: the table replaces the base's.
    let files = weft_config::import::with_bases(&child, &dir.join("child.toml")).unwrap();
    let text = &files
        .iter()
        .find(|f| f.path.ends_with("child.toml"))
        .unwrap()
        .text;
    assert!(
        text.contains("_delete_ = true") && !text.contains("momentum"),
        "{text}"
    );

    // Errors point into the Python file: a missing base, a cycle, code.
    std::fs::write(&child, "_base_ = ['./nope.py']\n").unwrap();
    let err = Config::from_file(&child).unwrap_err().to_string();
    assert!(
        err.contains("base config") && err.contains("child.py:1:"),
        "{err}"
    );
    std::fs::write(&base, "_base_ = './child.py'\n").unwrap();
    std::fs::write(&child, "_base_ = './base.py'\n").unwrap();
    let err = Config::from_file(&child).unwrap_err().to_string();
    assert!(err.contains("circular `_base_` chain"), "{err}");
    std::fs::write(&child, "import torch\nmodel = dict()\n").unwrap();
    let err = Config::from_file(&child).unwrap_err().to_string();
    assert!(
        err.contains("an import of code") && err.contains("child.py:1:1"),
        "{err}"
    );
}

#[test]
fn the_command_writes_its_files_and_never_clobbers_one_it_did_not_write() {
    let dir = temp_dir("import-mmcv-cli");
    std::fs::write(
        dir.join("base.py"),
        "optimizer = dict(type='SGD', lr=0.1)\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("run.py"),
        "_base_ = './base.py'\noptimizer = dict(lr=0.2)\n",
    )
    .unwrap();
    let run = dir.join("run.py");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    // Merged, to stdout.
    let out = crate::support::weft_ok(&["import-mmcv", &s(&run)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("lr = 0.2") && text.contains("type = \"SGD\""),
        "{text}"
    );
    // With bases: a hand-written base.toml is kept unless --force.
    std::fs::write(dir.join("base.toml"), "# mine\n").unwrap();
    let err = crate::support::weft_err(&["import-mmcv", &s(&run), "--keep-bases"]);
    assert!(err.contains("was not written by weft import-mmcv"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("base.toml")).unwrap(),
        "# mine\n"
    );
    crate::support::weft_ok(&["import-mmcv", &s(&run), "--keep-bases", "--force"]);
    // Its own files it replaces freely; the result trains the same config.
    crate::support::weft_ok(&["import-mmcv", &s(&run), "--keep-bases"]);
    let cfg = Config::from_file(&dir.join("run.toml")).unwrap();
    assert_eq!(cfg.root().to_json()["optimizer"]["lr"], 0.2);
    assert_eq!(cfg.root().to_json()["optimizer"]["type"], "SGD");
}
