//! Datasets by config `type`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use weft_config::{Config, ConfigError, ErrorKind, Located, Node, unknown_name_error};

use crate::Dataset;
use crate::error::DataError;
use crate::idx::read_idx;
use crate::mnist::{ImageClassification, Normalize};

/// The dataset types a config may name.
pub const DATASET_TYPES: [&str; 2] = ["FashionMNIST", "MNIST"];

const FASHION_ROOT: &str = "/usr/share/datasets/fashion-mnist";

/// `{ type = "FashionMNIST" | "MNIST", split = "train" | "test", ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdxArgs {
    /// Directory with `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`.
    data_root: Option<String>,
    /// `train` (60k) or `test` (10k).
    split: Located<String>,
    /// Use only the first N samples (quick runs and tests).
    num_samples: Option<u64>,
    /// Normalisation mean in [0, 1] units (Fashion-MNIST default 0.2860, MNIST 0.1307).
    mean: Option<f64>,
    /// Normalisation std (Fashion-MNIST default 0.3530, MNIST 0.3081).
    std: Option<f64>,
}

/// Why a dataset could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// The config is wrong.
    Config(ConfigError),
    /// The files are missing or broken.
    Data(DataError),
}

impl From<ConfigError> for BuildError {
    fn from(e: ConfigError) -> Self {
        BuildError::Config(e)
    }
}

impl From<DataError> for BuildError {
    fn from(e: DataError) -> Self {
        BuildError::Data(e)
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Config(e) => e.fmt(f),
            BuildError::Data(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {}

/// Builds a dataset from its config table.
pub fn build_dataset(node: &Node, cfg: &Config) -> Result<Arc<dyn Dataset>, BuildError> {
    let Some(table) = node.as_table() else {
        return Err(cfg
            .error_at(
                ErrorKind::InvalidValue,
                "a dataset must be a table with a `type`",
                &node.origin,
            )
            .into());
    };
    let Some(ty) = table.get("type") else {
        return Err(cfg
            .error_at(
                ErrorKind::MissingKey,
                "this dataset has no `type`",
                &node.origin,
            )
            .with_help(format!("one of: {}", DATASET_TYPES.join(", ")))
            .into());
    };
    let name = ty.as_str().unwrap_or_default();
    if !DATASET_TYPES.contains(&name) {
        return Err(unknown_name_error("dataset", name, DATASET_TYPES)
            .with_location(cfg.sources().locate(&ty.origin))
            .into());
    }
    let mut rest = table.clone();
    rest.shift_remove("type");
    let args: IdxArgs = cfg.read(&Node {
        value: weft_config::Value::Table(rest),
        origin: node.origin.clone(),
        key_origin: None,
    })?;
    let prefix = match args.split.value.as_str() {
        "train" => "train",
        "test" => "t10k",
        other => {
            return Err(cfg
                .error_at(
                    ErrorKind::InvalidValue,
                    format!("split must be \"train\" or \"test\", not \"{other}\""),
                    &args.split.origin,
                )
                .into());
        }
    };
    let (root, mean, std) = match name {
        "FashionMNIST" => (
            args.data_root.unwrap_or_else(|| FASHION_ROOT.into()),
            0.2860,
            0.3530,
        ),
        _ => match args.data_root {
            Some(r) => (r, 0.1307, 0.3081),
            None => {
                return Err(cfg
                    .error_at(
                        ErrorKind::MissingKey,
                        "MNIST needs `data_root` (a directory with its IDX files)",
                        &node.origin,
                    )
                    .into());
            }
        },
    };
    let root = PathBuf::from(root);
    let images = find(&root, &format!("{prefix}-images-idx3-ubyte"), name)?;
    let labels = find(&root, &format!("{prefix}-labels-idx1-ubyte"), name)?;
    let images = read_idx(&images)?;
    let labels = read_idx(&labels)?;
    if images.dims.len() != 3 || labels.dims.len() != 1 || images.dims[0] != labels.dims[0] {
        return Err(DataError::Format {
            path: root.display().to_string(),
            message: format!(
                "image dims {:?} do not match label dims {:?}",
                images.dims, labels.dims
            ),
        }
        .into());
    }
    let num_classes = labels
        .data
        .iter()
        .copied()
        .max()
        .map_or(0, |m| m as usize + 1)
        .max(10);
    let mut ds = ImageClassification::new(
        format!("{name}({})", args.split.value),
        images.data,
        labels.data,
        images.dims[1],
        images.dims[2],
        num_classes,
        Normalize {
            mean: args.mean.unwrap_or(mean) as f32,
            std: args.std.unwrap_or(std) as f32,
        },
    );
    if let Some(n) = args.num_samples {
        ds.truncate(n as usize);
    }
    Ok(Arc::new(ds))
}

fn find(root: &Path, stem: &str, name: &str) -> Result<PathBuf, DataError> {
    for candidate in [root.join(format!("{stem}.gz")), root.join(stem)] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let hint = if name == "FashionMNIST" {
        "install it with `sudo apt-get install dataset-fashion-mnist` (or run `make setup`), or set `data_root`"
    } else {
        "point `data_root` at a directory holding the MNIST IDX files"
    };
    Err(DataError::Missing {
        message: format!(
            "{name}: {stem}[.gz] not found in {}; {hint}",
            root.display()
        ),
    })
}
