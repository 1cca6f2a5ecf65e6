//! MMAction2's 2D backbones: `ResNet` (depth 18 to 152, a 7×7 stem and max-pooling, as
//! torchvision's) and `ResNetTSM`, which shifts a part of the channels one frame back and one
//! frame forward before each residual branch (the Temporal Shift Module), so a 2D network
//! sees motion. Parameter names are MMAction2's (`layer1.0.conv1.conv.weight`; with TSM's
//! `blockres` shift `layer1.0.conv1.conv.net.weight`), so its checkpoints map one to one.

use serde::Deserialize;
use serde_json::{Map, json};
use tch::{TchError, Tensor};

use super::blocks::{
    ConvModule, ConvSpec, LayerCfg, Residual, freeze_stages, freeze_under, norm_trains,
    resnet_common, stage_values,
};
use crate::store::ParamStore;

/// `backbone = { type = "ResNet" | "ResNetTSM", depth = 50, ... }`: MMAction2's keys, plus
/// `base_channels` (weft's: the first stage's width, 64 in MMAction2) for small models.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNetArgs {
    depth: u32,
    pretrained: Option<String>,
    /// Whether `pretrained` has torchvision's names: accepted, and read from the file itself.
    #[allow(
        dead_code,
        reason = "the file's names say which; see recognition/pretrained.rs"
    )]
    torchvision_pretrain: Option<bool>,
    #[serde(default = "three")]
    in_channels: i64,
    #[serde(default = "four")]
    num_stages: usize,
    out_indices: Option<Vec<usize>>,
    strides: Option<Vec<i64>>,
    dilations: Option<Vec<i64>>,
    #[serde(default = "pytorch")]
    style: String,
    #[serde(default = "minus_one")]
    frozen_stages: i64,
    conv_cfg: Option<LayerCfg>,
    norm_cfg: Option<LayerCfg>,
    act_cfg: Option<LayerCfg>,
    #[serde(default)]
    norm_eval: bool,
    #[serde(default)]
    partial_bn: bool,
    #[serde(default)]
    with_cp: bool,
    #[serde(default = "sixty_four")]
    base_channels: i64,
    // ResNetTSM's keys.
    num_segments: Option<i64>,
    is_shift: Option<bool>,
    non_local: Option<Vec<Vec<i64>>>,
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; non_local must be all zeros"
    )]
    non_local_cfg: Option<serde_json::Value>,
    shift_div: Option<i64>,
    shift_place: Option<String>,
    temporal_pool: Option<bool>,
}

fn three() -> i64 {
    3
}
fn four() -> usize {
    4
}
fn pytorch() -> String {
    "pytorch".into()
}
fn minus_one() -> i64 {
    -1
}
fn sixty_four() -> i64 {
    64
}

/// Where TSM shifts channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShiftPlace {
    /// Before the first convolution of each block's residual branch.
    BlockRes,
    /// Before each whole block.
    Block,
}

#[derive(Debug, Clone, Copy)]
struct Shift {
    segments: i64,
    div: i64,
    place: ShiftPlace,
}

/// Shifts `1/div` of the channels one segment back in time and `1/div` one forward, padding
/// with zeros (`TemporalShift.shift`). `x` is `[N × segments, C, H, W]`.
fn temporal_shift(x: &Tensor, segments: i64, div: i64) -> Result<Tensor, TchError> {
    let size = x.size();
    let (c, h, w) = (size[1], size[2], size[3]);
    let v = x.f_view([-1, segments, c, h * w])?;
    let fold = c / div;
    if fold == 0 || segments < 2 {
        return Ok(x.shallow_clone());
    }
    let left = v.f_narrow(2, 0, fold)?;
    let mid = v.f_narrow(2, fold, fold)?;
    let right = v.f_narrow(2, 2 * fold, c - 2 * fold)?;
    let zero = |t: &Tensor| t.f_narrow(1, 0, 1).and_then(|z| z.f_zeros_like());
    // Channels of the first fold take the next frame's values; the second fold the
    // previous frame's.
    let left = Tensor::f_cat(&[left.f_narrow(1, 1, segments - 1)?, zero(&left)?], 1)?;
    let mid = Tensor::f_cat(&[zero(&mid)?, mid.f_narrow(1, 0, segments - 1)?], 1)?;
    Tensor::f_cat(&[left, mid, right], 2)?.f_view([-1, c, h, w])
}

