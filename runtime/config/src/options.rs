//! `--cfg-options KEY=VALUE`: MMCV's `DictAction` value syntax and `merge_from_dict` meaning.
//!
//! Values are parsed the way MMCV parses them (outer quotes stripped, every space removed,
//! `[..]`/`(..)` and bare `a,b` become lists, then int, float, `true`/`false`, `None`, else a
//! string), so a command line copied from an MMCV user's notes means the same thing here.

use std::sync::Arc;

use crate::error::{ConfigError, ErrorKind};
use crate::merge::{ListKeys, merge_tables};
use crate::source::{Origin, Sources};
use crate::value::{Node, Table, Value};

/// One parsed `--cfg-options` token.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigOption {
    /// The dotted key (`optimizer.lr`, `data.train.pipeline.1.scale`).
    pub key: String,
    /// The parsed value.
    pub value: Node,
}

/// Parses `KEY=VALUE`.
pub fn parse_option(arg: &str) -> Result<ConfigOption, ConfigError> {
    let origin = Origin::CommandLine(Arc::from(arg));
    let Some((key, raw)) = arg.split_once('=') else {
        return Err(ConfigError::new(
            ErrorKind::Options,
            format!("`{arg}` is not of the form KEY=VALUE"),
        )
        .with_help("for example --cfg-options optimizer.lr=0.02 workflow=\"[('train',1)]\""));
    };
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(ConfigError::new(
            ErrorKind::Options,
            format!("`{key}` is not a valid dotted key"),
        )
        .with_location(crate::source::Location::CommandLine(arg.to_string())));
    }
    let value = parse_value(raw, &origin).map_err(|message| {
        ConfigError::new(ErrorKind::Options, message)
            .with_location(crate::source::Location::CommandLine(arg.to_string()))
    })?;
    Ok(ConfigOption {
        key: key.to_string(),
        value,
    })
}

/// Parses one value with MMCV's `DictAction._parse_iterable` rules.
pub fn parse_value(raw: &str, origin: &Origin) -> Result<Node, String> {
    let cleaned: String = raw
        .trim_matches(|c| c == '\'' || c == '"')
        .chars()
        .filter(|c| *c != ' ')
        .collect();
    parse_iterable(&cleaned, origin)
}

fn parse_iterable(val: &str, origin: &Origin) -> Result<Node, String> {
    let val = val.trim_matches(|c| c == '\'' || c == '"');
    let inner = if let Some(inner) = val.strip_prefix('(').and_then(|v| v.strip_suffix(')')) {
        inner
    } else if let Some(inner) = val.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        inner
    } else if next_top_level_comma(val) == val.len() {
        // No comma outside brackets (`a=[1,2]`): one value. MMCV's `_parse_iterable` recurses
        // on the whole string here, forever (found by fuzzing).
        return Ok(node(scalar(val), origin));
    } else {
        val
    };
    check_balanced(inner)?;
    let mut items = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let end = next_top_level_comma(rest);
        items.push(parse_iterable(&rest[..end], origin)?);
        rest = rest.get(end + 1..).unwrap_or("");
    }
    Ok(node(Value::Array(items), origin))
}

fn check_balanced(s: &str) -> Result<(), String> {
    let count = |c| s.matches(c).count();
    if count('(') != count(')') || count('[') != count(']') {
        return Err(format!("unbalanced brackets in `{s}`"));
    }
    Ok(())
}

fn next_top_level_comma(s: &str) -> usize {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => return i,
            _ => {}
        }
    }
    s.len()
}

fn scalar(val: &str) -> Value {
    if let Some(i) = python_int(val) {
        return Value::Integer(i);
    }
    if let Some(f) = python_float(val) {
        return Value::Float(f);
    }
    match val.to_ascii_lowercase().as_str() {
        "true" => return Value::Boolean(true),
        "false" => return Value::Boolean(false),
        _ => {}
    }
    if val == "None" {
        return Value::Null;
    }
    Value::String(val.to_string())
}

/// `int(s)` in Python: optional sign, decimal digits, single underscores between digits.
fn python_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    s.replace('_', "").parse().ok()
}

/// `float(s)` in Python, close enough: Rust's grammar plus `infinity`/`nan` in any case.
fn python_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s).to_ascii_lowercase();
    let special = matches!(body.as_str(), "inf" | "infinity" | "nan");
    let numeric = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'));
    if !(special || numeric) {
        return None;
    }
    s.to_ascii_lowercase().parse().ok()
}

fn node(value: Value, origin: &Origin) -> Node {
    Node {
        value,
        origin: origin.clone(),
        key_origin: Some(origin.clone()),
    }
}

/// Applies parsed options to a config tree: dotted keys become nested tables that merge with
/// MMCV's rules (a table value merges into an existing table; a numeric component indexes
/// an existing list).
pub fn apply_options(
    root: &mut Table,
    options: &[ConfigOption],
    sources: &Sources,
) -> Result<(), ConfigError> {
    for option in options {
        check_indices(root, option)?;
        let mut parts = option.key.rsplit('.');
        let last = parts.next().expect("split yields at least one part");
        let mut nested = Table::new();
        nested.insert(last.to_string(), option.value.clone());
        for part in parts {
            let mut outer = Table::new();
            outer.insert(
                part.to_string(),
                Node {
                    value: Value::Table(nested),
                    origin: option.value.origin.clone(),
                    key_origin: Some(option.value.origin.clone()),
                },
            );
            nested = outer;
        }
        merge_tables(nested, root, ListKeys::Allow, sources)?;
    }
    Ok(())
}

