//! PyTorch's own checkpoint files (`torch.save`, the `.pth` of MMCV's runner and of model
//! zoos), read without Python and without running any of the pickle's code, and written so
//! that `torch.load` reads them under its default `weights_only` safety.
//!
//! Two layouts are read: MMCV's `{"meta": {...}, "state_dict": {...}, "optimizer": {...}}`
//! and a bare state_dict (`torch.save(model.state_dict())`). What is written is MMCV's
//! layout with `meta` and `state_dict`, which MMCV's `load_checkpoint`, `torch.load` and
//! weft itself all read.

mod archive;
mod pickle;
pub mod unpickle;

use std::io::{Seek, Write};
use std::path::Path;

use serde_json::Value;
use tch::Tensor;

use unpickle::{Py, StorageRef, TensorRef};

/// Why a `.pth` could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PthError {
    /// Not a `torch.save` file, or a damaged one.
    #[error("{0}")]
    Format(String),
    /// A pickle that names Python code: refused, never run.
    #[error("{0}")]
    Refused(String),
    /// The file system.
    #[error("{0}")]
    Io(String),
}

/// Whether `bytes` start as a zip archive (`torch.save`'s format since PyTorch 1.6).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// `torch.save`'s format before PyTorch 1.6: a pickled magic number first.
pub fn is_legacy(bytes: &[u8]) -> bool {
    bytes.starts_with(&[
        0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8,
    ])
}

/// A `.pth` read: the model's tensors in file order and MMCV's `meta` as JSON.
pub struct PthCheckpoint {
    /// `state_dict` entries, in the order the file lists them.
    pub state_dict: Vec<(String, Tensor)>,
    /// MMCV's `meta` (`null` for a bare state_dict); NumPy scalars read as numbers, tensors
    /// inside it as `"<tensor [shape]>"`.
    pub meta: Value,
    /// Top-level entries besides `meta`, `state_dict` and `optimizer`, by name: not read.
    pub skipped: Vec<String>,
    /// `optimizer`: a `torch.optim` state_dict, as MMCV's runner saves it.
    pub optimizer: Option<TorchOptimizer>,
}

/// A `torch.optim.Optimizer.state_dict()`: per-parameter state by the parameter's index
/// (numbered across the groups in order), and the groups' hyperparameters.
pub struct TorchOptimizer {
    /// `state`: index -> (key -> tensor); numbers (an old `step`) as 0-dim tensors.
    pub state: Vec<(i64, Vec<(String, Tensor)>)>,
    /// `param_groups`, each as JSON (`lr`, `momentum`, `betas`, `weight_decay`, ... and
    /// `params`, the indices).
    pub groups: Vec<Value>,
}

/// Reads a `.pth` file.
pub fn read(path: &Path) -> Result<PthCheckpoint, PthError> {
    let bytes =
        std::fs::read(path).map_err(|e| PthError::Io(format!("{}: {e}", path.display())))?;
    read_bytes(&bytes, &path.display().to_string())
}

/// Reads a `.pth` from memory; `what` names it in messages.
pub fn read_bytes(bytes: &[u8], what: &str) -> Result<PthCheckpoint, PthError> {
    if is_legacy(bytes) {
        return Err(PthError::Format(format!(
            "{what} is in torch.save's format from before PyTorch 1.6; load it and save it again \
             with a newer PyTorch (torch.save(torch.load(path), path)), or convert it to \
             safetensors"
        )));
    }
    if !is_zip(bytes) {
        return Err(PthError::Format(format!(
            "{what} is neither a torch.save file nor safetensors"
        )));
    }
    let (mut archive, value) = archive::Archive::open(std::io::Cursor::new(bytes), what)?;
    let Py::Dict(top) = value else {
        return Err(PthError::Format(format!(
            "{what} holds a {}, not a dict of tensors",
            type_name(&value)
        )));
    };
    let has = |key: &str| top.iter().any(|(k, _)| *k == Py::Str(key.into()));
    let mmcv = has("state_dict");
    let mut out = PthCheckpoint {
        state_dict: Vec::new(),
        meta: Value::Null,
        skipped: Vec::new(),
        optimizer: None,
    };
    let tensors = if mmcv {
        let mut state = None;
        for (k, v) in top {
            match (k, v) {
                (Py::Str(k), v) if k == "state_dict" => state = Some(v),
                (Py::Str(k), v) if k == "meta" => out.meta = to_json(&v),
                (Py::Str(k), v) if k == "optimizer" => {
                    out.optimizer = Some(optimizer(v, &mut archive, what)?);
                }
                (k, _) => out.skipped.push(key_text(&k)),
            }
        }
        match state.expect("has state_dict") {
            Py::Dict(pairs) => pairs,
            other => {
                return Err(PthError::Format(format!(
                    "{what}: state_dict is a {}, not a dict of tensors",
                    type_name(&other)
                )));
            }
        }
    } else {
        top
    };
    for (k, v) in tensors {
        let name = match k {
            Py::Str(s) => s,
            other => {
                return Err(PthError::Format(format!(
                    "{what}: a state_dict key that is a {}, not a name",
                    type_name(&other)
                )));
            }
        };
        let Py::Tensor(r) = v else {
            return Err(PthError::Format(format!(
                "{what}: {name:?} is a {}, not a tensor{}",
                type_name(&v),
                if mmcv {
                    ""
                } else {
                    " (neither MMCV's {meta, state_dict} nor a bare state_dict)"
                }
            )));
        };
        let t = archive.tensor(&r)?;
        out.state_dict.push((name, t));
    }
    Ok(out)
}

