//! The configuration tree: TOML values that remember where they were written.

use indexmap::IndexMap;

use crate::source::Origin;

/// A table of nodes, in the order the keys were written (MMCV dicts keep insertion order).
pub type Table = IndexMap<String, Node>;

/// The node at a dotted path inside a table.
pub fn lookup<'a>(table: &'a Table, path: &str) -> Option<&'a Node> {
    let mut parts = path.split('.');
    let first = table.get(parts.next()?)?;
    parts.try_fold(first, Node::child)
}

/// One value of the merged configuration with its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value was written.
    pub origin: Origin,
    /// Where the key that holds it was written (table entries only); errors about the key
    /// itself (unknown field) point here.
    pub key_origin: Option<Origin>,
}

/// A configuration value: TOML's types plus `None` (from `--cfg-options k=None`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A table.
    Table(Table),
    /// An array.
    Array(Vec<Node>),
    /// A string.
    String(String),
    /// An integer.
    Integer(i64),
    /// A float (`inf` and `nan` included).
    Float(f64),
    /// A boolean.
    Boolean(bool),
    /// A TOML date-time, kept as its text.
    Datetime(String),
    /// Python's `None`: treated as "not set" by the typed schema.
    Null,
}

impl Value {
    /// A short name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Table(_) => "table",
            Value::Array(_) => "array",
            Value::String(_) => "string",
            Value::Integer(_) => "integer",
            Value::Float(_) => "float",
            Value::Boolean(_) => "boolean",
            Value::Datetime(_) => "date-time",
            Value::Null => "None",
        }
    }
}

impl Node {
    /// A node that weft made itself.
    pub fn builtin(value: Value) -> Node {
        Node {
            value,
            origin: Origin::Builtin,
            key_origin: None,
        }
    }

    /// The table, if this is one.
    pub fn as_table(&self) -> Option<&Table> {
        match &self.value {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The table, mutably, if this is one.
    pub fn as_table_mut(&mut self) -> Option<&mut Table> {
        match &mut self.value {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A number as f64 (integers convert).
    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            Value::Float(f) => Some(f),
            Value::Integer(i) => Some(i as f64),
            _ => None,
        }
    }

    /// The node at a dotted path of table keys (and array indices).
    pub fn get_path(&self, path: &str) -> Option<&Node> {
        if path.is_empty() {
            return Some(self);
        }
        path.split('.').try_fold(self, Node::child)
    }

    /// A table entry or, for a numeric key, an array element.
    pub fn child(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Table(t) => t.get(key),
            Value::Array(items) => items.get(key.parse::<usize>().ok()?),
            _ => None,
        }
    }

    /// The origin to blame for the key of this node: the key if known, else the value.
    pub fn key_or_value_origin(&self) -> &Origin {
        self.key_origin.as_ref().unwrap_or(&self.origin)
    }

    /// A key of this table, if it is a table holding it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_table()?.get(key)
    }

    /// True when the value is `None` (or the key is absent, for callers using `get`).
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// Converts to JSON (for plugins and metadata); `inf`/`nan` become strings as in the
    /// MMCV oracles, since JSON has no such numbers.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Table(t) => J::Object(t.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Value::Array(a) => J::Array(a.iter().map(Node::to_json).collect()),
            Value::String(s) => J::String(s.clone()),
            Value::Integer(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(f.to_string())),
            Value::Boolean(b) => J::Bool(*b),
            Value::Datetime(d) => J::String(d.clone()),
            Value::Null => J::Null,
        }
    }

    /// Builds a node tree from JSON (used by tests and by `--cfg-options` values).
    pub fn from_json(value: &serde_json::Value, origin: &Origin) -> Node {
        use serde_json::Value as J;
        let value = match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Boolean(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Integer(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::String(s.clone()),
            J::Array(a) => Value::Array(a.iter().map(|v| Node::from_json(v, origin)).collect()),
            J::Object(o) => Value::Table(
                o.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v, origin)))
                    .collect(),
            ),
        };
        Node {
            value,
            origin: origin.clone(),
            key_origin: None,
        }
    }
}
