//! Typed views of the configuration tree through serde, with every error located.
//!
//! Any `#[derive(Deserialize)]` type (with `deny_unknown_fields`) can be read from a [`Node`]
//! with [`from_node`]; the first error carries the file, line and column of the key or value
//! it is about, even after `_base_` merging and `--cfg-options`. [`RawNode`] keeps a subtree
//! as it is (for registries that validate it later against the chosen `type`), and
//! [`Located`] keeps a value's origin for semantic checks after parsing.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{ConfigError, ErrorKind, closest};
use crate::source::{Origin, Sources};
use crate::value::{Node, Value};

const RAW_MAGIC: &str = "$weft_config::RawNode";
const LOCATED_MAGIC: &str = "$weft_config::Located";

thread_local! {
    // How a `RawNode`/`Located` learns about the node it is read from: serde's data model has
    // no way to hand a borrowed tree to a visitor, so the deserializer leaves it here for the
    // one visitor call that follows.
    static CAPTURED_NODE: RefCell<Option<Node>> = const { RefCell::new(None) };
    static CAPTURED_ORIGIN: RefCell<Option<Origin>> = const { RefCell::new(None) };
}

/// Deserializes `T` from a node, resolving any error's location through `sources`.
pub fn from_node<T: de::DeserializeOwned>(
    node: &Node,
    sources: &Sources,
) -> Result<T, ConfigError> {
    T::deserialize(NodeDeserializer { node }).map_err(|e| e.into_config_error(sources))
}

/// A subtree kept as-is inside a typed struct, to be validated later by whoever knows its
/// schema (a model, hook or optimizer registry).
#[derive(Debug, Clone, PartialEq)]
pub struct RawNode(pub Node);

impl<'de> de::Deserialize<'de> for RawNode {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawNode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a configuration value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawNode, E> {
                CAPTURED_NODE
                    .with(|c| c.borrow_mut().take())
                    .map(RawNode)
                    .ok_or_else(|| E::custom("RawNode can only be read from a weft config"))
            }
        }
        deserializer.deserialize_newtype_struct(RAW_MAGIC, V)
    }
}

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub origin: Origin,
}

impl<T> std::ops::Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> Located<T> {
    /// A value with no location in a file (a default).
    pub fn builtin(value: T) -> Self {
        Located {
            value,
            origin: Origin::Builtin,
        }
    }
}

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for Located<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: de::Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Located<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a configuration value")
            }
            fn visit_newtype_struct<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Located<T>, D::Error> {
                let origin = CAPTURED_ORIGIN
                    .with(|c| c.borrow_mut().take())
                    .unwrap_or(Origin::Builtin);
                Ok(Located {
                    value: T::deserialize(d)?,
                    origin,
                })
            }
        }
        deserializer.deserialize_newtype_struct(LOCATED_MAGIC, V(std::marker::PhantomData))
    }
}

/// The error type used while deserializing; turned into a [`ConfigError`] at the end.
#[derive(Debug)]
pub struct DeError {
    kind: ErrorKind,
    message: String,
    help: Option<String>,
    origin: Option<Origin>,
}

impl DeError {
    fn locate(mut self, origin: &Origin) -> Self {
        if self.origin.is_none() {
            self.origin = Some(origin.clone());
        }
        self
    }

