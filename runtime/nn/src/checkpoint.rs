//! Checkpoints as safetensors files (and PyTorch's `.pth`, read through [`crate::pth`]): model tensors under PyTorch names, optimizer state under
//! `optimizer.<parameter>.<key>`, and the run metadata as JSON in the header. Written to a
//! temporary file, synced and renamed, so a crash never leaves a partial file behind.
//!
//! Long strings of the metadata (a plugin's saved state) are stored as `u8` tensors named
//! `weft.blob.<n>` rather than in the header: the header is JSON inside a JSON string, so a
//! state of quotes and backslashes would grow fourfold there, and safetensors refuses headers
//! over 100 MB. [`read`] puts them back, so callers see the metadata as it was written.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use tch::{Device, Kind, TchError, Tensor};
use weft_core::crash;

/// Prefix of optimizer-state tensors.
pub const OPTIMIZER_PREFIX: &str = "optimizer.";
/// Header key holding weft's JSON metadata.
pub const META_KEY: &str = "weft";
/// Prefix of the tensors holding long metadata strings.
const BLOB_PREFIX: &str = "weft.blob.";
/// The key of the object that stands for a long string in the header.
const BLOB_REF: &str = "$weft_blob";
/// Strings longer than this leave the header.
const BLOB_MIN: usize = 1024;

/// Moves every string longer than [`BLOB_MIN`] out of `value` into `blobs`.
fn externalise(value: &mut serde_json::Value, blobs: &mut Vec<(String, Vec<u8>)>) {
    use serde_json::Value;
    match value {
        Value::String(s) if s.len() > BLOB_MIN => {
            let name = format!("{BLOB_PREFIX}{}", blobs.len());
            blobs.push((name.clone(), std::mem::take(s).into_bytes()));
            *value = serde_json::json!({ BLOB_REF: name });
        }
        Value::Array(items) => items.iter_mut().for_each(|v| externalise(v, blobs)),
        Value::Object(map) => map.values_mut().for_each(|v| externalise(v, blobs)),
        _ => {}
    }
}

