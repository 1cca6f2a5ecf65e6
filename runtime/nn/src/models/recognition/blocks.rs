//! The pieces MMAction2's backbones are made of: MMCV's `ConvModule` (convolution, batch
//! norm, optional ReLU, named `conv` and `bn`), their initialisation, and the shared settings
//! (`norm_eval`, frozen stages) that decide whether a batch norm uses batch statistics.

use serde::Deserialize;
use serde_json::Map;
use tch::{TchError, Tensor};

use crate::layers::{BatchNorm, BatchNormArgs, Conv, ConvArgs, IntOrList, Layer};
use crate::store::ParamStore;

/// A convolution's geometry, per dimension.
#[derive(Debug, Clone)]
pub struct ConvSpec {
    /// Input channels.
    pub inputs: i64,
    /// Output channels.
    pub outputs: i64,
    /// Kernel size.
    pub kernel: Vec<i64>,
    /// Stride.
    pub stride: Vec<i64>,
    /// Zero padding.
    pub padding: Vec<i64>,
    /// Dilation.
    pub dilation: Vec<i64>,
}

impl ConvSpec {
    /// A square (or cubic) kernel of `k` with stride `s` and padding `p` in `dims` dimensions.
    pub fn square(dims: usize, inputs: i64, outputs: i64, k: i64, s: i64, p: i64) -> ConvSpec {
        ConvSpec {
            inputs,
            outputs,
            kernel: vec![k; dims],
            stride: vec![s; dims],
            padding: vec![p; dims],
            dilation: vec![1; dims],
        }
    }
}

/// `ConvModule`: `conv` (no bias) then `bn`, then ReLU unless `act` is false.
pub struct ConvModule {
    /// The convolution.
    pub conv: Conv,
    /// The batch norm.
    pub bn: BatchNorm,
    act: bool,
    /// The module path (`layer1.0.conv1`).
    pub path: String,
}

impl ConvModule {
    /// Registers `{path}.conv` and `{path}.bn`; the weights start as MMCV initialises a
    /// backbone trained from scratch (Kaiming normal, fan-out; batch-norm scale 1, shift 0).
    pub fn new(
        store: &mut ParamStore,
        path: &str,
        spec: &ConvSpec,
        act: bool,
    ) -> Result<ConvModule, String> {
        ConvModule::wrapped(store, path, spec, act, false)
    }

    /// [`ConvModule::new`], with the convolution wrapped by TSM's temporal shift when
    /// `shifted`: MMAction2 then names it `{path}.conv.net`.
    pub fn wrapped(
        store: &mut ParamStore,
        path: &str,
        spec: &ConvSpec,
        act: bool,
        shifted: bool,
    ) -> Result<ConvModule, String> {
        let dims = spec.kernel.len();
        store.module(path, "ConvModule", Map::new());
        let conv_path = if shifted {
            store.module(&format!("{path}.conv"), "TemporalShift", Map::new());
            format!("{path}.conv.net")
        } else {
            format!("{path}.conv")
        };
        let conv = Conv::new(
            store,
            &conv_path,
            dims,
            &ConvArgs {
                in_channels: spec.inputs,
                out_channels: spec.outputs,
                kernel_size: IntOrList::Many(spec.kernel.clone()),
                stride: Some(IntOrList::Many(spec.stride.clone())),
                padding: Some(IntOrList::Many(spec.padding.clone())),
                dilation: Some(IntOrList::Many(spec.dilation.clone())),
                groups: 1,
                bias: false,
            },
        )?;
        let fan_out = spec.outputs * spec.kernel.iter().product::<i64>();
        let std = (2.0 / fan_out.max(1) as f64).sqrt();
        tch::no_grad(|| conv.weight().shallow_clone().f_normal_(0.0, std).map(drop))
            .map_err(|e| e.to_string())?;
        let bn = BatchNorm::new(
            store,
            &format!("{path}.bn"),
            dims,
            &BatchNormArgs {
                num_features: spec.outputs,
                eps: 1e-5,
                momentum: 0.1,
                affine: None,
                track_running_stats: None,
            },
        )?;
        Ok(ConvModule {
            conv,
            bn,
            act,
            path: path.to_string(),
        })
    }

