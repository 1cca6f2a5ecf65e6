//! Reading a config file with its `_base_` chain, as MMCV's `Config.fromfile` does.

use std::path::{Path, PathBuf};

use crate::error::{ConfigError, ErrorKind};
use crate::merge::{ListKeys, merge_tables};
use crate::parse::{parse_toml, substitute_predefined};
use crate::source::{Origin, Sources};
use crate::value::{Node, Table, Value, lookup};

/// The key that names the files a config inherits from.
pub const BASE_KEY: &str = "_base_";

/// Top-level keys MMCV reserves for its `Config` object.
const RESERVED: [&str; 3] = ["filename", "text", "pretty_text"];

/// Loads `path` and everything it inherits, merged, into one table node.
pub fn load_file(path: &Path, sources: &mut Sources) -> Result<Node, ConfigError> {
    let mut stack = Vec::new();
    load_inner(path, None, sources, &mut stack)
}

fn load_inner(
    path: &Path,
    named_at: Option<&Origin>,
    sources: &mut Sources,
    stack: &mut Vec<PathBuf>,
) -> Result<Node, ConfigError> {
    let canonical = std::fs::canonicalize(path).map_err(|err| match named_at {
        Some(origin) => ConfigError::at(
            ErrorKind::Base,
            format!("base config {} does not exist", path.display()),
            origin,
            sources,
        )
        .with_help("`_base_` paths are relative to the directory of the file that names them"),
        None => ConfigError::io(path, &err),
    })?;
    if let Some(pos) = stack.iter().position(|p| *p == canonical) {
        let chain: Vec<String> = stack[pos..]
            .iter()
            .chain(std::iter::once(&canonical))
            .map(|p| p.display().to_string())
            .collect();
        let err = ConfigError::new(
            ErrorKind::Base,
            format!("circular `_base_` chain: {}", chain.join(" -> ")),
        );
        return Err(match named_at {
            Some(origin) => err.with_location(sources.locate(origin)),
            None => err,
        });
    }
    let mut root = parse_file(path, sources)?;
    let Value::Table(table) = &mut root.value else {
        unreachable!("a TOML document is always a table");
    };
    for key in RESERVED {
        if let Some(node) = table.get(key) {
            return Err(ConfigError::at(
                ErrorKind::Reserved,
                format!("`{key}` is a reserved top-level key"),
                node.key_or_value_origin(),
                sources,
            ));
        }
    }
    let Some(base_node) = table.shift_remove(BASE_KEY) else {
        return Ok(root);
    };
    let base_paths = base_list(&base_node, sources)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    stack.push(canonical);
    let mut merged = Table::new();
    for (rel, origin) in base_paths {
        let base = load_inner(&dir.join(&rel), Some(&origin), sources, stack)?;
        let Value::Table(base_table) = base.value else {
            unreachable!("configs are tables");
        };
        for (key, node) in base_table {
            if merged.contains_key(&key) {
                return Err(ConfigError::at(
                    ErrorKind::DuplicateBaseKey,
                    format!("`{key}` is defined by more than one base config"),
                    node.key_or_value_origin(),
                    sources,
                )
                .with_help("a key may come from one base only; move it to one file or override it in the child"));
            }
            merged.insert(key, node);
        }
    }
    stack.pop();
    let Value::Table(child) = std::mem::replace(&mut root.value, Value::Null) else {
        unreachable!("checked above");
    };
    let mut child_node = Node {
        value: Value::Table(child),
        origin: root.origin.clone(),
        key_origin: None,
    };
    resolve_base_refs(&mut child_node, &merged, sources)?;
    let Value::Table(child) = child_node.value else {
        unreachable!("still a table");
    };
    merge_tables(child, &mut merged, ListKeys::Deny, sources)?;
    Ok(Node {
        value: Value::Table(merged),
        origin: root.origin,
        key_origin: None,
    })
}

/// One file's own table, unmerged: read, predefined variables substituted, parsed as TOML
/// or (`.py`) as an MMCV Python config.
pub(crate) fn parse_file(path: &Path, sources: &mut Sources) -> Result<Node, ConfigError> {
    let raw = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
    let canonical = std::fs::canonicalize(path).map_err(|e| ConfigError::io(path, &e))?;
    let text = substitute_predefined(&raw, &canonical);
    let id = sources.add(path.to_path_buf(), text.clone());
    if path.extension().is_some_and(|e| e == "py") {
        crate::python::parse_python(&text, id, sources)
    } else {
        parse_toml(&text, id, sources)
    }
}

fn base_list(node: &Node, sources: &Sources) -> Result<Vec<(String, Origin)>, ConfigError> {
    let bad = |origin: &Origin| {
        ConfigError::at(
            ErrorKind::InvalidValue,
            "`_base_` must be a path or a list of paths",
            origin,
            sources,
        )
    };
    match &node.value {
        Value::String(s) => Ok(vec![(s.clone(), node.origin.clone())]),
        Value::Array(items) => items
            .iter()
            .map(|item| match &item.value {
                Value::String(s) => Ok((s.clone(), item.origin.clone())),
                _ => Err(bad(&item.origin)),
            })
            .collect(),
        _ => Err(bad(&node.origin)),
    }
}

/// Replaces strings of the form `"{{_base_.a.b}}"` with the value at `a.b` in the merged
/// bases. MMCV does this textually and the reference must stand alone; weft requires the
/// whole string to be the reference, since a reference inside a longer string or expression
/// silently yields a placeholder string in MMCV.
fn resolve_base_refs(node: &mut Node, bases: &Table, sources: &Sources) -> Result<(), ConfigError> {
    match &mut node.value {
        Value::Table(t) => {
            for child in t.values_mut() {
                resolve_base_refs(child, bases, sources)?;
            }
        }
        Value::Array(items) => {
            for child in items {
                resolve_base_refs(child, bases, sources)?;
            }
        }
        Value::String(s) if s.contains("{{") && s.contains("_base_.") => {
            let trimmed = s.trim();
            let inner = trimmed
                .strip_prefix("{{")
                .and_then(|r| r.strip_suffix("}}"))
                .map(str::trim)
                .and_then(|r| r.strip_prefix("_base_."))
                .filter(|r| !r.contains("{{"));
            let Some(path) = inner else {
                return Err(ConfigError::at(
                    ErrorKind::InvalidValue,
                    "a `{{_base_.key}}` reference must be the whole string value",
                    &node.origin,
                    sources,
                ));
            };
            let Some(found) = lookup(bases, path) else {
                return Err(ConfigError::at(
                    ErrorKind::MissingKey,
                    format!("`{path}` is not defined in the base configs"),
                    &node.origin,
                    sources,
                ));
            };
            let mut value = found.clone();
            value.key_origin = node.key_origin.clone();
            *node = value;
        }
        _ => {}
    }
    Ok(())
}
