//! `weft import-mmcv`: MMCV Python configs written out as weft TOML, either merged into one
//! file or one TOML file per Python file with the `_base_` chain kept.

use std::path::{Component, Path, PathBuf};

use crate::error::{ConfigError, ErrorKind};
use crate::load::{BASE_KEY, parse_file};
use crate::merge::DELETE_KEY;
use crate::source::Sources;
use crate::value::{Node, Table, Value};

/// A TOML file to write.
pub struct Written {
    /// Where it goes.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

fn header(source: &Path) -> String {
    format!(
        "# Converted from {} by `weft import-mmcv`.\n# Keys that start with `_` \
         are the Python file's own variables (weft's free variables).\n\n",
        source.display()
    )
}

/// The whole chain merged into one TOML text (what `weft print-config` would print).
pub fn merged(path: &Path) -> Result<String, ConfigError> {
    let cfg = crate::Config::from_file(path)?;
    Ok(header(path) + &cfg.to_toml_string())
}

/// One TOML file per Python file of the chain: `path`'s to `out`, each base's beside its
/// Python file with the extension changed (bases already in TOML are left alone).
pub fn with_bases(path: &Path, out: &Path) -> Result<Vec<Written>, ConfigError> {
    let mut done = Vec::new();
    let mut seen = Vec::new();
    convert(path, out, &mut done, &mut seen)?;
    Ok(done)
}

fn convert(
    path: &Path,
    out: &Path,
    done: &mut Vec<Written>,
    seen: &mut Vec<PathBuf>,
) -> Result<(), ConfigError> {
    let canonical = std::fs::canonicalize(path).map_err(|e| ConfigError::io(path, &e))?;
    if seen.contains(&canonical) {
        return Ok(());
    }
    seen.push(canonical);
    let mut sources = Sources::default();
    let mut root = parse_file(path, &mut sources)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let out_dir = out.parent().unwrap_or(Path::new("."));
    let Value::Table(table) = &mut root.value else {
        unreachable!("configs are tables");
    };
    let mut bases = Table::new();
    if let Some(base) = table.get_mut(BASE_KEY) {
        let items: Vec<&mut Node> = match &mut base.value {
            Value::Array(items) => items.iter_mut().collect(),
            _ => vec![base],
        };
        for item in items {
            let Value::String(rel) = &item.value else {
                continue;
            };
            let source = dir.join(rel.as_str());
            let loaded = crate::Config::from_file(&source)?;
            if let Value::Table(t) = loaded.root.value {
                bases.extend(t);
            }
            if source.extension().is_some_and(|e| e == "py") {
                let toml = source.with_extension("toml");
                convert(&source, &toml, done, seen)?;
                item.value = Value::String(relative(out_dir, &toml));
            } else {
                item.value = Value::String(relative(out_dir, &source));
            }
        }
    }
    keep_nones(table, &bases, &[], &sources)?;
    done.push(Written {
        path: out.to_path_buf(),
        text: header(path) + &crate::print::to_toml(&root),
    });
    Ok(())
}

/// TOML has no `None`: a child's `None` over a base's value would vanish and let the base's
/// value through. The table holding it replaces the base's (`_delete_`), written out whole.
fn keep_nones(
    table: &mut Table,
    base: &Table,
    path: &[&str],
    sources: &Sources,
) -> Result<(), ConfigError> {
    let overrides = table.iter().any(|(k, v)| {
        v.value == Value::Null && base.get(k).is_some_and(|b| b.value != Value::Null)
    });
    if overrides {
        if path.is_empty() {
            let (key, node) = table
                .iter()
                .find(|(k, v)| v.value == Value::Null && base.get(*k).is_some())
                .expect("found above");
            return Err(ConfigError::at(
                ErrorKind::InvalidValue,
                format!(
                    "`{key} = None` clears a base config's value, which a TOML file of its own \
                     cannot say"
                ),
                &node.origin,
                sources,
            )
            .with_help("import without --keep-bases (one merged file)"));
        }
        let mut whole = base.clone();
        crate::merge::merge_tables(
            std::mem::take(table),
            &mut whole,
            crate::merge::ListKeys::Deny,
            sources,
        )?;
        whole.shift_insert(0, DELETE_KEY.into(), Node::builtin(Value::Boolean(true)));
        *table = whole;
        return Ok(());
    }
    for (k, v) in table.iter_mut() {
        if let (Value::Table(child), Some(Value::Table(b))) =
            (&mut v.value, base.get(k).map(|b| &b.value))
        {
            let mut deeper = path.to_vec();
            deeper.push(k);
            keep_nones(child, b, &deeper, sources)?;
        }
    }
    Ok(())
}

/// `to` relative to the directory `from` (both made absolute), with `/` separators.
fn relative(from: &Path, to: &Path) -> String {
    let abs = |p: &Path| -> Vec<String> {
        let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let mut parts: Vec<String> = Vec::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    parts.pop();
                }
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
                Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            }
        }
        parts
    };
    let (f, t) = (abs(from), abs(to));
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(t[common..].iter().cloned());
    let joined = parts.join("/");
    if joined.starts_with("..") {
        joined
    } else {
        format!("./{joined}")
    }
}