    /// Sets the batch norm's scale to zero (`zero_init_residual`: a residual block starts as
    /// the identity).
    pub fn zero_scale(&self) -> Result<(), String> {
        if let Some(w) = self.bn.weight() {
            tch::no_grad(|| w.shallow_clone().f_zero_().map(drop)).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Convolution, normalisation (batch statistics when `train`), activation.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let y = self.bn.forward(&self.conv.forward(x, train)?, train)?;
        if self.act { y.f_relu() } else { Ok(y) }
    }
}

/// MMCV's `conv_cfg`, `norm_cfg` and `act_cfg` as configs write them: only the standard
/// choices are built, and anything else is refused by name.
#[derive(Debug, Clone, Deserialize)]
pub struct LayerCfg {
    /// The layer type (`Conv`, `Conv2d`, `Conv3d`, `BN`, `BN2d`, `BN3d`, `SyncBN`, `ReLU`).
    #[serde(rename = "type")]
    pub kind: String,
    /// `norm_cfg`'s switch: train the norm's scale and shift (default true).
    pub requires_grad: Option<bool>,
    /// `act_cfg`'s `inplace` (no effect in weft).
    #[allow(
        dead_code,
        reason = "accepted for MMCV configs; weft does not compute in place"
    )]
    pub inplace: Option<bool>,
}

impl LayerCfg {
    /// Checks a `conv_cfg`.
    pub fn check_conv(cfg: Option<&LayerCfg>, dims: usize) -> Result<(), String> {
        match cfg.map(|c| c.kind.as_str()) {
            None | Some("Conv") => Ok(()),
            Some("Conv2d") if dims == 2 => Ok(()),
            Some("Conv3d") if dims == 3 => Ok(()),
            Some(other) => Err(format!(
                "conv_cfg type {other:?} is not supported here: use \"Conv{dims}d\""
            )),
        }
    }

    /// Checks a `norm_cfg`; returns whether the norms' parameters train. `SyncBN` is batch
    /// norm within the one process weft trains in.
    pub fn check_norm(cfg: Option<&LayerCfg>, dims: usize) -> Result<bool, String> {
        let Some(c) = cfg else { return Ok(true) };
        match c.kind.as_str() {
            "BN" | "SyncBN" => {}
            "BN2d" if dims == 2 => {}
            "BN3d" if dims == 3 => {}
            other => {
                return Err(format!(
                    "norm_cfg type {other:?} is not supported here: use \"BN{dims}d\""
                ));
            }
        }
        Ok(c.requires_grad.unwrap_or(true))
    }

    /// Checks an `act_cfg`.
    pub fn check_act(cfg: Option<&LayerCfg>) -> Result<(), String> {
        match cfg.map(|c| c.kind.as_str()) {
            None | Some("ReLU") => Ok(()),
            Some(other) => Err(format!(
                "act_cfg type {other:?} is not supported: use \"ReLU\""
            )),
        }
    }
}

/// A residual block: its branch of convolutions, and a projection of the identity when the
/// shape changes. The last convolution has no activation; the sum goes through ReLU.
pub struct Residual {
    /// The branch.
    pub convs: Vec<ConvModule>,
    /// The identity's projection.
    pub downsample: Option<ConvModule>,
}

impl Residual {
    /// `relu(branch(x) + identity(y))` (`x` and `y` differ where TSM shifts the branch only);
    /// `bn_train` says which norms use batch statistics.
    pub fn forward(
        &self,
        x: &Tensor,
        y: &Tensor,
        bn_train: &dyn Fn(&str) -> bool,
    ) -> Result<Tensor, TchError> {
        let mut out = x.shallow_clone();
        for c in &self.convs {
            out = c.forward(&out, bn_train(&c.path))?;
        }
        let identity = match &self.downsample {
            Some(d) => d.forward(y, bn_train(&d.path))?,
            None => y.shallow_clone(),
        };
        out.f_add(&identity)?.f_relu()
    }
}

/// Stops training every parameter under `prefix` (frozen stages, norms without
/// `requires_grad`).
pub fn freeze_under(store: &mut ParamStore, prefix: &str, only: impl Fn(&str) -> bool) {
    let names: Vec<String> = store
        .params()
        .iter()
        .filter(|p| p.name.starts_with(prefix) && only(&p.name))
        .map(|p| p.name.clone())
        .collect();
    for n in names {
        store.freeze(&n);
    }
}

/// The [`ResNetCommon`] view of a 2D or 3D ResNet's arguments. The two argument structs are
/// separate serde types (`deny_unknown_fields` rules out a flattened shared part), so the
/// shared keys are read by name.
macro_rules! resnet_common {
    ($a:expr) => {
        $crate::models::recognition::blocks::ResNetCommon {
            depth: $a.depth,
            num_stages: $a.num_stages,
            out_indices: $a.out_indices.as_deref(),
            style: &$a.style,
            with_cp: $a.with_cp,
            frozen_stages: $a.frozen_stages,
            base_channels: $a.base_channels,
            in_channels: $a.in_channels,
        }
    };
}
pub(crate) use resnet_common;