/// A numeric key component indexes a list that must exist and be long enough: MMCV's
/// `merge_from_dict` would turn `custom_hooks.0.type=X` on a config without `custom_hooks`
/// into a table keyed `"0"`, which only fails later as a type error.
fn check_indices(root: &Table, option: &ConfigOption) -> Result<(), ConfigError> {
    let fail = |message: String| {
        let shown = match &option.value.origin {
            Origin::CommandLine(arg) => arg.to_string(),
            _ => option.key.clone(),
        };
        ConfigError::new(ErrorKind::Options, message)
            .with_location(crate::source::Location::CommandLine(shown))
    };
    let parts: Vec<&str> = option.key.split('.').collect();
    // What the path names so far: `None` once it leaves the config (the merge creates it).
    let mut here: Option<&Value> = None;
    let mut table = Some(root);
    for (i, part) in parts.iter().enumerate() {
        let path = parts[..i].join(".");
        let index = part.parse::<usize>().ok();
        let next = match (table, here) {
            (Some(t), _) => t.get(*part).map(|n| &n.value),
            (None, Some(Value::Array(items))) => match index {
                Some(n) if n < items.len() => Some(&items[n].value),
                Some(_) => {
                    return Err(fail(format!(
                        "`{}` is out of range: `{path}` has {} entr{}",
                        parts[..=i].join("."),
                        items.len(),
                        if items.len() == 1 { "y" } else { "ies" },
                    )));
                }
                None => {
                    return Err(fail(format!(
                        "`{path}` is a list: index it with a number, not `{part}`"
                    )));
                }
            },
            (None, None) if index.is_some() => {
                return Err(fail(format!(
                    "`{}` indexes entry {part} of `{path}`, which the config does not set; give the whole list instead ({path}=[...])",
                    option.key
                )));
            }
            // A scalar is replaced by the merge, which reports what does not fit.
            (None, Some(_)) => return Ok(()),
            (None, None) => None,
        };
        here = next;
        table = match next {
            Some(Value::Table(t)) => Some(t),
            _ => None,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(toml_text: &str, arg: &str) -> Result<serde_json::Value, ConfigError> {
        let mut sources = Sources::default();
        let id = sources.add("t.toml".into(), toml_text.to_string());
        let mut root = match crate::parse::parse_toml(toml_text, id, &sources)
            .unwrap()
            .value
        {
            Value::Table(t) => t,
            _ => unreachable!(),
        };
        apply_options(&mut root, &[parse_option(arg)?], &sources)?;
        Ok(Node {
            value: Value::Table(root),
            origin: Origin::Builtin,
            key_origin: None,
        }
        .to_json())
    }

    #[test]
    fn an_index_into_a_missing_or_short_list_says_what_is_there() {
        let err = apply("a = 1\n", "custom_hooks.0.type=EMAHook").unwrap_err();
        assert!(
            err.message
                .contains("entry 0 of `custom_hooks`, which the config does not set"),
            "{err}"
        );
        let err = apply(
            "custom_hooks = [{ type = \"A\" }]\n",
            "custom_hooks.3.type=B",
        )
        .unwrap_err();
        assert!(
            err.message
                .contains("out of range: `custom_hooks` has 1 entry"),
            "{err}"
        );
        let err = apply("xs = [1, 2]\n", "xs.a=3").unwrap_err();
        assert!(err.message.contains("`xs` is a list"), "{err}");
        let ok = apply(
            "custom_hooks = [{ type = \"A\" }]\n",
            "custom_hooks.0.type=B",
        )
        .unwrap();
        assert_eq!(ok["custom_hooks"][0]["type"], "B");
        let ok = apply("a = 1\n", "optimizer.lr=0.1").unwrap();
        assert_eq!(ok["optimizer"]["lr"], 0.1);
    }

    fn parsed(arg: &str) -> serde_json::Value {
        parse_option(arg).unwrap().value.to_json()
    }

    #[test]
    fn scalars_follow_python_conversion_order() {
        assert_eq!(parsed("a=1"), serde_json::json!(1));
        assert_eq!(parsed("b=1.5"), serde_json::json!(1.5));
        assert_eq!(parsed("c=true"), serde_json::json!(true));
        assert_eq!(parsed("e=None"), serde_json::Value::Null);
        assert_eq!(parsed("f=none"), serde_json::json!("none"));
        assert_eq!(parsed("t=0x10"), serde_json::json!("0x10"));
        assert_eq!(parsed("p=1e-3"), serde_json::json!(0.001));
        assert_eq!(parsed("q=x=y"), serde_json::json!("x=y"));
    }

    #[test]
    fn missing_equals_is_an_error() {
        let err = parse_option("optimizer.lr").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Options);
    }

    #[test]
    fn a_value_with_commas_only_inside_brackets_is_one_value() {
        // Found by fuzzing: this overflowed the stack.
        assert_eq!(parsed("a=step=[1,2]"), serde_json::json!("step=[1,2]"));
        assert_eq!(
            parsed("lr_config={policy=step,step=[1,2]}"),
            serde_json::json!(["{policy=step", "step=[1,2]}"])
        );
    }

    #[test]
    fn unbalanced_brackets_are_an_error() {
        assert!(parse_option("a=[1,(2]").is_err());
    }
}
