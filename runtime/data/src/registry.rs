//! Datasets by config `type`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use weft_config::{Config, ConfigError, ErrorKind, Located, Node, unknown_name_error};

use crate::error::DataError;
use crate::idx::{find_idx, read_idx_first};
use crate::memory::{InMemory, Targets};
use crate::mnist::{ImageClassification, Normalize};
use crate::{Dataset, video};

/// The dataset types a config may name.
pub const DATASET_TYPES: [&str; 5] = [
    "FashionMNIST",
    "MNIST",
    "InMemory",
    "RawframeDataset",
    "VideoDataset",
];

/// The video dataset type `node` names, if it names one.
fn clip_type(node: &Node) -> Option<&'static str> {
    match node.get("type").and_then(Node::as_str) {
        Some("RawframeDataset") => Some("RawframeDataset"),
        Some("VideoDataset") => Some("VideoDataset"),
        _ => None,
    }
}

/// A copy of a dataset table without its `type`.
fn args_of(node: &Node) -> Node {
    let mut rest = node.as_table().cloned().unwrap_or_default();
    rest.shift_remove("type");
    Node {
        value: weft_config::Value::Table(rest),
        origin: node.origin.clone(),
        key_origin: node.key_origin.clone(),
    }
}

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

struct Resolved {
    name: &'static str,
    split: String,
    root: PathBuf,
    prefix: &'static str,
    mean: f64,
    std: f64,
    /// The first samples to keep, all when `None`.
    num_samples: Option<usize>,
}

/// The number of samples a dataset config yields, reading only its label file (for
/// `weft schedule`, which needs the epoch length but no images).
pub fn dataset_len(node: &Node, cfg: &Config) -> Result<usize, BuildError> {
    if let Some(name) = clip_type(node) {
        return Ok(video::dataset::len(&args_of(node), cfg, name)?);
    }
    if node.get("type").and_then(Node::as_str) == Some("InMemory") {
        return Ok(build_dataset(node, cfg)?.len());
    }
    let r = resolve(node, cfg)?;
    let labels = read_idx_first(
        &find(&r.root, &format!("{}-labels-idx1-ubyte", r.prefix), r.name)?,
        r.num_samples,
    )?;
    Ok(labels.dims.first().copied().unwrap_or(0))
}

/// `{ type = "InMemory", inputs = [[...], ...], labels = [...] | targets = [[...], ...] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InMemoryArgs {
    /// One row of numbers per sample (nested rows are flattened).
    inputs: Vec<Nested>,
    /// Shape of one sample (default: the row's length).
    input_shape: Option<Vec<i64>>,
    /// Class labels, for classification.
    labels: Option<Vec<i64>>,
    /// Float targets, one row per sample, for regression.
    targets: Option<Vec<Nested>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Nested {
    Num(f64),
    List(Vec<Nested>),
}

impl Nested {
    fn flatten(&self, out: &mut Vec<f32>) -> Vec<i64> {
        match self {
            Nested::Num(v) => {
                out.push(*v as f32);
                Vec::new()
            }
            Nested::List(items) => {
                let mut inner = Vec::new();
                for item in items {
                    inner = item.flatten(out);
                }
                let mut shape = vec![items.len() as i64];
                shape.extend(inner);
                shape
            }
        }
    }
}

fn in_memory(node: &Node, cfg: &Config) -> Result<Arc<dyn Dataset>, BuildError> {
    let a: InMemoryArgs = cfg.read(node)?;
    let bad = |m: &str| BuildError::Config(cfg.error_at(ErrorKind::InvalidValue, m, &node.origin));
    let mut inputs = Vec::new();
    let mut row_shape = Vec::new();
    for row in &a.inputs {
        let before = inputs.len();
        let shape = row.flatten(&mut inputs);
        let shape = if shape.is_empty() { vec![1] } else { shape };
        if !row_shape.is_empty() && shape != row_shape {
            return Err(bad("every row of `inputs` must have the same shape"));
        }
        row_shape = shape;
        debug_assert!(inputs.len() > before);
    }
    let n = a.inputs.len();
    let input_shape = a.input_shape.unwrap_or(row_shape);
    if n == 0 || inputs.len() != n * input_shape.iter().product::<i64>().max(1) as usize {
        return Err(bad("`inputs` does not match `input_shape`"));
    }
    let targets = match (a.labels, a.targets) {
        (Some(l), None) if l.len() == n => Targets::Labels(l),
        (None, Some(t)) if t.len() == n => {
            let mut v = Vec::new();
            let mut shape = Vec::new();
            for row in &t {
                shape = row.flatten(&mut v);
            }
            Targets::Values(v, shape)
        }
        _ => {
            return Err(bad(
                "give one of `labels` or `targets`, with one entry per row of `inputs`",
            ));
        }
    };
    Ok(Arc::new(InMemory::new(inputs, input_shape, targets)))
}

/// Checks a dataset's config table (its type and every key) without reading any file: what
/// every command runs before it acts.
pub fn check_dataset(node: &Node, cfg: &Config) -> Result<(), ConfigError> {
    if let Some(name) = clip_type(node) {
        return video::dataset::check(&args_of(node), cfg, name);
    }
    let result = if node.get("type").and_then(Node::as_str) == Some("InMemory") {
        build_dataset(node, cfg).map(|_| ())
    } else {
        resolve(node, cfg).map(|_| ())
    };
    match result {
        Ok(()) => Ok(()),
        Err(BuildError::Config(e)) => Err(e),
        // Only a config problem can come out of `resolve` or an in-memory build.
        Err(BuildError::Data(e)) => Err(ConfigError::new(ErrorKind::InvalidValue, e.to_string())),
    }
}

/// Builds a dataset from its config table.
pub fn build_dataset(node: &Node, cfg: &Config) -> Result<Arc<dyn Dataset>, BuildError> {
    if let Some(name) = clip_type(node) {
        return Ok(Arc::new(video::dataset::build(&args_of(node), cfg, name)?));
    }
    if node.get("type").and_then(Node::as_str) == Some("InMemory") {
        return in_memory(&args_of(node), cfg);
    }
    let r = resolve(node, cfg)?;
    let (name, root, prefix) = (r.name, r.root, r.prefix);
    let images = find(&root, &format!("{prefix}-images-idx3-ubyte"), name)?;
    let labels = find(&root, &format!("{prefix}-labels-idx1-ubyte"), name)?;
    // Only the samples the run uses are read (`num_samples` keeps the first ones).
    let images = read_idx_first(&images, r.num_samples)?;
    let labels = read_idx_first(&labels, r.num_samples)?;
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
    let ds = ImageClassification::new(
        format!("{name}({})", r.split),
        images.data,
        labels.data,
        images.dims[1],
        images.dims[2],
        num_classes,
        Normalize {
            mean: r.mean as f32,
            std: r.std as f32,
        },
    );
    Ok(Arc::new(ds))
}

fn resolve(node: &Node, cfg: &Config) -> Result<Resolved, BuildError> {
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
    let name = DATASET_TYPES
        .iter()
        .copied()
        .find(|t| *t == name)
        .expect("checked above");
    Ok(Resolved {
        name,
        split: args.split.value.clone(),
        root: PathBuf::from(root),
        prefix,
        mean: args.mean.unwrap_or(mean),
        std: args.std.unwrap_or(std),
        num_samples: args.num_samples.map(|k| k as usize),
    })
}

fn find(root: &Path, stem: &str, name: &str) -> Result<PathBuf, DataError> {
    if let Ok(found) = find_idx(root, stem) {
        return Ok(found);
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
