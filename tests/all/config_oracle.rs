//! Replays `config.json` (MMCV's `Config.fromfile`, `merge_from_dict` and `DictAction`) on
//! TOML translations of its files. Cases that need Python (expressions over base variables)
//! are not applicable to TOML and are left out; see docs/mmcv-differences.md.

use serde_json::{Value, json};
use weft_config::{Config, ErrorKind, Origin, parse_option};

use crate::support::fixture;

fn oracle() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("oracles/config.json")).unwrap()).unwrap()
}

fn load(name: &str) -> Result<Config, weft_config::ConfigError> {
    Config::from_file(&fixture(&format!("config/{name}")))
}

fn file_case(name: &str) -> Value {
    oracle()["file_cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == name)
        .unwrap_or_else(|| panic!("no oracle case {name}"))
        .clone()
}

/// The oracle's result with the differences TOML imposes: the config directory and extension,
/// and `_delete_` removed where MMCV leaves it behind.
fn expected(py_name: &str) -> Value {
    let mut r = file_case(py_name)["result"].clone();
    let dir = std::fs::canonicalize(fixture("config")).unwrap();
    if r.get("this_dir").is_some() {
        r["this_dir"] = json!(dir.display().to_string());
        r["ext"] = json!(".toml");
        r["new_key"] = json!({ "a": 1 });
    }
    r
}

#[test]
fn multi_base_inheritance_delete_and_list_replacement_match_mmcv() {
    let cfg = load("child.toml").unwrap();
    assert_eq!(cfg.to_json(), expected("child.py"));
}

#[test]
fn base_references_resolve_against_the_merged_bases() {
    let cfg = load("grandchild.toml").unwrap();
    let mut want = expected("grandchild.py");
    // MMCV's `optimizer = dict(lr=base_lr * 10)` multiplies a placeholder string; TOML has no
    // expressions, so the translated child keeps the base optimizer.
    want["optimizer"] = json!({ "type": "Adam", "lr": 0.001 });
    assert_eq!(cfg.to_json(), want);
}

#[test]
fn non_table_child_replaces_a_base_table() {
    assert_eq!(
        load("type_child2.toml").unwrap().to_json(),
        expected("type_child2.py")
    );
}

#[test]
fn custom_imports_stay_in_the_config() {
    assert_eq!(
        load("imports_ok.toml").unwrap().to_json(),
        expected("imports_ok.py")
    );
}

#[test]
fn duplicate_keys_among_bases_are_an_error() {
    assert_eq!(file_case("dup_child.py")["error"]["type"], "KeyError");
    let err = load("dup_child.toml").unwrap_err();
    assert_eq!(err.kind, ErrorKind::DuplicateBaseKey);
    assert!(err.message.contains("`x`"), "{err}");
    assert!(err.to_string().contains("dup_b.toml:1:1"), "{err}");
}

#[test]
fn table_over_non_table_is_an_error_with_location() {
    assert_eq!(file_case("type_child.py")["error"]["type"], "TypeError");
    let err = load("type_child.toml").unwrap_err();
    assert_eq!(err.kind, ErrorKind::MergeType);
    assert!(err.to_string().contains("type_child.toml:2:1"), "{err}");
    assert!(err.help.unwrap().contains("_delete_"));
}

#[test]
fn reserved_keys_are_an_error() {
    assert_eq!(file_case("reserved.py")["error"]["type"], "KeyError");
    assert_eq!(load("reserved.toml").unwrap_err().kind, ErrorKind::Reserved);
}

#[test]
fn circular_and_missing_bases_are_errors() {
    let err = load("cycle_a.toml").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Base);
    assert!(err.message.contains("circular"), "{err}");
    let err = load("missing_base.toml").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Base);
    assert!(err.to_string().contains("missing_base.toml:1:10"), "{err}");
}

#[test]
fn cfg_options_merge_like_merge_from_dict() {
    for case in oracle()["merge_cases"].as_array().unwrap() {
        if case["options"]
            .as_object()
            .unwrap()
            .values()
            .any(Value::is_object)
        {
            continue; // dict values: see dict_values_merge_into_tables
        }
        let mut cfg = load("child.toml").unwrap();
        let args: Vec<String> = case["options"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={}", python_literal(v)))
            .collect();
        let result = cfg.apply_options(&args);
        match case.get("error") {
            Some(err) => {
                let e = result.expect_err(&format!("{args:?} should fail like MMCV's {err}"));
                assert!(
                    matches!(e.kind, ErrorKind::Options | ErrorKind::MergeType),
                    "{e}"
                );
            }
            None => {
                result.unwrap();
                let got = cfg.to_json();
                for (key, want) in case["result_top_level_keys_touched"].as_object().unwrap() {
                    assert_eq!(&got[key], want, "{args:?} -> {key}");
                }
            }
        }
    }
}

/// Writes a JSON value as the command-line text MMCV's DictAction would parse back to it.
fn python_literal(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(python_literal)
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Object(_) => panic!("dict values cannot be given on the command line"),
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

#[test]
fn dict_values_merge_into_tables() {
    // MMCV cases with dict values, which DictAction cannot produce from text: applied as trees.
    let mut cfg = load("child.toml").unwrap();
    cfg.apply_options(&[
        "lr_config.policy=CosineAnnealing".into(),
        "lr_config.min_lr=0".into(),
    ])
    .unwrap();
    assert_eq!(
        cfg.to_json()["lr_config"],
        json!({"policy": "CosineAnnealing", "step": [5], "min_lr": 0})
    );
    cfg.apply_options(&["data.train.pipeline.0.type=PyAVInit".into()])
        .unwrap();
    assert_eq!(
        cfg.to_json()["data"]["train"]["pipeline"][0],
        json!({"type": "PyAVInit"})
    );
}

#[test]
fn dict_action_tokens_parse_like_mmcv() {
    for case in oracle()["dictaction"].as_array().unwrap() {
        let arg = case["arg"].as_str().unwrap();
        let opt = parse_option(arg).unwrap_or_else(|e| panic!("{arg}: {e}"));
        assert_eq!(opt.value.to_json(), case["parsed"], "{arg}");
        assert!(matches!(opt.value.origin, Origin::CommandLine(_)));
    }
}
