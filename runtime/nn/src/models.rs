//! Models by config `type`: `LeNet5`, `ResNet`, `Modules` (standard layers in order), and
//! MMAction2's action recognizers `Recognizer2D` and `Recognizer3D` (`recognition/`).

mod lenet;
mod modules;
pub mod recognition;
mod resnet;
pub mod script;

use serde::Deserialize;
use tch::{Device, TchError, Tensor};
use weft_config::{Config, ConfigError, ErrorKind, Node, Table, Value, unknown_name_error};

use crate::store::ParamStore;

pub use lenet::LeNet5;
pub use modules::Sequential;
pub use resnet::ResNet;

/// The model types a config may name.
pub const MODEL_TYPES: [&str; 6] = [
    "LeNet5",
    "ResNet",
    "Modules",
    "Recognizer2D",
    "Recognizer3D",
    "TorchScript",
];

/// A network's forward pass from inputs to class scores.
pub trait Network: Send {
    /// Logits `[N, num_classes]`.
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError>;

    /// For a network that computes its own loss (a TorchScript module with `returns =
    /// "losses"`): the named losses of a batch, as MMCV's `_parse_losses` reads them; `None`
    /// for networks whose scores weft's loss applies to.
    fn losses(
        &self,
        _x: &Tensor,
        _labels: &Tensor,
        _train: bool,
    ) -> Option<Result<Vec<(String, Tensor)>, TchError>> {
        None
    }

    /// The TorchScript module behind the network, if it is one (`weft export`).
    fn script(&self) -> Option<&script::Script> {
        None
    }
}

/// The training objective over the network's outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Cross-entropy over class scores and integer labels (the default).
    CrossEntropy,
    /// Mean squared error over all elements, against float targets.
    Mse,
}

/// A built model: its parameters, its forward pass and its loss.
pub struct Model {
    /// The config `type`.
    pub kind: String,
    /// Parameters, buffers, module table.
    pub store: ParamStore,
    /// The forward pass.
    pub net: Box<dyn Network>,
    /// The loss (`model.loss`: `"cross_entropy"` or `"mse"`).
    pub loss: Loss,
    /// The loss's factor (a recognizer head's `loss_cls.loss_weight`; 1 otherwise).
    pub loss_weight: f64,
    /// What building it did that the run's log should say (a backbone's `pretrained` file
    /// loaded, and what it lacked).
    pub notes: Vec<String>,
}

impl Model {
    /// The loss of `outputs` against `targets`.
    pub fn loss(&self, outputs: &Tensor, targets: &Tensor) -> Result<Tensor, TchError> {
        let loss = match self.loss {
            Loss::CrossEntropy => outputs.f_cross_entropy_loss::<Tensor>(
                &targets.f_to_kind(tch::Kind::Int64)?,
                None,
                tch::Reduction::Mean,
                -100,
                0.0,
            ),
            Loss::Mse => {
                outputs.f_mse_loss(&targets.f_to_kind(outputs.kind())?, tch::Reduction::Mean)
            }
        }?;
        if self.loss_weight == 1.0 {
            Ok(loss)
        } else {
            loss.f_mul_scalar(self.loss_weight)
        }
    }
}

/// Builds the model described by `node` on `device` with initial weights drawn from `seed`.
///
/// libtorch's default generator is global to the process: two models built at once on
/// different threads (an embedding program, the test binary) would interleave their draws and
/// get other weights than `seed` promises, so seeding and drawing happen under one lock.
pub fn build_model_seeded(
    node: &Node,
    cfg: &Config,
    device: Device,
    seed: u64,
) -> Result<Model, ConfigError> {
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = INIT.lock().unwrap_or_else(|p| p.into_inner());
    tch::manual_seed(seed as i64);
    build_model(node, cfg, device)
}

/// Builds the model described by `node` on `device`, seeding initial values with the current
/// libtorch generator (call `tch::manual_seed` first for reproducible weights).
pub fn build_model(node: &Node, cfg: &Config, device: Device) -> Result<Model, ConfigError> {
    let Some(table) = node.as_table() else {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "`model` must be a table with a `type`",
            &node.origin,
        ));
    };
    let Some(ty) = table.get("type") else {
        return Err(cfg
            .error_at(ErrorKind::MissingKey, "`model` has no `type`", &node.origin)
            .with_help(format!("one of: {}", MODEL_TYPES.join(", "))));
    };
    let kind = ty.as_str().unwrap_or_default().to_string();
    let loss = match table.get("loss") {
        None => Loss::CrossEntropy,
        Some(l) => match l.as_str() {
            Some("cross_entropy") => Loss::CrossEntropy,
            Some("mse") => Loss::Mse,
            _ => {
                return Err(cfg.error_at(
                    ErrorKind::InvalidValue,
                    "`loss` must be \"cross_entropy\" or \"mse\"",
                    &l.origin,
                ));
            }
        },
    };
    let args = without(table, &["type", "loss"], node);
    let mut store = ParamStore::new(device);
    let mut loss_weight = 1.0;
    let mut notes = Vec::new();
    let net: Box<dyn Network> = match kind.as_str() {
        "Recognizer2D" | "Recognizer3D" => {
            if let Some(l) = table.get("loss") {
                return Err(cfg.error_at(
                    ErrorKind::InvalidValue,
                    "a recognizer's loss is its head's `loss_cls`",
                    &l.origin,
                ));
            }
            let r = recognition::build(&mut store, &args, cfg, kind == "Recognizer3D", &mut notes)?;
            loss_weight = r.loss_weight();
            Box::new(r)
        }
        "LeNet5" => Box::new(
            LeNet5::new(&mut store, &cfg.read(&args)?).map_err(|e| torch_error(cfg, node, e))?,
        ),
        "ResNet" => {
            let a: resnet::ResNetArgs = cfg.read(&args)?;
            Box::new(
                ResNet::new(&mut store, &a)
                    .map_err(|e| cfg.error_at(ErrorKind::InvalidValue, e, &node.origin))?,
            )
        }
        "Modules" => Box::new(modules::build(&mut store, &args, cfg)?),
        "TorchScript" => {
            let a: script::ScriptArgs = cfg.read(&args)?;
            Box::new(
                script::Script::load(&mut store, &a)
                    .map_err(|e| cfg.error_at(ErrorKind::InvalidValue, e, &node.origin))?,
            )
        }
        other => {
            return Err(unknown_name_error("model", other, MODEL_TYPES)
                .with_location(cfg.sources().locate(&ty.origin)));
        }
    };
    store.finish();
    Ok(Model {
        kind,
        store,
        net,
        loss,
        loss_weight,
        notes,
    })
}

fn torch_error(cfg: &Config, node: &Node, e: TchError) -> ConfigError {
    cfg.error_at(
        ErrorKind::InvalidValue,
        format!("building the model: {e}"),
        &node.origin,
    )
}

/// A copy of a table node without some keys.
pub(crate) fn without(table: &Table, keys: &[&str], node: &Node) -> Node {
    let mut rest = table.clone();
    for k in keys {
        rest.shift_remove(*k);
    }
    Node {
        value: Value::Table(rest),
        origin: node.origin.clone(),
        key_origin: node.key_origin.clone(),
    }
}

/// Arguments shared by the built-in classifiers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierArgs {
    /// Input channels (default 1: grey images).
    #[serde(default = "one")]
    pub in_channels: i64,
    /// Classes (default 10).
    #[serde(default = "ten")]
    pub num_classes: i64,
}

fn one() -> i64 {
    1
}

fn ten() -> i64 {
    10
}