/// A block, with the shift applied before it (or before its branch).
fn block_forward(
    block: &Residual,
    x: &Tensor,
    bn_train: &dyn Fn(&str) -> bool,
    shift: Option<Shift>,
) -> Result<Tensor, TchError> {
    // With `block`, the whole block sees shifted input; with `blockres`, the residual branch
    // does and the identity does not.
    match shift {
        None => block.forward(x, x, bn_train),
        Some(s) => {
            let shifted = temporal_shift(x, s.segments, s.div)?;
            match s.place {
                ShiftPlace::Block => block.forward(&shifted, &shifted, bn_train),
                ShiftPlace::BlockRes => block.forward(&shifted, x, bn_train),
            }
        }
    }
}

/// MMAction2's `ResNet` / `ResNetTSM` backbone.
pub struct ResNet2d {
    /// A file to load the backbone's weights from once it is built.
    pub pretrained: Option<String>,
    conv1: ConvModule,
    stages: Vec<Vec<Residual>>,
    shift: Option<Shift>,
    /// Batch norms that never use batch statistics (`norm_eval`, frozen stages, `partial_bn`).
    eval_norms: Vec<String>,
    norm_eval: bool,
    /// Channels of the output feature.
    pub feat_dim: i64,
}

impl ResNet2d {
    /// Registers the backbone under `prefix` (`backbone`); `tsm` selects `ResNetTSM`.
    pub fn new(
        store: &mut ParamStore,
        prefix: &str,
        a: &ResNetArgs,
        tsm: bool,
    ) -> Result<ResNet2d, String> {
        let (bottleneck, blocks) = resnet_common!(a).check()?;
        let n = a.num_stages;
        let [strides, dilations]: [Vec<i64>; 2] = stage_values(
            n,
            &[
                ("strides", a.strides.as_ref(), &[1, 2, 2, 2]),
                ("dilations", a.dilations.as_ref(), &[1, 1, 1, 1]),
            ],
        )?
        .try_into()
        .expect("two lists");
        LayerCfg::check_conv(a.conv_cfg.as_ref(), 2)?;
        let norms_train = LayerCfg::check_norm(a.norm_cfg.as_ref(), 2)?;
        LayerCfg::check_act(a.act_cfg.as_ref())?;
        let shift = if tsm {
            let segments = a.num_segments.unwrap_or(8);
            let div = a.shift_div.unwrap_or(8);
            if !(1..=1024).contains(&segments) || !(2..=1024).contains(&div) {
                return Err("num_segments must be 1-1024 and shift_div 2-1024".into());
            }
            if a.non_local
                .as_ref()
                .is_some_and(|s| s.iter().flatten().any(|&v| v != 0))
            {
                return Err(
                    "non-local blocks are not supported: non_local must be all zeros".into(),
                );
            }
            if a.temporal_pool == Some(true) {
                return Err("temporal_pool = true is not supported".into());
            }
            let place = match a.shift_place.as_deref().unwrap_or("blockres") {
                "blockres" => ShiftPlace::BlockRes,
                "block" => ShiftPlace::Block,
                other => {
                    return Err(format!(
                        "shift_place must be \"blockres\" or \"block\", not {other:?}"
                    ));
                }
            };
            (a.is_shift != Some(false)).then_some(Shift {
                segments,
                div,
                place,
            })
        } else {
            if a.num_segments.is_some()
                || a.is_shift.is_some()
                || a.shift_div.is_some()
                || a.shift_place.is_some()
                || a.non_local.is_some()
                || a.temporal_pool.is_some()
            {
                return Err(
                    "num_segments, shift_div and the other shift keys belong to ResNetTSM".into(),
                );
            }
            None
        };
        let kind = if tsm { "ResNetTSM" } else { "ResNet" };
        let mut attrs = Map::new();
        attrs.insert("depth".into(), json!(a.depth));
        store.module(prefix, kind, attrs);
        let p = |s: &str| format!("{prefix}.{s}");
        let c = a.base_channels;
        let conv1 = ConvModule::new(
            store,
            &p("conv1"),
            &ConvSpec::square(2, a.in_channels, c, 7, 2, 3),
            true,
        )?;
        let expansion = if bottleneck { 4 } else { 1 };
        let mut inplanes = c;
        let mut stages = Vec::new();
        for (i, &count) in blocks[..n].iter().enumerate() {
            let planes = c << i;
            let layer = p(&format!("layer{}", i + 1));
            store.module(&layer, "Sequential", Map::new());
            let mut stage = Vec::new();
            for b in 0..count {
                let stride = if b == 0 { strides[i] } else { 1 };
                let dilation = dilations[i];
                // With the `block` shift the block is wrapped: its modules sit under `.net`.
                let path = match shift.map(|s| s.place) {
                    Some(ShiftPlace::Block) => format!("{layer}.{b}.net"),
                    _ => format!("{layer}.{b}"),
                };
                let downsample = if b == 0 && (stride != 1 || inplanes != planes * expansion) {
                    Some(ConvModule::new(
                        store,
                        &format!("{path}.downsample"),
                        &ConvSpec::square(2, inplanes, planes * expansion, 1, stride, 0),
                        false,
                    )?)
                } else {
                    None
                };
                let block_kind = if bottleneck {
                    "Bottleneck"
                } else {
                    "BasicBlock"
                };
                store.module(&path, block_kind, Map::new());
                // The residual branch's first conv, wrapped by `blockres` shifts (named
                // `.conv1.conv.net` then, as in MMAction2).
                let blockres = shift.is_some_and(|s| s.place == ShiftPlace::BlockRes);
                let first = |store: &mut ParamStore, spec: &ConvSpec| {
                    ConvModule::wrapped(store, &format!("{path}.conv1"), spec, true, blockres)
                };
                let block = if bottleneck {
                    let (s1, s2) = if a.style == "pytorch" {
                        (1, stride)
                    } else {
                        (stride, 1)
                    };
                    let conv1 = first(store, &ConvSpec::square(2, inplanes, planes, 1, s1, 0))?;
                    let mut spec2 = ConvSpec::square(2, planes, planes, 3, s2, dilation);
                    spec2.dilation = vec![dilation; 2];
                    let conv2 = ConvModule::new(store, &format!("{path}.conv2"), &spec2, true)?;
                    let conv3 = ConvModule::new(
                        store,
                        &format!("{path}.conv3"),
                        &ConvSpec::square(2, planes, planes * 4, 1, 1, 0),
                        false,
                    )?;
                    Residual {
                        convs: vec![conv1, conv2, conv3],
                        downsample,
                    }
                } else {
                    let mut spec1 = ConvSpec::square(2, inplanes, planes, 3, stride, dilation);
                    spec1.dilation = vec![dilation; 2];
                    let conv1 = first(store, &spec1)?;
                    let conv2 = ConvModule::new(
                        store,
                        &format!("{path}.conv2"),
                        &ConvSpec::square(2, planes, planes, 3, 1, 1),
                        false,
                    )?;
                    Residual {
                        convs: vec![conv1, conv2],
                        downsample,
                    }
                };
                stage.push(block);
                inplanes = planes * expansion;
            }
            stages.push(stage);
        }
        let mut eval_norms = freeze_stages(store, prefix, a.frozen_stages, norms_train);
        if a.partial_bn {
            // Every batch norm but the first stays in eval mode with fixed scale and shift.
            freeze_under(store, &format!("{prefix}.layer"), |n| n.contains(".bn."));
            eval_norms.push(p("layer"));
        }
        Ok(ResNet2d {
            pretrained: a.pretrained.clone(),
            conv1,
            stages,
            shift,
            eval_norms,
            norm_eval: a.norm_eval,
            feat_dim: (c << (n - 1)) * expansion,
        })
    }

