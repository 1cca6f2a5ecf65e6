//! MMCV's merge rule (`Config._merge_a_into_b`): tables merge key by key, everything else
//! (lists included) replaces the base value, and `_delete_ = true` replaces a base table.

use crate::error::{ConfigError, ErrorKind};
use crate::source::Sources;
use crate::value::{Node, Table, Value};

/// The key that makes a child table replace its base table instead of merging into it.
pub const DELETE_KEY: &str = "_delete_";

/// How list-valued bases are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKeys {
    /// Files: a table never merges into a list.
    Deny,
    /// `--cfg-options`: a numeric key indexes an existing list (`pipeline.1.scale=...`).
    Allow,
}

/// Merges `child` into `base` (both tables), in place.
pub fn merge_tables(
    child: Table,
    base: &mut Table,
    lists: ListKeys,
    sources: &Sources,
) -> Result<(), ConfigError> {
    for (key, mut node) in child {
        let delete = take_delete_flag(&mut node, sources)?;
        if let Value::Table(child_table) = &mut node.value
            && let Some(existing) = base.get_mut(&key).filter(|_| !delete)
        {
            let child_table = std::mem::take(child_table);
            match &mut existing.value {
                Value::Table(base_table) => {
                    merge_tables(child_table, base_table, lists, sources)?;
                    continue;
                }
                Value::Array(items) if lists == ListKeys::Allow => {
                    merge_into_list(&key, child_table, items, sources)?;
                    continue;
                }
                other => {
                    return Err(ConfigError::at(
                            ErrorKind::MergeType,
                            format!(
                                "`{key}` is a table here but a {} in the base config, so it cannot be merged into it",
                                other.type_name()
                            ),
                            node.key_or_value_origin(),
                            sources,
                        )
                        .with_help(format!(
                            "set `{DELETE_KEY} = true` in this table to replace the base value instead"
                        )));
                }
            }
        }
        // `insert` on an existing key keeps its position, as a Python dict assignment does.
        base.insert(key, node);
    }
    Ok(())
}

fn merge_into_list(
    key: &str,
    child: Table,
    items: &mut [Node],
    sources: &Sources,
) -> Result<(), ConfigError> {
    for (index_text, node) in child {
        let Ok(index) = index_text.parse::<usize>() else {
            return Err(ConfigError::at(
                ErrorKind::Options,
                format!("`{key}` is a list, so `{index_text}` must be an index into it"),
                node.key_or_value_origin(),
                sources,
            ));
        };
        let len = items.len();
        let Some(target) = items.get_mut(index) else {
            return Err(ConfigError::at(
                ErrorKind::Options,
                format!("index {index} is out of range for `{key}`, a list of {len} items"),
                node.key_or_value_origin(),
                sources,
            ));
        };
        match (node.value, &mut target.value) {
            (Value::Table(child_table), Value::Table(base_table)) => {
                merge_tables(child_table, base_table, ListKeys::Allow, sources)?;
            }
            (Value::Table(child_table), Value::Array(inner)) => {
                merge_into_list(key, child_table, inner, sources)?;
            }
            (value, _) => {
                *target = Node {
                    value,
                    origin: node.origin,
                    key_origin: target.key_origin.clone(),
                };
            }
        }
    }
    Ok(())
}

/// Removes `_delete_` from a table node and says whether it was true. It must be a boolean.
fn take_delete_flag(node: &mut Node, sources: &Sources) -> Result<bool, ConfigError> {
    let Value::Table(table) = &mut node.value else {
        return Ok(false);
    };
    match table.shift_remove(DELETE_KEY) {
        None => Ok(false),
        Some(Node {
            value: Value::Boolean(b),
            ..
        }) => Ok(b),
        Some(other) => Err(ConfigError::at(
            ErrorKind::InvalidValue,
            format!(
                "`{DELETE_KEY}` must be a boolean, not a {}",
                other.value.type_name()
            ),
            &other.origin,
            sources,
        )),
    }
}

/// Removes every `_delete_` left in a tree. MMCV leaves the key in place when the base has
/// no such table (`new_key = {_delete_ = true, a = 1}` stays as written), which then reaches the
/// builders as a bogus argument; weft drops it (see docs/mmcv-differences.md).
pub fn strip_delete_keys(node: &mut Node, sources: &Sources) -> Result<(), ConfigError> {
    take_delete_flag(node, sources)?;
    match &mut node.value {
        Value::Table(t) => {
            for child in t.values_mut() {
                strip_delete_keys(child, sources)?;
            }
        }
        Value::Array(items) => {
            for child in items {
                strip_delete_keys(child, sources)?;
            }
        }
        _ => {}
    }
    Ok(())
}