/// Puts the strings [`externalise`] moved out back, taking their tensors out of `tensors`.
fn internalise(
    value: &mut serde_json::Value,
    tensors: &mut HashMap<String, Tensor>,
) -> Result<(), TchError> {
    use serde_json::Value;
    match value {
        Value::Object(map) if map.len() == 1 && map.contains_key(BLOB_REF) => {
            let name = map[BLOB_REF].as_str().unwrap_or_default().to_string();
            let t = tensors.remove(&name).ok_or_else(|| {
                TchError::FileFormat(format!("the metadata names {name}, which the file lacks"))
            })?;
            let mut bytes = vec![0u8; t.numel()];
            t.f_copy_data_u8(&mut bytes, t.numel())?;
            let text = String::from_utf8(bytes)
                .map_err(|_| TchError::FileFormat(format!("{name} is not UTF-8 text")))?;
            *value = Value::String(text);
        }
        Value::Array(items) => {
            for v in items {
                internalise(v, tensors)?;
            }
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                internalise(v, tensors)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn dtype(kind: Kind) -> Result<Dtype, TchError> {
    Ok(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        Kind::Int16 => Dtype::I16,
        Kind::Int8 => Dtype::I8,
        Kind::Uint8 => Dtype::U8,
        Kind::Bool => Dtype::BOOL,
        other => {
            return Err(TchError::Kind(format!(
                "{other:?} cannot be stored in safetensors"
            )));
        }
    })
}

fn kind(dtype: Dtype) -> Result<Kind, TchError> {
    Ok(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::I16 => Kind::Int16,
        Dtype::I8 => Kind::Int8,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        other => {
            return Err(TchError::Kind(format!(
                "safetensors dtype {other:?} is not supported"
            )));
        }
    })
}

/// Writes `tensors` and the metadata atomically to `path`.
pub fn write(
    path: &Path,
    tensors: &[(String, Tensor)],
    meta: &serde_json::Value,
) -> Result<(), TchError> {
    let mut meta = meta.clone();
    let mut blobs = Vec::new();
    externalise(&mut meta, &mut blobs);
    let mut bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> =
        Vec::with_capacity(tensors.len() + blobs.len());
    for (name, data) in blobs {
        bytes.push((name, Dtype::U8, vec![data.len()], data));
    }
    for (name, t) in tensors {
        let cpu = t.f_detach()?.f_to_device(Device::Cpu)?.f_contiguous()?;
        let numel = cpu.numel();
        let size = numel * cpu.kind().elt_size_in_bytes();
        let mut data = vec![0u8; size];
        cpu.f_copy_data_u8(&mut data, numel)?;
        let shape = cpu.size().iter().map(|d| *d as usize).collect();
        bytes.push((name.clone(), dtype(cpu.kind())?, shape, data));
    }
    let views = bytes
        .iter()
        .map(|(name, dt, shape, data)| {
            TensorView::new(*dt, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| TchError::Convert(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut header = HashMap::new();
    header.insert("format".to_string(), "pt".to_string());
    header.insert(META_KEY.to_string(), meta.to_string());
    let serialized = safetensors::serialize(views, Some(header))
        .map_err(|e| TchError::Convert(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    crash::begin_write();
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        crash::at(crash::Stage::TempCreated);
        let (first, second) = serialized.split_at(serialized.len() / 2);
        file.write_all(first)?;
        crash::at(crash::Stage::HalfWritten);
        file.write_all(second)?;
        crash::at(crash::Stage::Written);
        file.sync_all()?;
        crash::at(crash::Stage::Synced);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        // A full disk or a write error: the partial file goes, the last good one stays.
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    crash::at(crash::Stage::Renamed);
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A checkpoint read back: tensors by name and weft's metadata.
pub struct Loaded {
    /// Every tensor, on the CPU.
    pub tensors: HashMap<String, Tensor>,
    /// The JSON stored under [`META_KEY`] (`null` for files weft did not write).
    pub meta: serde_json::Value,
    /// A `.pth`'s `torch.optim` state, in PyTorch's form (weft's own is in `tensors`).
    pub torch_optimizer: Option<crate::pth::TorchOptimizer>,
}

/// MMCV's default `revise_keys` (`^module\.` removed): the names of weights saved from a
/// DataParallel or DDP wrapper, as the model itself names them.
pub fn revise_keys(tensors: HashMap<String, Tensor>) -> HashMap<String, Tensor> {
    tensors
        .into_iter()
        .map(|(k, v)| match k.strip_prefix("module.") {
            Some(rest) => (rest.to_string(), v),
            None => (k, v),
        })
        .collect()
}

/// Reads a checkpoint: a safetensors file, or a PyTorch `.pth` (told apart by their first
/// bytes, not their names). A `.pth`'s metadata reads as `{"meta": <MMCV's meta>, "pth":
/// true}`: it has no weft resume record or optimizer state.
pub fn read(path: &Path) -> Result<Loaded, TchError> {
    let data = std::fs::read(path)?;
    if crate::pth::is_zip(&data) || crate::pth::is_legacy(&data) {
        let pth = crate::pth::read_bytes(&data, &path.display().to_string())
            .map_err(|e| TchError::FileFormat(e.to_string()))?;
        return Ok(Loaded {
            tensors: pth.state_dict.into_iter().collect(),
            meta: serde_json::json!({ "meta": pth.meta, "pth": true }),
            torch_optimizer: pth.optimizer,
        });
    }
    let parsed = safetensors::SafeTensors::deserialize(&data).map_err(|e| {
        TchError::FileFormat(format!("{} is not a safetensors file: {e}", path.display()))
    })?;
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&data)
        .map_err(|e| TchError::FileFormat(format!("{}: {e}", path.display())))?;
    let mut meta = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .map(|s| serde_json::from_str(s))
        .transpose()
        .map_err(|e| TchError::FileFormat(format!("{}: bad weft metadata: {e}", path.display())))?
        .unwrap_or(serde_json::Value::Null);
    let mut tensors = HashMap::new();
    for (name, view) in parsed.tensors() {
        let shape: Vec<i64> = view.shape().iter().map(|d| *d as i64).collect();
        let t = Tensor::f_from_data_size(view.data(), &shape, kind(view.dtype())?)?;
        tensors.insert(name, t);
    }
    internalise(&mut meta, &mut tensors)
        .map_err(|e| TchError::FileFormat(format!("{}: {e}", path.display())))?;
    Ok(Loaded {
        tensors,
        meta,
        torch_optimizer: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_of_quotes_stays_out_of_the_header_and_reads_back_as_written() {
        let dir = std::env::temp_dir().join(format!("weft-ckpt-blob-{}", std::process::id()));
        let path = dir.join("c.safetensors");
        // 4 MiB of the characters JSON escapes: in the header it would take 16 MiB.
        let state = "\"\\".repeat(2 << 20);
        let meta = serde_json::json!({ "hook_states": { "P#0": state, "Q#0": "short" } });
        let w = Tensor::from_slice(&[1.0f32, 2.0]);
        write(&path, &[("w".to_string(), w)], &meta).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert!(header_len < 4096, "header of {header_len} bytes");
        let back = read(&path).unwrap();
        assert_eq!(back.meta, meta);
        assert_eq!(back.tensors.len(), 1, "blob tensors are not model tensors");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
