//! `type = "Modules"`: a list of named standard layers applied in order, plus free
//! parameters and frozen ones, so any small PyTorch model can be written in TOML.

use serde::Deserialize;
use serde_json::Map;
use tch::{TchError, Tensor};
use weft_config::{Config, ConfigError, ErrorKind, Located, Node, RawNode, unknown_name_error};

use super::{Network, without};
use crate::init;
use crate::layers::{
    AdaptiveAvgPool, BatchNorm, BatchNormArgs, Conv, ConvArgs, Dropout, Embedding, EmbeddingArgs,
    Flatten, GroupNorm, GroupNormArgs, InstanceNorm, IntOrList, LAYER_TYPES, Layer, LayerNorm,
    LayerNormArgs, Linear, LinearArgs, Pool, PoolArgs, PoolKind, Relu,
};
use crate::store::ParamStore;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModulesArgs {
    /// Layers, applied in order: `[[model.layers]] name = "conv1", type = "Conv2d", ...`.
    #[serde(default)]
    layers: Vec<RawNode>,
    /// Free parameters: `[[model.params]] name = "scale", shape = [1]`.
    #[serde(default)]
    params: Vec<FreeParam>,
    /// Parameters that are not trained (`requires_grad = false`).
    #[serde(default)]
    frozen: Vec<Located<String>>,
    /// Tied parameters: `[{ name = "b.weight", source = "a.weight" }]` makes `b.weight` the
    /// same tensor as `a.weight` (PyTorch's `model.b.weight = model.a.weight`).
    #[serde(default)]
    shared: Vec<Shared>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Shared {
    name: Located<String>,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FreeParam {
    name: Located<String>,
    shape: Vec<i64>,
    /// `ones` (default), `zeros` or `normal`.
    init: Option<Located<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InplaceArgs {
    #[allow(
        dead_code,
        reason = "accepted for PyTorch compatibility; weft never computes in place here"
    )]
    inplace: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlattenArgs {
    #[serde(default = "one")]
    start_dim: i64,
    #[serde(default = "minus_one")]
    end_dim: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DropoutArgs {
    #[serde(default = "half")]
    p: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdaptiveArgs {
    output_size: IntOrList,
}

fn one() -> i64 {
    1
}
fn minus_one() -> i64 {
    -1
}
fn half() -> f64 {
    0.5
}

/// Layers applied in order.
pub struct Sequential {
    layers: Vec<Box<dyn Layer>>,
}

impl Network for Sequential {
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let mut x = x.shallow_clone();
        for layer in &self.layers {
            x = layer.forward(&x, train)?;
        }
        Ok(x)
    }
}

pub(super) fn build(
    store: &mut ParamStore,
    args: &Node,
    cfg: &Config,
) -> Result<Sequential, ConfigError> {
    let a: ModulesArgs = cfg.read(args)?;
    store.module("", "Modules", Map::new());
    for p in &a.params {
        let (module_path, local) = p.name.value.rsplit_once('.').unwrap_or(("", &p.name.value));
        let module = store.module(module_path, "Module", Map::new());
        let init = match p.init.as_ref().map(|i| i.value.as_str()) {
            None | Some("ones") => init::ones(&p.shape),
            Some("zeros") => init::zeros(&p.shape),
            Some("normal") => init::normal(&p.shape),
            Some(other) => {
                let origin = &p.init.as_ref().expect("matched Some").origin;
                return Err(cfg.error_at(
                    ErrorKind::InvalidValue,
                    format!("init must be \"ones\", \"zeros\" or \"normal\", not \"{other}\""),
                    origin,
                ));
            }
        };
        let _ = init
            .and_then(|t| store.param(module, local, t, true))
            .map_err(|e| cfg.error_at(ErrorKind::InvalidValue, e.to_string(), &p.name.origin))?;
    }
    let mut layers: Vec<Box<dyn Layer>> = Vec::new();
    let mut names = Vec::new();
    for entry in &a.layers {
        layers.push(layer(store, &entry.0, cfg)?);
        names.push(
            entry
                .0
                .get("name")
                .and_then(Node::as_str)
                .unwrap_or_default()
                .to_string(),
        );
    }
    for s in &a.shared {
        let fail = |m: String| cfg.error_at(ErrorKind::InvalidValue, m, &s.name.origin);
        let (module, local) = s
            .name
            .value
            .rsplit_once('.')
            .ok_or_else(|| fail("`name` must be `layer.param`".into()))?;
        let tensor = store.tie(&s.name.value, &s.source).map_err(fail)?;
        let index = names
            .iter()
            .position(|n| n == module)
            .ok_or_else(|| fail(format!("no layer named `{module}`")))?;
        if !layers[index].replace_param(local, tensor) {
            return Err(fail(format!(
                "layer `{module}` has no parameter `{local}` to share"
            )));
        }
    }
    for f in &a.frozen {
        if !store.freeze(&f.value) {
            return Err(cfg.error_at(
                ErrorKind::InvalidValue,
                format!("`{}` in `frozen` is not a parameter of this model", f.value),
                &f.origin,
            ));
        }
    }
    Ok(Sequential { layers })
}

fn layer(store: &mut ParamStore, node: &Node, cfg: &Config) -> Result<Box<dyn Layer>, ConfigError> {
    let Some(table) = node.as_table() else {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "each layer must be a table",
            &node.origin,
        ));
    };
    let name = match table.get("name").and_then(Node::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => {
            return Err(cfg.error_at(
                ErrorKind::MissingKey,
                "this layer needs a `name`",
                &node.origin,
            ));
        }
    };
    let Some(ty_node) = table.get("type") else {
        return Err(cfg.error_at(
            ErrorKind::MissingKey,
            format!("layer `{name}` needs a `type`"),
            &node.origin,
        ));
    };
    let ty = ty_node.as_str().unwrap_or_default();
    let args = without(table, &["name", "type"], node);
    let fail = |e: String| {
        cfg.error_at(
            ErrorKind::InvalidValue,
            format!("layer `{name}`: {e}"),
            &node.origin,
        )
    };
    let dims = |t: &str| {
        t.chars()
            .rev()
            .nth(1)
            .and_then(|c| c.to_digit(10))
            .unwrap_or(2) as usize
    };
    Ok(match ty {
        "Linear" => {
            Box::new(Linear::new(store, &name, &cfg.read::<LinearArgs>(&args)?).map_err(fail)?)
        }
        "Conv1d" | "Conv2d" | "Conv3d" => Box::new(
            Conv::new(store, &name, dims(ty), &cfg.read::<ConvArgs>(&args)?).map_err(fail)?,
        ),
        "BatchNorm1d" | "BatchNorm2d" | "BatchNorm3d" => Box::new(
            BatchNorm::new(store, &name, dims(ty), &cfg.read::<BatchNormArgs>(&args)?)
                .map_err(fail)?,
        ),
        "InstanceNorm1d" | "InstanceNorm2d" | "InstanceNorm3d" => Box::new(
            InstanceNorm::new(store, &name, dims(ty), &cfg.read::<BatchNormArgs>(&args)?)
                .map_err(fail)?,
        ),
        "GroupNorm" => Box::new(
            GroupNorm::new(store, &name, &cfg.read::<GroupNormArgs>(&args)?).map_err(fail)?,
        ),
        "LayerNorm" => Box::new(
            LayerNorm::new(store, &name, &cfg.read::<LayerNormArgs>(&args)?).map_err(fail)?,
        ),
        "Embedding" => Box::new(
            Embedding::new(store, &name, &cfg.read::<EmbeddingArgs>(&args)?).map_err(fail)?,
        ),
        "ReLU" | "Sigmoid" | "Tanh" | "GELU" => {
            let _: InplaceArgs = cfg.read(&args)?;
            store.module(&name, ty, Map::new());
            Box::new(match ty {
                "ReLU" => Relu::Relu,
                "Sigmoid" => Relu::Sigmoid,
                "Tanh" => Relu::Tanh,
                _ => Relu::Gelu,
            })
        }
        "MaxPool2d" | "AvgPool2d" => {
            let a: PoolArgs = cfg.read(&args)?;
            store.module(&name, ty, Map::new());
            let kind = if ty == "MaxPool2d" {
                PoolKind::Max
            } else {
                PoolKind::Avg
            };
            Box::new(Pool::new(kind, &a))
        }
        "AdaptiveAvgPool2d" => {
            let a: AdaptiveArgs = cfg.read(&args)?;
            store.module(&name, ty, Map::new());
            Box::new(AdaptiveAvgPool {
                output: a.output_size.expand(2),
            })
        }
        "Flatten" => {
            let a: FlattenArgs = cfg.read(&args)?;
            store.module(&name, ty, Map::new());
            Box::new(Flatten {
                start_dim: a.start_dim,
                end_dim: a.end_dim,
            })
        }
        "Dropout" => {
            let a: DropoutArgs = cfg.read(&args)?;
            if !(0.0..=1.0).contains(&a.p) {
                return Err(fail(format!("p must be in [0, 1], not {}", a.p)));
            }
            store.module(&name, ty, Map::new());
            Box::new(Dropout { p: a.p })
        }
        other => {
            return Err(unknown_name_error("layer", other, LAYER_TYPES)
                .with_location(cfg.sources().locate(&ty_node.origin)));
        }
    })
}
