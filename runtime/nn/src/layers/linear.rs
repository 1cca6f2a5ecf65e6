//! `Linear`.

use serde::Deserialize;
use serde_json::{Map, json};
use tch::{TchError, Tensor};

use super::{Layer, replace_weight_or_bias};
use crate::init;
use crate::store::ParamStore;

/// `torch.nn.Linear` arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearArgs {
    /// Input features.
    pub in_features: i64,
    /// Output features.
    pub out_features: i64,
    /// Learn a bias (default true).
    #[serde(default = "yes")]
    pub bias: bool,
}

fn yes() -> bool {
    true
}

/// `y = x W^T + b`.
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// Registers the module at `path` and its parameters.
    pub fn new(store: &mut ParamStore, path: &str, a: &LinearArgs) -> Result<Linear, String> {
        let mut attrs = Map::new();
        attrs.insert("in_features".into(), json!(a.in_features));
        attrs.insert("out_features".into(), json!(a.out_features));
        attrs.insert("bias".into(), json!(a.bias));
        let module = store.module(path, "Linear", attrs);
        let err = |e: TchError| e.to_string();
        let weight = store
            .param(
                module,
                "weight",
                init::default_weight(&[a.out_features, a.in_features], a.in_features)
                    .map_err(err)?,
                true,
            )
            .map_err(err)?;
        let bias = if a.bias {
            Some(
                store
                    .param(
                        module,
                        "bias",
                        init::default_bias(a.out_features, a.in_features).map_err(err)?,
                        true,
                    )
                    .map_err(err)?,
            )
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }
}

impl Linear {
    /// The weight and the bias, for initialisations other than the default.
    pub fn tensors(&self) -> (&Tensor, Option<&Tensor>) {
        (&self.weight, self.bias.as_ref())
    }
}

impl Layer for Linear {
    fn replace_param(&mut self, local: &str, tensor: Tensor) -> bool {
        replace_weight_or_bias(&mut self.weight, &mut self.bias, local, tensor)
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor, TchError> {
        x.f_linear(&self.weight, self.bias.as_ref())
    }
}
