//! One TOML file to a [`Node`] tree, after MMCV's predefined-variable substitution.

use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{ConfigError, ErrorKind};
use crate::source::{Origin, SourceId, Sources};
use crate::value::{Node, Table, Value};

/// Replaces `{{ fileDirname }}`, `{{ fileBasename }}`, `{{ fileBasenameNoExtension }}` and
/// `{{ fileExtname }}` in the raw text, as MMCV does before it parses a config (spaces inside
/// the braces are optional). Other `{{ ... }}` text is left alone.
pub fn substitute_predefined(text: &str, path: &Path) -> String {
    let dirname = path
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let basename = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let vars = [
        ("fileDirname", dirname.as_str()),
        ("fileBasename", basename.as_str()),
        ("fileBasenameNoExtension", stem.as_str()),
        ("fileExtname", ext.as_str()),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let replaced = after.find("}}").and_then(|end| {
            let name = after[..end].trim();
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v, end + 2))
        });
        match replaced {
            Some((value, consumed)) => {
                out.push_str(value);
                rest = &after[consumed..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses a file's text (already substituted) into a table node.
pub fn parse_toml(text: &str, id: SourceId, sources: &Sources) -> Result<Node, ConfigError> {
    let doc = DeTable::parse(text).map_err(|e| {
        let origin = Origin::File {
            source: id,
            span: e.span().unwrap_or(0..0),
        };
        ConfigError::at(
            ErrorKind::Syntax,
            format!("invalid TOML: {}", e.message().trim()),
            &origin,
            sources,
        )
    })?;
    let span = doc.span();
    let table = convert_table(doc.into_inner(), id, sources)?;
    Ok(Node {
        value: Value::Table(table),
        origin: Origin::File { source: id, span },
        key_origin: None,
    })
}

fn convert_table(
    table: DeTable<'_>,
    id: SourceId,
    sources: &Sources,
) -> Result<Table, ConfigError> {
    let mut out = Table::with_capacity(table.len());
    for (key, value) in table {
        let key_origin = Origin::File {
            source: id,
            span: key.span(),
        };
        let mut node = convert(value, id, sources)?;
        node.key_origin = Some(key_origin);
        out.insert(key.into_inner().into_owned(), node);
    }
    Ok(out)
}

fn convert(
    value: Spanned<DeValue<'_>>,
    id: SourceId,
    sources: &Sources,
) -> Result<Node, ConfigError> {
    let span = value.span();
    let origin = Origin::File {
        source: id,
        span: span.clone(),
    };
    let value = match value.into_inner() {
        DeValue::String(s) => Value::String(s.into_owned()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(v) => Value::Integer(v),
            Err(_) => {
                return Err(ConfigError::at(
                    ErrorKind::InvalidValue,
                    format!("integer {i} does not fit in 64 bits"),
                    &origin,
                    sources,
                ));
            }
        },
        DeValue::Float(f) => match f.as_str().parse::<f64>() {
            Ok(v) => Value::Float(v),
            Err(_) => {
                return Err(ConfigError::at(
                    ErrorKind::InvalidValue,
                    format!("invalid float {f}"),
                    &origin,
                    sources,
                ));
            }
        },
        DeValue::Boolean(b) => Value::Boolean(b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter().cloned() {
                out.push(convert(item, id, sources)?);
            }
            Value::Array(out)
        }
        DeValue::Table(t) => Value::Table(convert_table(t, id, sources)?),
    };
    Ok(Node {
        value,
        origin,
        key_origin: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_variables_are_replaced_textually() {
        let out = substitute_predefined(
            "a = '{{ fileBasenameNoExtension }}' # {{fileExtname}} {{ other }}",
            Path::new("/cfg/dir/run.toml"),
        );
        assert_eq!(out, "a = 'run' # .toml {{ other }}");
        let dir =
            substitute_predefined("{{fileDirname}}/{{ fileBasename }}", Path::new("/x/y.toml"));
        assert_eq!(dir, "/x/y.toml");
    }

    #[test]
    fn syntax_errors_point_at_line_and_column() {
        let mut sources = Sources::default();
        let text = "a = 1\nb = [1, 2\n";
        let id = sources.add("bad.toml".into(), text.into());
        let err = parse_toml(text, id, &sources).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Syntax);
        let loc = err.location.unwrap().to_string();
        assert!(
            loc.starts_with("bad.toml:2:") || loc.starts_with("bad.toml:3:"),
            "{loc}"
        );
    }

    #[test]
    fn keeps_key_order_and_key_spans() {
        let mut sources = Sources::default();
        let text = "z = 1\na = { y = 2.5, b = [true] }\n";
        let id = sources.add("k.toml".into(), text.into());
        let node = parse_toml(text, id, &sources).unwrap();
        let keys: Vec<_> = node.as_table().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["z", "a"]);
        let y = node.get_path("a.y").unwrap();
        assert_eq!(y.as_f64(), Some(2.5));
        let loc = sources.locate(y.key_origin.as_ref().unwrap()).to_string();
        assert_eq!(loc, "k.toml:2:7");
    }
}
