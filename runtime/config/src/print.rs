//! The merged configuration back to TOML, for `weft print-config` and the copy in `work_dir`.

use crate::value::{Node, Value};

/// Renders a table node as TOML. `None` values (from `--cfg-options k=None`) mean "not set",
/// so their keys are left out; inside arrays they are written as the string `"None"`.
pub fn to_toml(root: &Node) -> String {
    match convert(root) {
        Some(toml::Value::Table(table)) => toml::to_string(&table)
            .unwrap_or_else(|e| format!("# cannot render the config as TOML: {e}\n")),
        _ => String::new(),
    }
}

fn convert(node: &Node) -> Option<toml::Value> {
    Some(match &node.value {
        Value::Table(t) => toml::Value::Table(
            t.iter()
                .filter_map(|(k, v)| convert(v).map(|v| (k.clone(), v)))
                .collect(),
        ),
        Value::Array(items) => toml::Value::Array(
            items
                .iter()
                .map(|v| convert(v).unwrap_or_else(|| toml::Value::String("None".into())))
                .collect(),
        ),
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Integer(i) => toml::Value::Integer(*i),
        Value::Float(f) => toml::Value::Float(*f),
        Value::Boolean(b) => toml::Value::Boolean(*b),
        Value::Datetime(d) => match d.parse() {
            Ok(dt) => toml::Value::Datetime(dt),
            Err(_) => toml::Value::String(d.clone()),
        },
        Value::Null => return None,
    })
}