    fn into_config_error(self, sources: &Sources) -> ConfigError {
        let mut err = ConfigError::new(self.kind, self.message);
        if let Some(origin) = &self.origin {
            err = err.with_location(sources.locate(origin));
        }
        err.help = self.help;
        err
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            kind: ErrorKind::InvalidValue,
            message: msg.to_string(),
            help: None,
            origin: None,
        }
    }

    // serde words these with Rust's type names ("invalid type: map, expected u32"); a user
    // wrote TOML, so say what they wrote and what the key takes in TOML's words.
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format!(
            "expected {}, found {}",
            expected_words(&exp.to_string()),
            unexpected_words(&unexp)
        ))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format!(
            "expected {}, found {}",
            expected_words(&exp.to_string()),
            unexpected_words(&unexp)
        ))
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        Self::custom(format!(
            "expected {}, found a list of {len}",
            expected_words(&exp.to_string())
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let mut help = format!("expected one of: {}", expected.join(", "));
        if let Some(best) = closest(field, expected.iter().copied()) {
            help = format!("did you mean `{best}`? {help}");
        }
        DeError {
            kind: ErrorKind::UnknownKey,
            message: format!("unknown key `{field}`"),
            help: Some(help),
            origin: None,
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut help = format!("expected one of: {}", expected.join(", "));
        if let Some(best) = closest(variant, expected.iter().copied()) {
            help = format!("did you mean `{best}`? {help}");
        }
        DeError {
            kind: ErrorKind::InvalidValue,
            message: format!("unknown value `{variant}`"),
            help: Some(help),
            origin: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            kind: ErrorKind::MissingKey,
            message: format!("missing required key `{field}`"),
            help: None,
            origin: None,
        }
    }
}

/// What serde's name for an expected type means in a TOML config.
fn expected_words(exp: &str) -> String {
    match exp {
        "u8" => "an integer from 0 to 255".into(),
        "u16" => "an integer from 0 to 65535".into(),
        "u32" => "an integer from 0 to 4294967295".into(),
        "u64" | "u128" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list".into(),
        "a map" => "a table".into(),
        "char" | "a character" => "a one-character string".into(),
        "unit" => "nothing".into(),
        other if other.starts_with("struct ") => "a table".into(),
        other if other.starts_with("a tuple of size ") || other.starts_with("tuple struct ") => {
            format!("a list of {}", other.rsplit(' ').next().unwrap_or("its"))
        }
        other => other.to_string(),
    }
}

/// A value as the user wrote it, in TOML's words.
fn unexpected_words(u: &de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match u {
        U::Bool(b) => format!("`{b}`"),
        U::Unsigned(n) => format!("the integer {n}"),
        U::Signed(n) => format!("the integer {n}"),
        U::Float(f) => format!("the number {f}"),
        U::Char(c) => format!("the string {:?}", c.to_string()),
        U::Str(s) => format!("the string {s:?}"),
        U::Unit => "nothing".into(),
        U::Seq => "a list".into(),
        U::Map => "a table".into(),
        other => other.to_string(),
    }
}

/// A serde deserializer over one node.
pub struct NodeDeserializer<'a> {
    node: &'a Node,
}

impl<'a> NodeDeserializer<'a> {
    /// Deserializer for `node`.
    pub fn new(node: &'a Node) -> Self {
        NodeDeserializer { node }
    }
}

impl<'de, 'a> de::Deserializer<'de> for NodeDeserializer<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        let result = match &node.value {
            Value::Table(t) => visitor.visit_map(TableAccess {
                iter: t.iter(),
                value: None,
            }),
            Value::Array(items) => visitor.visit_seq(ArrayAccess { iter: items.iter() }),
            Value::String(s) => visitor.visit_str(s),
            Value::Integer(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Boolean(b) => visitor.visit_bool(*b),
            Value::Datetime(d) => visitor.visit_str(d),
            Value::Null => visitor.visit_unit(),
        };
        result.map_err(|e| e.locate(&node.origin))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            visitor.visit_none()
        } else {
            let origin = &self.node.origin;
            visitor
                .visit_some(NodeDeserializer { node: self.node })
                .map_err(|e| e.locate(origin))
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match name {
            RAW_MAGIC => {
                CAPTURED_NODE.with(|c| *c.borrow_mut() = Some(self.node.clone()));
                visitor.visit_unit()
            }
            LOCATED_MAGIC => {
                CAPTURED_ORIGIN.with(|c| *c.borrow_mut() = Some(self.node.origin.clone()));
                visitor.visit_newtype_struct(self)
            }
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        let result = match &node.value {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Table(t) if t.len() == 1 => {
                let (k, v) = t.iter().next().expect("one entry");
                visitor.visit_enum(EnumAccess { key: k, value: v })
            }
            other => Err(de::Error::custom(format!(
                "expected a string naming a variant, found a {}",
                other.type_name()
            ))),
        };
        result.map_err(|e| e.locate(&node.origin))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // A TOML user writes `lr = 1` as readily as `lr = 1.0`.
        match self.node.value {
            Value::Integer(i) => visitor
                .visit_f64(i as f64)
                .map_err(|e: DeError| e.locate(&self.node.origin)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 char str string
        bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

struct TableAccess<'a> {
    iter: indexmap::map::Iter<'a, String, Node>,
    value: Option<&'a Node>,
}

impl<'de, 'a> MapAccess<'de> for TableAccess<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, node)) = self.iter.next() else {
            return Ok(None);
        };
        self.value = Some(node);
        seed.deserialize(key.as_str().into_deserializer())
            .map(Some)
            .map_err(|e: DeError| e.locate(node.key_or_value_origin()))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self
            .value
            .take()
            .expect("serde calls next_key before next_value");
        seed.deserialize(NodeDeserializer { node })
    }
}

