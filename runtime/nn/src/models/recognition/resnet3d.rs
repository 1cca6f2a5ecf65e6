//! MMAction2's 3D backbones: `ResNet3d` (I3D: a ResNet whose kernels are inflated in time,
//! stage by stage and block by block) and `ResNet3dSlowOnly` (the same with other defaults:
//! a 1×7×7 stem, only the last two stages inflated, no second pooling). Parameter names are
//! MMAction2's (`layer1.0.conv1.conv.weight`).

use serde::Deserialize;
use serde_json::{Map, json};
use tch::{TchError, Tensor};

use super::blocks::{
    ConvModule, ConvSpec, LayerCfg, Residual, freeze_stages, norm_trains, resnet_common,
    stage_values,
};
use crate::store::ParamStore;

/// A per-stage setting given for the whole stage or per block.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum PerBlock {
    Stage(i64),
    Blocks(Vec<i64>),
}

/// A value or a triple (`_triple`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Triple {
    One(i64),
    Three([i64; 3]),
}

impl Triple {
    fn get(&self) -> [i64; 3] {
        match self {
            Triple::One(v) => [*v; 3],
            Triple::Three(t) => *t,
        }
    }
}

/// `backbone = { type = "ResNet3d" | "ResNet3dSlowOnly", depth = 50, ... }` with MMAction2's
/// keys and defaults (the SlowOnly defaults where they differ).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNet3dArgs {
    depth: u32,
    pretrained: Option<String>,
    /// Inflate a 2D checkpoint given as `pretrained` over time (MMAction2's default: true).
    pretrained2d: Option<bool>,
    stage_blocks: Option<Vec<usize>>,
    #[serde(default = "three")]
    in_channels: i64,
    #[serde(default = "four")]
    num_stages: usize,
    #[serde(default = "sixty_four")]
    base_channels: i64,
    out_indices: Option<Vec<usize>>,
    spatial_strides: Option<Vec<i64>>,
    temporal_strides: Option<Vec<i64>>,
    dilations: Option<Vec<i64>>,
    conv1_kernel: Option<Triple>,
    #[serde(default = "two")]
    conv1_stride_s: i64,
    #[serde(default = "one")]
    conv1_stride_t: i64,
    #[serde(default = "two")]
    pool1_stride_s: i64,
    #[serde(default = "one")]
    pool1_stride_t: i64,
    #[serde(default = "yes")]
    with_pool1: bool,
    with_pool2: Option<bool>,
    #[serde(default = "pytorch")]
    style: String,
    #[serde(default = "minus_one")]
    frozen_stages: i64,
    inflate: Option<Vec<PerBlock>>,
    #[serde(default = "three_one_one")]
    inflate_style: String,
    conv_cfg: Option<LayerCfg>,
    norm_cfg: Option<LayerCfg>,
    act_cfg: Option<LayerCfg>,
    #[serde(default)]
    norm_eval: bool,
    #[serde(default)]
    with_cp: bool,
    non_local: Option<Vec<PerBlock>>,
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; non_local must be all zeros"
    )]
    non_local_cfg: Option<serde_json::Value>,
    #[serde(default = "yes")]
    zero_init_residual: bool,
    /// SlowFast's pathway switch; only `false` (SlowOnly) is built.
    lateral: Option<bool>,
}

fn three() -> i64 {
    3
}
fn four() -> usize {
    4
}
fn sixty_four() -> i64 {
    64
}
fn one() -> i64 {
    1
}
fn two() -> i64 {
    2
}
fn yes() -> bool {
    true
}
fn minus_one() -> i64 {
    -1
}
fn pytorch() -> String {
    "pytorch".into()
}
fn three_one_one() -> String {
    "3x1x1".into()
}

/// MMAction2's `ResNet3d` / `ResNet3dSlowOnly`.
pub struct ResNet3d {
    /// A file to load the backbone's weights from once it is built.
    pub pretrained: Option<String>,
    /// Whether that file's 2D kernels are inflated over time.
    pub pretrained2d: bool,
    conv1: ConvModule,
    pool1: Option<[i64; 3]>,
    with_pool2: bool,
    stages: Vec<Vec<Residual>>,
    eval_norms: Vec<String>,
    norm_eval: bool,
    /// Channels of the output feature.
    pub feat_dim: i64,
}

