//! Normalisation layers: batch, group, layer and instance norm.

use serde::Deserialize;
use serde_json::{Map, json};
use tch::{Kind, TchError, Tensor};

use super::{IntOrList, Layer};
use crate::init;
use crate::store::ParamStore;

/// `BatchNormNd` and `InstanceNormNd` arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchNormArgs {
    /// Channels.
    pub num_features: i64,
    /// Added to the variance (default 1e-5).
    #[serde(default = "eps")]
    pub eps: f64,
    /// Running-statistics momentum (default 0.1).
    #[serde(default = "momentum")]
    pub momentum: f64,
    /// Learn a scale and shift (default: true for batch norm, false for instance norm).
    pub affine: Option<bool>,
    /// Keep running statistics (default: true for batch norm, false for instance norm).
    pub track_running_stats: Option<bool>,
}

fn eps() -> f64 {
    1e-5
}

fn momentum() -> f64 {
    0.1
}

fn yes() -> bool {
    true
}

struct Affine {
    weight: Option<Tensor>,
    bias: Option<Tensor>,
}

fn affine(store: &mut ParamStore, module: usize, n: i64, on: bool) -> Result<Affine, String> {
    if !on {
        return Ok(Affine {
            weight: None,
            bias: None,
        });
    }
    let err = |e: TchError| e.to_string();
    Ok(Affine {
        weight: Some(
            store
                .param(module, "weight", init::ones(&[n]).map_err(err)?, true)
                .map_err(err)?,
        ),
        bias: Some(
            store
                .param(module, "bias", init::zeros(&[n]).map_err(err)?, true)
                .map_err(err)?,
        ),
    })
}

struct Running {
    mean: Tensor,
    var: Tensor,
    count: Tensor,
}

fn running(store: &mut ParamStore, module: usize, n: i64) -> Result<Running, String> {
    let err = |e: TchError| e.to_string();
    Ok(Running {
        mean: store
            .buffer(module, "running_mean", init::zeros(&[n]).map_err(err)?)
            .map_err(err)?,
        var: store
            .buffer(module, "running_var", init::ones(&[n]).map_err(err)?)
            .map_err(err)?,
        count: store
            .buffer(
                module,
                "num_batches_tracked",
                Tensor::f_zeros([], (Kind::Int64, tch::Device::Cpu)).map_err(err)?,
            )
            .map_err(err)?,
    })
}

/// `BatchNorm1d/2d/3d`.
pub struct BatchNorm {
    affine: Affine,
    running: Option<Running>,
    eps: f64,
    momentum: f64,
}

impl BatchNorm {
    /// Registers the module, its affine parameters and running statistics.
    pub fn new(
        store: &mut ParamStore,
        path: &str,
        dims: usize,
        a: &BatchNormArgs,
    ) -> Result<BatchNorm, String> {
        let on = a.affine.unwrap_or(true);
        let track = a.track_running_stats.unwrap_or(true);
        let mut attrs = Map::new();
        attrs.insert("num_features".into(), json!(a.num_features));
        attrs.insert("affine".into(), json!(on));
        let module = store.module(path, &format!("BatchNorm{dims}d"), attrs);
        let affine = affine(store, module, a.num_features, on)?;
        let running = if track {
            Some(running(store, module, a.num_features)?)
        } else {
            None
        };
        Ok(BatchNorm {
            affine,
            running,
            eps: a.eps,
            momentum: a.momentum,
        })
    }
}

impl BatchNorm {
    /// The scale (`None` without `affine`).
    pub fn weight(&self) -> Option<&Tensor> {
        self.affine.weight.as_ref()
    }
}

impl Layer for BatchNorm {
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let use_batch = train || self.running.is_none();
        if train && let Some(r) = &self.running {
            // Counted under no_grad like PyTorch; only matters for checkpoints.
            let mut count = r.count.shallow_clone();
            let _ = tch::no_grad(|| count.f_add_scalar_(1))?;
        }
        x.f_batch_norm(
            self.affine.weight.as_ref(),
            self.affine.bias.as_ref(),
            self.running.as_ref().map(|r| &r.mean),
            self.running.as_ref().map(|r| &r.var),
            use_batch,
            self.momentum,
            self.eps,
            true,
        )
    }
}

/// `InstanceNorm1d/2d/3d`.
pub struct InstanceNorm {
    affine: Affine,
    running: Option<Running>,
    eps: f64,
    momentum: f64,
}