struct ArrayAccess<'a> {
    iter: std::slice::Iter<'a, Node>,
}

impl<'de, 'a> SeqAccess<'de> for ArrayAccess<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(node) => seed.deserialize(NodeDeserializer { node }).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct EnumAccess<'a> {
    key: &'a str,
    value: &'a Node,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAccess<'a> {
    type Error = DeError;
    type Variant = NodeDeserializer<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), DeError> {
        let v = seed.deserialize(self.key.into_deserializer())?;
        Ok((v, NodeDeserializer { node: self.value }))
    }
}

impl<'de, 'a> de::VariantAccess<'de> for NodeDeserializer<'a> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_toml;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Opt {
        lr: f64,
        #[serde(default)]
        #[allow(dead_code, reason = "present so that `momentun` has a close match")]
        momentum: Option<f64>,
        steps: Option<Vec<u32>>,
        extra: Option<RawNode>,
        named: Option<Located<String>>,
    }

    fn load(text: &str) -> (Node, Sources) {
        let mut sources = Sources::default();
        let id = sources.add("t.toml".into(), text.into());
        let node = parse_toml(text, id, &sources).unwrap();
        (node, sources)
    }

    #[test]
    fn reads_typed_values_and_accepts_integer_floats() {
        let (node, sources) = load("lr = 1\nsteps = [3, 5]\nextra = { a = 1 }\nnamed = 'x'\n");
        let opt: Opt = from_node(&node, &sources).unwrap();
        assert_eq!(opt.lr, 1.0);
        assert_eq!(opt.steps, Some(vec![3, 5]));
        assert_eq!(
            opt.extra.unwrap().0.get("a").unwrap().value,
            Value::Integer(1)
        );
        let named = opt.named.unwrap();
        assert_eq!(named.value, "x");
        assert_eq!(sources.locate(&named.origin).to_string(), "t.toml:4:9");
    }

    #[test]
    fn unknown_key_points_at_the_key_and_suggests() {
        let (node, sources) = load("lr = 0.1\nmomentun = 0.9\n");
        let err = from_node::<Opt>(&node, &sources).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownKey);
        assert_eq!(err.location.as_ref().unwrap().to_string(), "t.toml:2:1");
        assert!(
            err.help
                .as_deref()
                .unwrap()
                .contains("did you mean `momentum`")
        );
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let (node, sources) = load("lr = 0.1\nsteps = [1, 'two']\n");
        let err = from_node::<Opt>(&node, &sources).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidValue);
        assert_eq!(err.location.as_ref().unwrap().to_string(), "t.toml:2:13");
        assert_eq!(
            err.message,
            "expected an integer from 0 to 4294967295, found the string \"two\""
        );
    }

    #[test]
    fn missing_key_is_reported() {
        let (node, sources) = load("momentum = 0.9\n");
        let err = from_node::<Opt>(&node, &sources).unwrap_err();
        assert_eq!(err.kind, ErrorKind::MissingKey);
        assert!(err.message.contains("`lr`"));
    }

    fn read<T: de::DeserializeOwned>(value: Value) -> Result<T, String> {
        let node = Node {
            value,
            origin: Origin::Builtin,
            key_origin: None,
        };
        from_node::<T>(&node, &Sources::default()).map_err(|e| e.message)
    }

    #[test]
    fn type_errors_name_toml_types_not_rust_ones() {
        let err = read::<u32>(Value::Integer(-1)).unwrap_err();
        assert_eq!(
            err,
            "expected an integer from 0 to 4294967295, found the integer -1"
        );
        let err = read::<u64>(Value::String("ten".into())).unwrap_err();
        assert_eq!(
            err,
            "expected a non-negative integer, found the string \"ten\""
        );
        let err = read::<Vec<String>>(Value::Table(Default::default())).unwrap_err();
        assert_eq!(err, "expected a list, found a table");
        let err = read::<bool>(Value::Float(1.5)).unwrap_err();
        assert_eq!(err, "expected true or false, found the number 1.5");
        for rust in ["u32", "u64", "i64", "sequence", "map"] {
            for e in [
                read::<u32>(Value::Boolean(true)).unwrap_err(),
                read::<i64>(Value::Array(vec![])).unwrap_err(),
            ] {
                assert!(!e.contains(&format!("expected {rust}")), "{e}");
            }
        }
    }
}