fn expand(
    per: Option<&Vec<PerBlock>>,
    stages: usize,
    blocks: &[usize],
    default: &[i64],
) -> Result<Vec<Vec<i64>>, String> {
    let per: Vec<PerBlock> = match per {
        Some(v) if v.len() == 1 => vec![v[0].clone(); stages],
        Some(v) => v.clone(),
        None => default.iter().map(|&d| PerBlock::Stage(d)).collect(),
    };
    if per.len() < stages {
        return Err(format!("a per-stage setting needs {stages} values"));
    }
    per.iter()
        .zip(blocks)
        .map(|(p, &n)| match p {
            PerBlock::Stage(v) => Ok(vec![*v; n]),
            PerBlock::Blocks(v) if v.len() == n => Ok(v.clone()),
            PerBlock::Blocks(v) => Err(format!(
                "a stage of {n} blocks got {} per-block values",
                v.len()
            )),
        })
        .collect()
}

impl ResNet3d {
    /// Registers the backbone under `prefix`; `slow_only` selects `ResNet3dSlowOnly`'s
    /// defaults.
    pub fn new(
        store: &mut ParamStore,
        prefix: &str,
        a: &ResNet3dArgs,
        slow_only: bool,
    ) -> Result<ResNet3d, String> {
        let (bottleneck, default_blocks) = resnet_common!(a).check()?;
        let n = a.num_stages;
        let blocks: Vec<usize> = match &a.stage_blocks {
            Some(b) if b.len() == n && b.iter().all(|&c| (1..=64).contains(&c)) => b.clone(),
            Some(_) => return Err(format!("stage_blocks needs {n} counts of 1-64")),
            None => default_blocks[..n].to_vec(),
        };
        let [spatial, temporal, dilations]: [Vec<i64>; 3] = stage_values(
            n,
            &[
                ("spatial_strides", a.spatial_strides.as_ref(), &[1, 2, 2, 2]),
                (
                    "temporal_strides",
                    a.temporal_strides.as_ref(),
                    &[1, 1, 1, 1],
                ),
                ("dilations", a.dilations.as_ref(), &[1, 1, 1, 1]),
            ],
        )?
        .try_into()
        .expect("three lists");
        if a.inflate_style != "3x1x1" && a.inflate_style != "3x3x3" {
            return Err(format!(
                "inflate_style must be \"3x1x1\" or \"3x3x3\", not {:?}",
                a.inflate_style
            ));
        }
        if a.lateral == Some(true) {
            return Err("lateral connections (SlowFast) are not supported".into());
        }
        LayerCfg::check_conv(a.conv_cfg.as_ref(), 3)?;
        let norms_train = LayerCfg::check_norm(a.norm_cfg.as_ref(), 3)?;
        LayerCfg::check_act(a.act_cfg.as_ref())?;
        let default_inflate: &[i64] = if slow_only {
            &[0, 0, 1, 1]
        } else {
            &[1, 1, 1, 1]
        };
        let inflate = expand(a.inflate.as_ref(), n, &blocks, default_inflate)?;
        let non_local = expand(a.non_local.as_ref(), n, &blocks, &[0, 0, 0, 0])?;
        if non_local.iter().flatten().any(|&v| v != 0) {
            return Err("non-local blocks are not supported: non_local must be all zeros".into());
        }
        let kind = if slow_only {
            "ResNet3dSlowOnly"
        } else {
            "ResNet3d"
        };
        let mut attrs = Map::new();
        attrs.insert("depth".into(), json!(a.depth));
        store.module(prefix, kind, attrs);
        let p = |s: &str| format!("{prefix}.{s}");
        let c = a.base_channels;
        let k = a
            .conv1_kernel
            .clone()
            .map_or(if slow_only { [1, 7, 7] } else { [3, 7, 7] }, |t| t.get());
        let conv1 = ConvModule::new(
            store,
            &p("conv1"),
            &ConvSpec {
                inputs: a.in_channels,
                outputs: c,
                kernel: k.to_vec(),
                stride: vec![a.conv1_stride_t, a.conv1_stride_s, a.conv1_stride_s],
                padding: k.iter().map(|k| (k - 1) / 2).collect(),
                dilation: vec![1; 3],
            },
            true,
        )?;
        let expansion = if bottleneck { 4 } else { 1 };
        let mut inplanes = c;
        let mut stages = Vec::new();
        for i in 0..n {
            let planes = c << i;
            let layer = p(&format!("layer{}", i + 1));
            store.module(&layer, "Sequential", Map::new());
            let mut stage = Vec::new();
            for (b, &flag) in inflate[i].iter().enumerate() {
                let path = format!("{layer}.{b}");
                let (ss, ts) = if b == 0 {
                    (spatial[i], temporal[i])
                } else {
                    (1, 1)
                };
                let d = dilations[i];
                // MMAction2 adds a projection for a spatial stride or a width change only.
                let downsample = if b == 0 && (ss != 1 || inplanes != planes * expansion) {
                    Some(ConvModule::new(
                        store,
                        &format!("{path}.downsample"),
                        &ConvSpec {
                            inputs: inplanes,
                            outputs: planes * expansion,
                            kernel: vec![1; 3],
                            stride: vec![ts, ss, ss],
                            padding: vec![0; 3],
                            dilation: vec![1; 3],
                        },
                        false,
                    )?)
                } else {
                    None
                };
                store.module(
                    &path,
                    if bottleneck {
                        "Bottleneck3d"
                    } else {
                        "BasicBlock3d"
                    },
                    Map::new(),
                );
                let inflated = flag == 1;
                let spec = |inputs,
                            outputs,
                            kernel: [i64; 3],
                            stride: [i64; 3],
                            padding: [i64; 3],
                            dil: [i64; 3]| ConvSpec {
                    inputs,
                    outputs,
                    kernel: kernel.to_vec(),
                    stride: stride.to_vec(),
                    padding: padding.to_vec(),
                    dilation: dil.to_vec(),
                };
                let convs = if bottleneck {
                    let (s1, s2) = if a.style == "pytorch" {
                        ([1, 1, 1], [ts, ss, ss])
                    } else {
                        ([ts, ss, ss], [1, 1, 1])
                    };
                    let (k1, p1, k2, p2) = match (inflated, a.inflate_style.as_str()) {
                        (true, "3x1x1") => ([3, 1, 1], [1, 0, 0], [1, 3, 3], [0, d, d]),
                        (true, _) => ([1, 1, 1], [0, 0, 0], [3, 3, 3], [1, d, d]),
                        (false, _) => ([1, 1, 1], [0, 0, 0], [1, 3, 3], [0, d, d]),
                    };
                    vec![
                        ConvModule::new(
                            store,
                            &format!("{path}.conv1"),
                            &spec(inplanes, planes, k1, s1, p1, [1, 1, 1]),
                            true,
                        )?,
                        ConvModule::new(
                            store,
                            &format!("{path}.conv2"),
                            &spec(planes, planes, k2, s2, p2, [1, d, d]),
                            true,
                        )?,
                        ConvModule::new(
                            store,
                            &format!("{path}.conv3"),
                            &spec(
                                planes,
                                planes * 4,
                                [1, 1, 1],
                                [1, 1, 1],
                                [0, 0, 0],
                                [1, 1, 1],
                            ),
                            false,
                        )?,
                    ]
                } else {
                    let (k, p1, p2) = if inflated {
                        ([3, 3, 3], [1, d, d], [1, 1, 1])
                    } else {
                        ([1, 3, 3], [0, d, d], [0, 1, 1])
                    };
                    vec![
                        ConvModule::new(
                            store,
                            &format!("{path}.conv1"),
                            &spec(inplanes, planes, k, [ts, ss, ss], p1, [1, d, d]),
                            true,
                        )?,
                        ConvModule::new(
                            store,
                            &format!("{path}.conv2"),
                            &spec(planes, planes, k, [1, 1, 1], p2, [1, 1, 1]),
                            false,
                        )?,
                    ]
                };
                if a.zero_init_residual {
                    // Each block starts as the identity (its last norm scales by zero).
                    convs[convs.len() - 1].zero_scale()?;
                }
                stage.push(Residual { convs, downsample });
                inplanes = planes * expansion;
            }
            stages.push(stage);
        }
        let eval_norms = freeze_stages(store, prefix, a.frozen_stages, norms_train);
        Ok(ResNet3d {
            pretrained: a.pretrained.clone(),
            pretrained2d: a.pretrained2d.unwrap_or(true),
            conv1,
            pool1: a
                .with_pool1
                .then_some([a.pool1_stride_t, a.pool1_stride_s, a.pool1_stride_s]),
            with_pool2: a.with_pool2.unwrap_or(!slow_only),
            stages,
            eval_norms,
            norm_eval: a.norm_eval,
            feat_dim: (c << (n - 1)) * expansion,
        })
    }

    /// The feature volume of clips `[N, C, T, H, W]`.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let bn_train = |path: &str| norm_trains(train, self.norm_eval, &self.eval_norms, path);
        let mut x = self.conv1.forward(x, bn_train(&self.conv1.path))?;
        if let Some(stride) = self.pool1 {
            x = x.f_max_pool3d([1, 3, 3], stride, [0, 1, 1], [1, 1, 1], false)?;
        }
        for (i, stage) in self.stages.iter().enumerate() {
            for block in stage {
                x = block.forward(&x, &x, &bn_train)?;
            }
            if i == 0 && self.with_pool2 {
                x = x.f_max_pool3d([2, 1, 1], [2, 1, 1], [0, 0, 0], [1, 1, 1], false)?;
            }
        }
        Ok(x)
    }
}