impl InstanceNorm {
    /// Registers the module (affine parameters only when `affine = true`).
    pub fn new(
        store: &mut ParamStore,
        path: &str,
        dims: usize,
        a: &BatchNormArgs,
    ) -> Result<InstanceNorm, String> {
        let on = a.affine.unwrap_or(false);
        let track = a.track_running_stats.unwrap_or(false);
        let mut attrs = Map::new();
        attrs.insert("num_features".into(), json!(a.num_features));
        attrs.insert("affine".into(), json!(on));
        let module = store.module(path, &format!("InstanceNorm{dims}d"), attrs);
        let affine = affine(store, module, a.num_features, on)?;
        let running = if track {
            Some(running(store, module, a.num_features)?)
        } else {
            None
        };
        Ok(InstanceNorm {
            affine,
            running,
            eps: a.eps,
            momentum: a.momentum,
        })
    }
}

impl Layer for InstanceNorm {
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        x.f_instance_norm(
            self.affine.weight.as_ref(),
            self.affine.bias.as_ref(),
            self.running.as_ref().map(|r| &r.mean),
            self.running.as_ref().map(|r| &r.var),
            train || self.running.is_none(),
            self.momentum,
            self.eps,
            true,
        )
    }
}

/// `GroupNorm` arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupNormArgs {
    /// Groups of channels.
    pub num_groups: i64,
    /// Channels.
    pub num_channels: i64,
    /// Added to the variance (default 1e-5).
    #[serde(default = "eps")]
    pub eps: f64,
    /// Learn a scale and shift (default true).
    #[serde(default = "yes")]
    pub affine: bool,
}

/// `GroupNorm`.
pub struct GroupNorm {
    affine: Affine,
    groups: i64,
    eps: f64,
}

impl GroupNorm {
    /// Registers the module and its parameters.
    pub fn new(store: &mut ParamStore, path: &str, a: &GroupNormArgs) -> Result<GroupNorm, String> {
        if a.num_groups < 1 || a.num_channels % a.num_groups != 0 {
            return Err(format!(
                "num_groups ({}) must divide num_channels ({})",
                a.num_groups, a.num_channels
            ));
        }
        let mut attrs = Map::new();
        attrs.insert("num_groups".into(), json!(a.num_groups));
        attrs.insert("num_channels".into(), json!(a.num_channels));
        let module = store.module(path, "GroupNorm", attrs);
        Ok(GroupNorm {
            affine: affine(store, module, a.num_channels, a.affine)?,
            groups: a.num_groups,
            eps: a.eps,
        })
    }
}

impl Layer for GroupNorm {
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor, TchError> {
        x.f_group_norm(
            self.groups,
            self.affine.weight.as_ref(),
            self.affine.bias.as_ref(),
            self.eps,
            true,
        )
    }
}

/// `LayerNorm` arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerNormArgs {
    /// The trailing shape to normalise over.
    pub normalized_shape: IntOrList,
    /// Added to the variance (default 1e-5).
    #[serde(default = "eps")]
    pub eps: f64,
    /// Learn a scale and shift (default true).
    #[serde(default = "yes")]
    pub elementwise_affine: bool,
}

/// `LayerNorm`.
pub struct LayerNorm {
    shape: Vec<i64>,
    affine: Affine,
    eps: f64,
}

impl LayerNorm {
    /// Registers the module and its parameters.
    pub fn new(store: &mut ParamStore, path: &str, a: &LayerNormArgs) -> Result<LayerNorm, String> {
        let shape = a.normalized_shape.expand(1);
        let mut attrs = Map::new();
        attrs.insert("normalized_shape".into(), json!(shape));
        let module = store.module(path, "LayerNorm", attrs);
        let err = |e: TchError| e.to_string();
        let affine = if a.elementwise_affine {
            Affine {
                weight: Some(
                    store
                        .param(module, "weight", init::ones(&shape).map_err(err)?, true)
                        .map_err(err)?,
                ),
                bias: Some(
                    store
                        .param(module, "bias", init::zeros(&shape).map_err(err)?, true)
                        .map_err(err)?,
                ),
            }
        } else {
            Affine {
                weight: None,
                bias: None,
            }
        };
        Ok(LayerNorm {
            shape,
            affine,
            eps: a.eps,
        })
    }
}

impl Layer for LayerNorm {
    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor, TchError> {
        x.f_layer_norm(
            &self.shape,
            self.affine.weight.as_ref(),
            self.affine.bias.as_ref(),
            self.eps,
            true,
        )
    }
}