    /// The feature map of a batch of frames `[N × segments, C, H, W]`.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        // A batch norm uses batch statistics only in training, and not under `norm_eval` or
        // in a frozen stage (MMAction2's `train()` override puts those in eval mode).
        let bn_train = |path: &str| norm_trains(train, self.norm_eval, &self.eval_norms, path);
        let x = self.conv1.forward(x, bn_train(&self.conv1.path))?;
        let mut x = x.f_max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false)?;
        for stage in &self.stages {
            for block in stage {
                x = block_forward(block, &x, &bn_train, self.shift)?;
            }
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shift_moves_one_fold_back_one_forward_and_zero_pads() {
        // 1 clip of 3 segments, 4 channels, 1x1 pixels; value = 10 * segment + channel.
        let x = Tensor::from_slice(
            &(0..12)
                .map(|i| (10 * (i / 4) + i % 4) as f32)
                .collect::<Vec<_>>(),
        )
        .view([3, 4, 1, 1]);
        let y = temporal_shift(&x, 3, 4).unwrap();
        let v = Vec::<f32>::try_from(y.flatten(0, -1)).unwrap();
        // Channel 0 takes the next segment's, channel 1 the previous one's; 2 and 3 stay.
        assert_eq!(
            v,
            vec![
                10.0, 0.0, 2.0, 3.0, 20.0, 1.0, 12.0, 13.0, 0.0, 11.0, 22.0, 23.0
            ]
        );
    }
}
