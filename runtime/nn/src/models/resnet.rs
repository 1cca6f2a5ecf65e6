//! A ResNet for small images (28×28 or 32×32): a 3×3 stem without max-pooling, then the
//! four stages of BasicBlocks of ResNet-18/34, global average pooling and a linear head.
//! Parameter names follow torchvision (`layer1.0.conv1.weight`, `fc.bias`).

use serde::Deserialize;
use serde_json::Map;
use tch::{TchError, Tensor};

use super::Network;
use crate::layers::{
    BatchNorm, BatchNormArgs, Conv, ConvArgs, IntOrList, Layer, Linear, LinearArgs,
};
use crate::store::ParamStore;

/// `{ type = "ResNet", depth = 18, ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNetArgs {
    /// 18 or 34.
    pub depth: u32,
    /// Input channels (default 1).
    #[serde(default = "one")]
    pub in_channels: i64,
    /// Classes (default 10).
    #[serde(default = "ten")]
    pub num_classes: i64,
    /// Channels of the first stage (default 64; later stages double it).
    #[serde(default = "sixty_four")]
    pub base_channels: i64,
}

fn one() -> i64 {
    1
}
fn ten() -> i64 {
    10
}
fn sixty_four() -> i64 {
    64
}

struct Block {
    conv1: Conv,
    bn1: BatchNorm,
    conv2: Conv,
    bn2: BatchNorm,
    downsample: Option<(Conv, BatchNorm)>,
}

fn conv(i: i64, o: i64, k: i64, stride: i64, pad: i64) -> ConvArgs {
    ConvArgs {
        in_channels: i,
        out_channels: o,
        kernel_size: IntOrList::One(k),
        stride: Some(IntOrList::One(stride)),
        padding: Some(IntOrList::One(pad)),
        dilation: None,
        groups: 1,
        bias: false,
    }
}

fn bn(n: i64) -> BatchNormArgs {
    BatchNormArgs {
        num_features: n,
        eps: 1e-5,
        momentum: 0.1,
        affine: None,
        track_running_stats: None,
    }
}

impl Block {
    fn new(
        store: &mut ParamStore,
        path: &str,
        i: i64,
        o: i64,
        stride: i64,
    ) -> Result<Block, String> {
        store.module(path, "BasicBlock", Map::new());
        let downsample = if stride != 1 || i != o {
            Some((
                Conv::new(
                    store,
                    &format!("{path}.downsample.0"),
                    2,
                    &conv(i, o, 1, stride, 0),
                )?,
                BatchNorm::new(store, &format!("{path}.downsample.1"), 2, &bn(o))?,
            ))
        } else {
            None
        };
        Ok(Block {
            conv1: Conv::new(
                store,
                &format!("{path}.conv1"),
                2,
                &conv(i, o, 3, stride, 1),
            )?,
            bn1: BatchNorm::new(store, &format!("{path}.bn1"), 2, &bn(o))?,
            conv2: Conv::new(store, &format!("{path}.conv2"), 2, &conv(o, o, 3, 1, 1))?,
            bn2: BatchNorm::new(store, &format!("{path}.bn2"), 2, &bn(o))?,
            downsample,
        })
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let out = self
            .bn1
            .forward(&self.conv1.forward(x, train)?, train)?
            .f_relu()?;
        let out = self.bn2.forward(&self.conv2.forward(&out, train)?, train)?;
        let identity = match &self.downsample {
            Some((c, b)) => b.forward(&c.forward(x, train)?, train)?,
            None => x.shallow_clone(),
        };
        out.f_add(&identity)?.f_relu()
    }
}

/// ResNet-18/34 for small inputs.
pub struct ResNet {
    conv1: Conv,
    bn1: BatchNorm,
    blocks: Vec<Block>,
    fc: Linear,
}

impl ResNet {
    /// Registers the network's parameters.
    pub fn new(store: &mut ParamStore, a: &ResNetArgs) -> Result<ResNet, String> {
        let layers: [usize; 4] = match a.depth {
            18 => [2, 2, 2, 2],
            34 => [3, 4, 6, 3],
            d => return Err(format!("ResNet depth {d} is not supported; use 18 or 34")),
        };
        store.module("", "ResNet", Map::new());
        let c = a.base_channels;
        let conv1 = Conv::new(store, "conv1", 2, &conv(a.in_channels, c, 3, 1, 1))?;
        let bn1 = BatchNorm::new(store, "bn1", 2, &bn(c))?;
        let mut blocks = Vec::new();
        let mut in_ch = c;
        for (stage, count) in layers.iter().enumerate() {
            let out_ch = c << stage;
            for b in 0..*count {
                let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                blocks.push(Block::new(
                    store,
                    &format!("layer{}.{b}", stage + 1),
                    in_ch,
                    out_ch,
                    stride,
                )?);
                in_ch = out_ch;
            }
        }
        let fc = Linear::new(
            store,
            "fc",
            &LinearArgs {
                in_features: in_ch,
                out_features: a.num_classes,
                bias: true,
            },
        )?;
        Ok(ResNet {
            conv1,
            bn1,
            blocks,
            fc,
        })
    }
}

impl Network for ResNet {
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let mut x = self
            .bn1
            .forward(&self.conv1.forward(x, train)?, train)?
            .f_relu()?;
        for block in &self.blocks {
            x = block.forward(&x, train)?;
        }
        let x = x.f_adaptive_avg_pool2d([1, 1])?.f_flatten(1, -1)?;
        self.fc.forward(&x, train)
    }
}