/// Reads `{"state": {index: {key: tensor}}, "param_groups": [...]}`.
fn optimizer(
    v: Py,
    archive: &mut archive::Archive<std::io::Cursor<&[u8]>>,
    what: &str,
) -> Result<TorchOptimizer, PthError> {
    let bad = |m: &str| PthError::Format(format!("{what}: optimizer: {m}"));
    let Py::Dict(entries) = v else {
        return Err(bad("not a torch.optim state_dict"));
    };
    let mut out = TorchOptimizer {
        state: Vec::new(),
        groups: Vec::new(),
    };
    for (k, v) in entries {
        match (k, v) {
            (Py::Str(k), Py::Dict(state)) if k == "state" => {
                for (index, entry) in state {
                    let (Py::Int(index), Py::Dict(values)) = (index, entry) else {
                        return Err(bad("a state entry that is not index -> dict"));
                    };
                    let mut tensors = Vec::new();
                    for (key, value) in values {
                        let Py::Str(key) = key else {
                            return Err(bad("a state key that is not a name"));
                        };
                        let t = match value {
                            Py::Tensor(r) => archive.tensor(&r)?,
                            Py::Int(n) => Tensor::from(n as f64),
                            Py::Float(f) => Tensor::from(f),
                            // momentum_buffer = None before the first step
                            Py::None => continue,
                            _ => return Err(bad(&format!("{key} is not a tensor or number"))),
                        };
                        tensors.push((key, t));
                    }
                    out.state.push((index, tensors));
                }
            }
            (Py::Str(k), Py::List(groups)) if k == "param_groups" => {
                out.groups = groups.iter().map(to_json).collect();
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Writes `tensors` as MMCV's `{"meta": meta, "state_dict": OrderedDict(...)}`, through a
/// temporary file renamed into place.
pub fn write(path: &Path, tensors: &[(String, Tensor)], meta: &Value) -> Result<(), PthError> {
    let io = |e: std::io::Error| PthError::Io(format!("{}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    let written = write_to(&mut file, tensors, meta)
        .and_then(|()| file.sync_all().map_err(io))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(io));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Writes the archive to any seekable sink.
pub fn write_to<W: Write + Seek>(
    out: W,
    tensors: &[(String, Tensor)],
    meta: &Value,
) -> Result<(), PthError> {
    let mut storages = Vec::with_capacity(tensors.len());
    let mut state = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let cpu = t
            .f_detach()
            .and_then(|t| t.f_to_device(tch::Device::Cpu))
            .and_then(|t| t.f_contiguous())
            .map_err(|e| PthError::Io(format!("{name}: {e}")))?;
        let class = archive::storage_class(cpu.kind()).ok_or_else(|| {
            PthError::Format(format!(
                "{name}: {:?} has no PyTorch storage type",
                cpu.kind()
            ))
        })?;
        let size = cpu.size();
        let mut stride = vec![1i64; size.len()];
        for d in (0..size.len().saturating_sub(1)).rev() {
            stride[d] = stride[d + 1] * size[d + 1].max(1);
        }
        let r = TensorRef {
            storage: StorageRef {
                class: class.to_string(),
                key: storages.len().to_string(),
                numel: cpu.numel() as i64,
            },
            offset: 0,
            size,
            stride,
        };
        storages.push(cpu);
        state.push((Py::Str(name.clone()), Py::Tensor(r)));
    }
    let top = Py::Dict(vec![
        (Py::Str("meta".into()), from_json(meta)),
        (Py::Str("state_dict".into()), Py::Dict(state)),
    ]);
    archive::write(out, "archive", &pickle::write(&top), &storages)
}

fn type_name(v: &Py) -> &'static str {
    match v {
        Py::None => "None",
        Py::Bool(_) => "bool",
        Py::Int(_) => "int",
        Py::Float(_) => "float",
        Py::Str(_) => "str",
        Py::Bytes(_) => "bytes",
        Py::List(_) => "list",
        Py::Tuple(_) => "tuple",
        Py::Dict(_) => "dict",
        Py::Tensor(_) => "tensor",
        Py::Storage(_) => "storage",
        Py::Global(_) | Py::Dtype(_) => "class",
    }
}

fn key_text(k: &Py) -> String {
    match k {
        Py::Str(s) => s.clone(),
        Py::Int(n) => n.to_string(),
        other => format!("<{}>", type_name(other)),
    }
}

/// MMCV's `meta` as JSON: dict keys become strings, tuples arrays, NaN and infinities null.
fn to_json(v: &Py) -> Value {
    match v {
        Py::None => Value::Null,
        Py::Bool(b) => Value::Bool(*b),
        Py::Int(n) => Value::from(*n),
        Py::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Py::Str(s) => Value::String(s.clone()),
        Py::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Py::List(items) | Py::Tuple(items) => items.iter().map(to_json).collect(),
        Py::Dict(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (key_text(k), to_json(v)))
                .collect(),
        ),
        Py::Tensor(t) => Value::String(format!("<tensor {:?}>", t.size)),
        Py::Storage(_) | Py::Global(_) | Py::Dtype(_) => Value::Null,
    }
}

fn from_json(v: &Value) -> Py {
    match v {
        Value::Null => Py::None,
        Value::Bool(b) => Py::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Py::Int(i),
            None => Py::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Py::Str(s.clone()),
        Value::Array(items) => Py::List(items.iter().map(from_json).collect()),
        Value::Object(map) => Py::Dict(
            map.iter()
                .map(|(k, v)| (Py::Str(k.clone()), from_json(v)))
                .collect(),
        ),
    }
}
