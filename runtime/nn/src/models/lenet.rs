//! LeNet-5 for 28×28 inputs, as the peer benchmarks define it:
//! conv(5, pad 2)-ReLU-pool, conv(5)-ReLU-pool, 400-120-84-classes.

use serde_json::Map;
use tch::{TchError, Tensor};

use super::{ClassifierArgs, Network};
use crate::layers::{Conv, ConvArgs, IntOrList, Layer, Linear, LinearArgs};
use crate::store::ParamStore;

/// LeNet-5 (parameters `conv1`, `conv2`, `fc1`, `fc2`, `fc3`).
pub struct LeNet5 {
    conv1: Conv,
    conv2: Conv,
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl LeNet5 {
    /// Registers LeNet-5's parameters.
    pub fn new(store: &mut ParamStore, a: &ClassifierArgs) -> Result<LeNet5, TchError> {
        store.module("", "LeNet5", Map::new());
        let conv = |i, o, pad| ConvArgs {
            in_channels: i,
            out_channels: o,
            kernel_size: IntOrList::One(5),
            stride: None,
            padding: Some(IntOrList::One(pad)),
            dilation: None,
            groups: 1,
            bias: true,
        };
        let lin = |i, o| LinearArgs {
            in_features: i,
            out_features: o,
            bias: true,
        };
        let e = TchError::Convert;
        Ok(LeNet5 {
            conv1: Conv::new(store, "conv1", 2, &conv(a.in_channels, 6, 2)).map_err(e)?,
            conv2: Conv::new(store, "conv2", 2, &conv(6, 16, 0)).map_err(e)?,
            fc1: Linear::new(store, "fc1", &lin(400, 120)).map_err(e)?,
            fc2: Linear::new(store, "fc2", &lin(120, 84)).map_err(e)?,
            fc3: Linear::new(store, "fc3", &lin(84, a.num_classes)).map_err(e)?,
        })
    }
}

impl Network for LeNet5 {
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        // Conv, ReLU, then a 2x2 max pool of stride 2 (no padding or dilation).
        let pool = |t: Tensor| {
            t.f_relu()?
                .f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
        };
        let x = pool(self.conv1.forward(x, train)?)?;
        let x = pool(self.conv2.forward(&x, train)?)?;
        let x = x.f_flatten(1, -1)?;
        let x = self.fc1.forward(&x, train)?.f_relu()?;
        let x = self.fc2.forward(&x, train)?.f_relu()?;
        self.fc3.forward(&x, train)
    }
}
