//! Checkpoints as safetensors files: model tensors under PyTorch names, optimizer state under
//! `optimizer.<parameter>.<key>`, and the run metadata as JSON in the header. Written to a
//! temporary file, synced and renamed, so a crash never leaves a partial file behind.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use tch::{Device, Kind, TchError, Tensor};

/// Prefix of optimizer-state tensors.
pub const OPTIMIZER_PREFIX: &str = "optimizer.";
/// Header key holding weft's JSON metadata.
pub const META_KEY: &str = "weft";

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
    let mut bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
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
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&serialized)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
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
}

/// Reads a safetensors file.
pub fn read(path: &Path) -> Result<Loaded, TchError> {
    let data = std::fs::read(path)?;
    let parsed = safetensors::SafeTensors::deserialize(&data).map_err(|e| {
        TchError::FileFormat(format!("{} is not a safetensors file: {e}", path.display()))
    })?;
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&data)
        .map_err(|e| TchError::FileFormat(format!("{}: {e}", path.display())))?;
    let meta = metadata
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
    Ok(Loaded { tensors, meta })
}
