//! MMCV's Python configs, read without Python: the file is lexed and parsed as the subset of
//! Python configs are written in, its assignments are run over plain values, and its
//! module-level variables become the config's top-level keys, as `Config.fromfile` collects
//! them. The result is the same tree a TOML file gives, with every value located in the
//! Python source, so `_base_` chains may mix `.py` and `.toml` files and errors point at the
//! Python line and column.
//!
//! Two things differ from a TOML file. A variable that is not one of weft's top-level keys
//! (`img_norm_cfg`, `train_pipeline`, `data_root`) is a free variable in weft's terms and is
//! renamed with a leading underscore (`_img_norm_cfg`), so that the schema's check for
//! misspelt keys stays on; a name one or two edits from a key (`optimzer`) keeps its name and
//! fails that check. And `custom_imports` that name Python modules are refused: weft's
//! plugins are WebAssembly components.

mod eval;
mod lexer;
mod parser;

use indexmap::IndexMap;

use crate::error::{ConfigError, ErrorKind};
use crate::schema::TOP_LEVEL_KEYS;
use crate::source::{Origin, SourceId, Sources};
use crate::value::{Node, Value};

pub use eval::float_repr;

/// Parses a Python config into a table node.
pub fn parse_python(text: &str, id: SourceId, sources: &Sources) -> Result<Node, ConfigError> {
    let at = |(msg, span): (String, std::ops::Range<usize>)| {
        ConfigError::at(
            ErrorKind::Syntax,
            msg,
            &Origin::File { source: id, span },
            sources,
        )
    };
    let tokens = lexer::lex(text, 0).map_err(at)?;
    let program = parser::parse(&tokens).map_err(at)?;
    let vars = eval::run(&program).map_err(at)?;
    let origin = |span: &std::ops::Range<usize>| Origin::File {
        source: id,
        span: span.clone(),
    };
    let mut table = IndexMap::new();
    for (name, v) in vars {
        let key = variable_key(&name);
        if name == "custom_imports" {
            check_imports(&v).map_err(at)?;
        }
        let node = to_node(&v, &origin);
        table.insert(
            key,
            Node {
                key_origin: Some(node.origin.clone()),
                ..node
            },
        );
    }
    Ok(Node {
        value: Value::Table(table),
        origin: origin(&(0..text.len())),
        key_origin: None,
    })
}

/// The top-level key a module-level variable becomes (see the module docs).
pub fn variable_key(name: &str) -> String {
    let known = TOP_LEVEL_KEYS.contains(&name) || name.starts_with('_');
    let misspelt = name.len() > 3
        && TOP_LEVEL_KEYS
            .iter()
            .any(|k| strsim::osa_distance(name, k) <= 2);
    if known || misspelt {
        name.to_string()
    } else {
        format!("_{name}")
    }
}

/// `"{{_base_.img_norm_cfg.mean}}"` names the variable by its Python name; it is
/// `_img_norm_cfg` once read.
fn rename_base_reference(s: &str) -> String {
    let Some(inner) = s
        .trim()
        .strip_prefix("{{")
        .and_then(|r| r.strip_suffix("}}"))
        .map(str::trim)
        .and_then(|r| r.strip_prefix("_base_."))
    else {
        return s.to_string();
    };
    let (first, rest) = inner.split_once('.').map_or((inner, ""), |(a, b)| (a, b));
    let renamed = variable_key(first);
    if rest.is_empty() {
        format!("{{{{_base_.{renamed}}}}}")
    } else {
        format!("{{{{_base_.{renamed}.{rest}}}}}")
    }
}

fn check_imports(v: &eval::V) -> Result<(), (String, std::ops::Range<usize>)> {
    let eval::Val::Dict(d) = &v.val else {
        return Ok(());
    };
    let Some(imports) = d.get(&eval::Key::Str("imports".into())) else {
        return Ok(());
    };
    let items = match &imports.val {
        eval::Val::List(xs) | eval::Val::Tuple(xs) => xs.clone(),
        _ => vec![imports.clone()],
    };
    for item in items {
        if let eval::Val::Str(s) = &item.val
            && !s.ends_with(".wasm")
        {
            return Err((
                format!(
                    "custom_imports names the Python module `{s}`: weft's plugins are \
                     WebAssembly components (a path ending in .wasm; docs/plugins.md shows how \
                     to port a hook)"
                ),
                item.span.clone(),
            ));
        }
    }
    Ok(())
}

