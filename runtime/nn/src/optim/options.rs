//! Optimizer options as `torch.optim` spells them, with its defaults and checks, per group.
//!
//! A group's options are the optimizer's defaults overridden by what a constructor set for
//! that group (`lr`, `weight_decay`, or anything else for a plugin constructor).

use std::collections::BTreeMap;

use weft_config::{Node, Value};

/// A value of an optimizer option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptValue {
    /// A number.
    Num(f64),
    /// A flag.
    Bool(bool),
    /// A pair (`betas`, `etas`, `step_sizes`).
    Pair(f64, f64),
    /// Not set (`max_eval`, `line_search_fn`, `foreach`).
    None,
    /// `line_search_fn = "strong_wolfe"`.
    StrongWolfe,
}

/// The type an option accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// Number.
    Num,
    /// Flag.
    Bool,
    /// Two numbers.
    Pair,
    /// A number or nothing.
    OptNum,
    /// A flag or nothing (`foreach`, `fused`).
    OptBool,
    /// `"strong_wolfe"` or nothing.
    LineSearch,
}

/// One option of an optimizer: name, type, default.
#[derive(Debug, Clone, Copy)]
pub struct OptSpec {
    /// Name as in `torch.optim`.
    pub name: &'static str,
    /// Accepted type.
    pub kind: OptKind,
    /// Default.
    pub default: OptValue,
}

/// Shorthand constructors for spec tables.
pub const fn num(name: &'static str, default: f64) -> OptSpec {
    OptSpec {
        name,
        kind: OptKind::Num,
        default: OptValue::Num(default),
    }
}

/// A flag option.
pub const fn flag(name: &'static str, default: bool) -> OptSpec {
    OptSpec {
        name,
        kind: OptKind::Bool,
        default: OptValue::Bool(default),
    }
}

/// A pair option.
pub const fn pair(name: &'static str, a: f64, b: f64) -> OptSpec {
    OptSpec {
        name,
        kind: OptKind::Pair,
        default: OptValue::Pair(a, b),
    }
}

/// An option torch accepts for kernel selection or autograd and weft ignores (`foreach`,
/// `fused`, `capturable`, `differentiable`).
pub const fn accepted(name: &'static str) -> OptSpec {
    OptSpec {
        name,
        kind: OptKind::OptBool,
        default: OptValue::None,
    }
}

/// The resolved options of one group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Options(pub BTreeMap<&'static str, OptValue>);

impl Options {
    /// A number option (panics only if the spec table lacks it: a programming error).
    pub fn num(&self, name: &str) -> f64 {
        match self.0.get(name) {
            Some(OptValue::Num(v)) => *v,
            other => unreachable!("option {name} is not a number: {other:?}"),
        }
    }

    /// A flag option (unset optional flags read as false).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.0.get(name), Some(OptValue::Bool(true)))
    }

    /// A pair option.
    pub fn pair(&self, name: &str) -> (f64, f64) {
        match self.0.get(name) {
            Some(OptValue::Pair(a, b)) => (*a, *b),
            other => unreachable!("option {name} is not a pair: {other:?}"),
        }
    }

    /// An optional number.
    pub fn opt_num(&self, name: &str) -> Option<f64> {
        match self.0.get(name) {
            Some(OptValue::Num(v)) => Some(*v),
            _ => None,
        }
    }
}

/// Why an option could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionError {
    /// The option's name.
    pub name: String,
    /// What is wrong.
    pub message: String,
}

/// The defaults of a spec table.
pub fn defaults(spec: &[OptSpec]) -> Options {
    Options(spec.iter().map(|s| (s.name, s.default)).collect())
}

/// Reads one value of kind `kind` from a config node.
pub fn from_node(spec: &OptSpec, node: &Node) -> Result<OptValue, String> {
    let bad = || {
        let what = match spec.kind {
            OptKind::Num | OptKind::OptNum => "a number",
            OptKind::Bool | OptKind::OptBool => "true or false",
            OptKind::Pair => "a list of two numbers",
            OptKind::LineSearch => "\"strong_wolfe\"",
        };
        format!(
            "`{}` must be {what}, not a {}",
            spec.name,
            node.value.type_name()
        )
    };
    if node.is_null()
        && matches!(
            spec.kind,
            OptKind::OptNum | OptKind::OptBool | OptKind::LineSearch
        )
    {
        return Ok(OptValue::None);
    }
    match spec.kind {
        OptKind::Num | OptKind::OptNum => node.as_f64().map(OptValue::Num).ok_or_else(bad),
        OptKind::Bool | OptKind::OptBool => match node.value {
            Value::Boolean(b) => Ok(OptValue::Bool(b)),
            _ => Err(bad()),
        },
        OptKind::Pair => match &node.value {
            Value::Array(items) if items.len() == 2 => match (items[0].as_f64(), items[1].as_f64())
            {
                (Some(a), Some(b)) => Ok(OptValue::Pair(a, b)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        },
        OptKind::LineSearch => match node.as_str() {
            Some("strong_wolfe") => Ok(OptValue::StrongWolfe),
            Some(other) => Err(format!(
                "only \"strong_wolfe\" is supported as line_search_fn, not \"{other}\""
            )),
            None => Err(bad()),
        },
    }
}

/// Reads a value from JSON (plugin constructors send options this way).
pub fn from_json(spec: &OptSpec, value: &serde_json::Value) -> Result<OptValue, String> {
    let node = Node::from_json(value, &weft_config::Origin::Builtin);
    from_node(spec, &node)
}

/// Overrides `options` with a numeric value, checking the name against `spec`.
pub fn set_num(
    spec: &[OptSpec],
    options: &mut Options,
    name: &str,
    value: f64,
) -> Result<(), OptionError> {
    let Some(s) = spec.iter().find(|s| s.name == name) else {
        return Err(OptionError {
            name: name.to_string(),
            message: format!("unknown option `{name}`; options: {}", names(spec)),
        });
    };
    let v = match s.kind {
        OptKind::Num | OptKind::OptNum => OptValue::Num(value),
        OptKind::Bool | OptKind::OptBool => OptValue::Bool(value != 0.0),
        _ => {
            return Err(OptionError {
                name: name.to_string(),
                message: format!("`{name}` cannot be set from a single number"),
            });
        }
    };
    options.0.insert(s.name, v);
    Ok(())
}

/// The option names of a spec, comma-separated.
pub fn names(spec: &[OptSpec]) -> String {
    spec.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}
