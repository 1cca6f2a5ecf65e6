//! `Conv1d`, `Conv2d`, `Conv3d`.

use serde::Deserialize;
use serde_json::{Map, json};
use tch::{TchError, Tensor};

use super::{IntOrList, Layer, replace_weight_or_bias};
use crate::init;
use crate::store::ParamStore;

/// `torch.nn.ConvNd` arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvArgs {
    /// Input channels.
    pub in_channels: i64,
    /// Output channels.
    pub out_channels: i64,
    /// Kernel size.
    pub kernel_size: IntOrList,
    /// Stride (default 1).
    pub stride: Option<IntOrList>,
    /// Zero padding (default 0).
    pub padding: Option<IntOrList>,
    /// Dilation (default 1).
    pub dilation: Option<IntOrList>,
    /// Groups (default 1; `in_channels` for depthwise).
    #[serde(default = "one")]
    pub groups: i64,
    /// Learn a bias (default true).
    #[serde(default = "yes")]
    pub bias: bool,
}

fn one() -> i64 {
    1
}

fn yes() -> bool {
    true
}

/// An N-d convolution.
pub struct Conv {
    dims: usize,
    weight: Tensor,
    bias: Option<Tensor>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    groups: i64,
}

impl Conv {
    /// Registers the module at `path` and its parameters.
    pub fn new(
        store: &mut ParamStore,
        path: &str,
        dims: usize,
        a: &ConvArgs,
    ) -> Result<Conv, String> {
        if a.groups < 1 || a.in_channels % a.groups != 0 || a.out_channels % a.groups != 0 {
            return Err(format!(
                "groups ({}) must divide in_channels ({}) and out_channels ({})",
                a.groups, a.in_channels, a.out_channels
            ));
        }
        let kernel = a.kernel_size.expand(dims);
        let stride = a.stride.as_ref().map_or(vec![1; dims], |s| s.expand(dims));
        let padding = a.padding.as_ref().map_or(vec![0; dims], |s| s.expand(dims));
        let dilation = a
            .dilation
            .as_ref()
            .map_or(vec![1; dims], |s| s.expand(dims));
        for (what, v) in [
            ("kernel_size", &kernel),
            ("stride", &stride),
            ("padding", &padding),
            ("dilation", &dilation),
        ] {
            if v.len() != dims {
                return Err(format!("{what} needs {dims} values, got {}", v.len()));
            }
        }
        let kind = format!("Conv{dims}d");
        let mut attrs = Map::new();
        attrs.insert("in_channels".into(), json!(a.in_channels));
        attrs.insert("out_channels".into(), json!(a.out_channels));
        attrs.insert("kernel_size".into(), json!(kernel));
        attrs.insert("stride".into(), json!(stride));
        attrs.insert("padding".into(), json!(padding));
        attrs.insert("groups".into(), json!(a.groups));
        attrs.insert("bias".into(), json!(a.bias));
        let module = store.module(path, &kind, attrs);
        let mut shape = vec![a.out_channels, a.in_channels / a.groups];
        shape.extend(&kernel);
        let fan_in = a.in_channels / a.groups * kernel.iter().product::<i64>();
        let err = |e: TchError| e.to_string();
        let weight = store
            .param(
                module,
                "weight",
                init::default_weight(&shape, fan_in).map_err(err)?,
                true,
            )
            .map_err(err)?;
        let bias = if a.bias {
            Some(
                store
                    .param(
                        module,
                        "bias",
                        init::default_bias(a.out_channels, fan_in).map_err(err)?,
                        true,
                    )
                    .map_err(err)?,
            )
        } else {
            None
        };
        Ok(Conv {
            dims,
            weight,
            bias,
            stride,
            padding,
            dilation,
            groups: a.groups,
        })
    }
}

impl Conv {
    /// The weight (`[out, in / groups, kernel...]`), for initialisations other than the
    /// default.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
}

impl Layer for Conv {
    fn replace_param(&mut self, local: &str, tensor: Tensor) -> bool {
        replace_weight_or_bias(&mut self.weight, &mut self.bias, local, tensor)
    }

    fn forward(&self, x: &Tensor, _train: bool) -> Result<Tensor, TchError> {
        let b = self.bias.as_ref();
        match self.dims {
            1 => x.f_conv1d(
                &self.weight,
                b,
                &self.stride,
                &self.padding,
                &self.dilation,
                self.groups,
            ),
            2 => x.f_conv2d(
                &self.weight,
                b,
                &self.stride,
                &self.padding,
                &self.dilation,
                self.groups,
            ),
            _ => x.f_conv3d(
                &self.weight,
                b,
                &self.stride,
                &self.padding,
                &self.dilation,
                self.groups,
            ),
        }
    }
}