fn to_node(v: &eval::V, origin: &impl Fn(&std::ops::Range<usize>) -> Origin) -> Node {
    use eval::Val;
    let value = match &v.val {
        Val::None => Value::Null,
        Val::Bool(b) => Value::Boolean(*b),
        Val::Int(i) => Value::Integer(*i),
        Val::Float(f) => Value::Float(*f),
        Val::Str(s) => Value::String(rename_base_reference(s)),
        Val::List(xs) | Val::Tuple(xs) => {
            Value::Array(xs.iter().map(|x| to_node(x, origin)).collect())
        }
        Val::Dict(d) => Value::Table(
            d.iter()
                .map(|(k, x)| {
                    let key = match k {
                        eval::Key::Str(s) => s.clone(),
                        eval::Key::Int(i) => i.to_string(),
                    };
                    let node = to_node(x, origin);
                    (
                        key,
                        Node {
                            key_origin: Some(node.origin.clone()),
                            ..node
                        },
                    )
                })
                .collect(),
        ),
    };
    Node {
        value,
        origin: origin(&v.span),
        key_origin: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<serde_json::Value, String> {
        let mut sources = Sources::default();
        let id = sources.add("t.py".into(), text.to_string());
        parse_python(text, id, &sources)
            .map(|n| n.to_json())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn configs_evaluate_as_python_would() {
        let v = parse(
            r#"
# a comment
"""docstring"""
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
split = 1
ann = f'data/hmdb51/split_{split}_rawframes.txt'
model = dict(
    type='Recognizer2D',
    backbone=dict(type='ResNetTSM', pretrained=None, depth=50, norm_eval=False),
    cls_head=dict(num_classes=101 // 2, dropout_ratio=0.5, init_std=1e-3),
    test_cfg=dict(average_clips='prob'))
pipeline = [dict(type='Normalize', **img_norm_cfg), dict(type='Flip', flip_label_map={0: 1, 1: 0})]
data = dict(videos_per_gpu=8, train=dict(pipeline=pipeline))
data['test'] = data['train']
weights = {i: 1 + int(i >= 2) for i in range(4)}
work_dir = './work_dirs/' + 'tsm_' \
    'r50/'
optimizer = dict(type='SGD', lr=0.01 * 8 / 8, momentum=0.9, weight_decay=-(-1e-4))
total_epochs = 2 ** 3 if split == 1 else 0
"#,
        )
        .unwrap();
        assert_eq!(v["_img_norm_cfg"]["std"][2], 57.375);
        assert_eq!(v["_ann"], "data/hmdb51/split_1_rawframes.txt");
        assert_eq!(
            v["model"]["backbone"]["pretrained"],
            serde_json::Value::Null
        );
        assert_eq!(v["model"]["cls_head"]["num_classes"], 50);
        assert_eq!(v["_pipeline"][0]["type"], "Normalize");
        assert_eq!(v["_pipeline"][0]["to_bgr"], false);
        assert_eq!(v["_pipeline"][1]["flip_label_map"]["1"], 0);
        assert_eq!(v["data"]["test"]["pipeline"][0]["mean"][0], 123.675);
        assert_eq!(
            v["_weights"],
            serde_json::json!({"0": 1, "1": 1, "2": 2, "3": 2})
        );
        assert_eq!(v["work_dir"], "./work_dirs/tsm_r50/");
        assert_eq!(v["optimizer"]["lr"], 0.01);
        assert_eq!(v["total_epochs"], 8);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "_img_norm_cfg", "first-assignment order");
    }

    #[test]
    fn what_a_config_cannot_hold_is_an_error_at_its_place() {
        for (text, place, wanted) in [
            ("import os\n", "t.py:1:1", "an import of code"),
            ("x = 1\nf = lambda y: y\n", "t.py:2:5", "a lambda"),
            ("if True:\n    x = 1\n", "t.py:1:1", "a `if` statement"),
            ("x = dict(a=1\n", "t.py:1:9", "this bracket is never closed"),
            ("x = y\n", "t.py:1:5", "`y` is not defined"),
            ("x = open('f')\n", "t.py:1:5", "`open` is not a function"),
            (
                "x = [0] * 10 ** 9\n",
                "t.py:1:5",
                "longer than any config needs",
            ),
            ("x = 2 ** 64\n", "t.py:1:5", "an integer overflow"),
            ("x = b'raw'\n", "t.py:1:5", "a bytes literal"),
            ("x = '%d' % 3\n", "t.py:1:5", "use an f-string"),
            (
                "custom_imports = dict(imports=['my_hooks'])\n",
                "t.py:1:32",
                "custom_imports names the Python module `my_hooks`",
            ),
            ("x = f'{y!r}'\n", "t.py:1:", "format spec"),
            (
                "optimzer = dict(lr=1)\nx.y = 2\n",
                "t.py:2:1",
                "an attribute assignment",
            ),
        ] {
            let err = parse(text).expect_err(text);
            assert!(
                err.contains(wanted) && err.contains(place),
                "{text:?}: {err}"
            );
        }
        // Hostile files end in an error, not a stack overflow or an allocation of gigabytes.
        let deep = format!("x = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep).unwrap_err().contains("nested more than"));
        let long = format!("x = 1{}\n", " + 1".repeat(100_000));
        assert!(parse(&long).unwrap_err().contains("nested more than"));
        let negs = format!("x = {}1\n", "-".repeat(100_000));
        assert!(parse(&negs).unwrap_err().contains("nested more than"));
        let chain = format!("a = []\n{}", "a = [a]\n".repeat(1000));
        assert!(parse(&chain).unwrap_err().contains("nested deeper"));
        let doubling = format!("a = [1]\n{}", "a = [a, a]\n".repeat(40));
        assert!(parse(&doubling).unwrap_err().contains("more values"));
        assert!(
            parse("a = [[0] * 1000] * 10000\n")
                .unwrap_err()
                .contains("longer than")
        );
        assert!(
            parse("a = [[0] * 1000 for i in range(10000)]\n")
                .unwrap_err()
                .contains("more values")
        );
        // A name one edit from a key keeps it, so the schema's check names the misspelling.
        assert!(
            parse("optimzer = dict(lr=1)\n")
                .unwrap()
                .get("optimzer")
                .is_some()
        );
    }
}