/// What both ResNet families check alike.
pub struct ResNetCommon<'a> {
    /// `depth`.
    pub depth: u32,
    /// `num_stages`.
    pub num_stages: usize,
    /// `out_indices`.
    pub out_indices: Option<&'a [usize]>,
    /// `style`.
    pub style: &'a str,
    /// `with_cp`.
    pub with_cp: bool,
    /// `frozen_stages`.
    pub frozen_stages: i64,
    /// `base_channels`.
    pub base_channels: i64,
    /// `in_channels`.
    pub in_channels: i64,
}

impl ResNetCommon<'_> {
    /// Checks the settings; returns whether the blocks are bottlenecks and the blocks per
    /// stage (MMAction2's `arch_settings`).
    pub fn check(&self) -> Result<(bool, [usize; 4]), String> {
        let arch = match self.depth {
            18 => (false, [2, 2, 2, 2]),
            34 => (false, [3, 4, 6, 3]),
            50 => (true, [3, 4, 6, 3]),
            101 => (true, [3, 4, 23, 3]),
            152 => (true, [3, 8, 36, 3]),
            d => return Err(format!("depth {d} is not one of 18, 34, 50, 101, 152")),
        };
        let n = self.num_stages;
        if !(1..=4).contains(&n) {
            return Err(format!("num_stages must be 1-4, not {n}"));
        }
        if let Some(o) = self.out_indices
            && o != [n - 1]
        {
            return Err(format!(
                "out_indices must be [{}] (the last stage's feature, what a recognizer head takes)",
                n - 1
            ));
        }
        if self.style != "pytorch" && self.style != "caffe" {
            return Err(format!(
                "style must be \"pytorch\" or \"caffe\", not {:?}",
                self.style
            ));
        }
        if self.with_cp {
            return Err("with_cp (activation checkpointing) is not supported".into());
        }
        if !(-1..=n as i64).contains(&self.frozen_stages) {
            return Err(format!(
                "frozen_stages must be -1-{n}, not {}",
                self.frozen_stages
            ));
        }
        if !(1..=1024).contains(&self.base_channels) || !(1..=64).contains(&self.in_channels) {
            return Err("base_channels must be 1-1024 and in_channels 1-64".into());
        }
        Ok(arch)
    }
}

/// A per-stage setting: its key, the config's value if given, and MMAction2's default.
pub type StageSetting<'a> = (&'a str, Option<&'a Vec<i64>>, &'a [i64]);

/// Per-stage values (`strides`, `dilations`...), each given or defaulted, `n` of each, 1-8.
pub fn stage_values(n: usize, lists: &[StageSetting<'_>]) -> Result<Vec<Vec<i64>>, String> {
    lists
        .iter()
        .map(|(name, given, default)| {
            let v = given.cloned().unwrap_or_else(|| default[..n].to_vec());
            if v.len() != n {
                return Err(format!("{name} needs {n} values (num_stages)"));
            }
            if v.iter().any(|x| !(1..=8).contains(x)) {
                return Err(format!("{name} must be 1-8, not {v:?}"));
            }
            Ok(v)
        })
        .collect()
}

/// Freezes the stem and the first `frozen_stages` stages (and every norm's scale and shift
/// when `norms_train` is false); returns the module prefixes whose norms stay in eval mode.
pub fn freeze_stages(
    store: &mut ParamStore,
    prefix: &str,
    frozen_stages: i64,
    norms_train: bool,
) -> Vec<String> {
    let mut eval = Vec::new();
    if frozen_stages >= 0 {
        freeze_under(store, &format!("{prefix}.conv1."), |_| true);
        eval.push(format!("{prefix}.conv1"));
    }
    for i in 1..=frozen_stages.max(0) {
        let layer = format!("{prefix}.layer{i}");
        freeze_under(store, &format!("{layer}."), |_| true);
        eval.push(layer);
    }
    if !norms_train {
        freeze_under(store, &format!("{prefix}."), |n| n.contains(".bn."));
    }
    eval
}

/// Whether a norm at `path` uses batch statistics: only in training, and not under
/// `norm_eval` or in a module kept in eval mode (MMAction2's `train()` overrides).
pub fn norm_trains(train: bool, norm_eval: bool, eval_prefixes: &[String], path: &str) -> bool {
    train && !norm_eval && !eval_prefixes.iter().any(|p| path.starts_with(p.as_str()))
}
