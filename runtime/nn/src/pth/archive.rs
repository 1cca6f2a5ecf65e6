//! The zip container `torch.save` writes since PyTorch 1.6: `<name>/data.pkl` (the pickle),
//! `<name>/data/<key>` (one record of raw little-endian elements per storage),
//! `<name>/version` and `<name>/byteorder`. Records are stored uncompressed and, when weft
//! writes them, aligned to 64 bytes as PyTorch aligns them (so `torch.load(mmap=True)` works).

use std::collections::HashMap;
use std::io::{Read, Seek, Write};

use tch::{Kind, Tensor};
use zip::write::FileOptions;

use super::PthError;
use super::unpickle::{self, Py, StorageRef, TensorRef};

/// The element type a storage class holds.
pub fn storage_kind(class: &str) -> Option<Kind> {
    Some(match class {
        "FloatStorage" => Kind::Float,
        "DoubleStorage" => Kind::Double,
        "HalfStorage" => Kind::Half,
        "BFloat16Storage" => Kind::BFloat16,
        "LongStorage" => Kind::Int64,
        "IntStorage" => Kind::Int,
        "ShortStorage" => Kind::Int16,
        "CharStorage" => Kind::Int8,
        "ByteStorage" => Kind::Uint8,
        "BoolStorage" => Kind::Bool,
        _ => return None,
    })
}

/// The storage class for an element type.
pub fn storage_class(kind: Kind) -> Option<&'static str> {
    unpickle::STORAGES
        .iter()
        .copied()
        .find(|c| storage_kind(c) == Some(kind))
}

/// A `.pth` opened: its pickle read, its storages loaded on demand.
pub struct Archive<R> {
    zip: zip::ZipArchive<R>,
    prefix: String,
    what: String,
    storages: HashMap<String, Tensor>,
}

impl<R: Read + Seek> Archive<R> {
    /// Opens the archive and reads its pickle.
    pub fn open(reader: R, what: &str) -> Result<(Self, Py), PthError> {
        let zip = zip::ZipArchive::new(reader)
            .map_err(|e| PthError::Format(format!("{what}: not a readable zip archive: {e}")))?;
        let pkl = zip
            .file_names()
            .find(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
            .map(str::to_string)
            .ok_or_else(|| {
                PthError::Format(format!(
                    "{what}: a zip archive without data.pkl, so not a torch.save file"
                ))
            })?;
        let prefix = pkl.trim_end_matches("data.pkl").to_string();
        if zip
            .file_names()
            .any(|n| n == format!("{prefix}constants.pkl"))
        {
            return Err(PthError::Format(format!(
                "{what} is a TorchScript module (torch.jit.save), not a checkpoint of weights"
            )));
        }
        let mut archive = Archive {
            zip,
            prefix,
            what: what.to_string(),
            storages: HashMap::new(),
        };
        if let Some(order) = archive.record("byteorder")?
            && order.trim_ascii() != b"little"
        {
            return Err(PthError::Format(format!(
                "{what}: written on a big-endian machine, which weft does not read"
            )));
        }
        let pickle = archive
            .record("data.pkl")?
            .expect("data.pkl was found above");
        let value = unpickle::read(&pickle, what)?;
        Ok((archive, value))
    }

    fn record(&mut self, name: &str) -> Result<Option<Vec<u8>>, PthError> {
        let full = format!("{}{name}", self.prefix);
        let mut file = match self.zip.by_name(&full) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(PthError::Format(format!("{}: {full}: {e}", self.what))),
        };
        let mut bytes = Vec::with_capacity(file.size().min(1 << 30) as usize);
        file.read_to_end(&mut bytes)
            .map_err(|e| PthError::Format(format!("{}: {full}: {e}", self.what)))?;
        Ok(Some(bytes))
    }

    fn storage(&mut self, s: &StorageRef) -> Result<Tensor, PthError> {
        if let Some(t) = self.storages.get(&s.key) {
            return Ok(t.shallow_clone());
        }
        let kind = storage_kind(&s.class)
            .ok_or_else(|| PthError::Format(format!("{}: storage type {}", self.what, s.class)))?;
        let bytes = self.record(&format!("data/{}", s.key))?.ok_or_else(|| {
            PthError::Format(format!(
                "{}: the record data/{} that a tensor names is missing",
                self.what, s.key
            ))
        })?;
        let expected = s.numel as usize * kind.elt_size_in_bytes();
        if bytes.len() != expected {
            return Err(PthError::Format(format!(
                "{}: storage {} holds {} bytes where {} {:?} elements need {expected}",
                self.what,
                s.key,
                bytes.len(),
                s.numel,
                kind
            )));
        }
        let t = Tensor::f_from_data_size(&bytes, &[s.numel], kind)
            .map_err(|e| PthError::Format(format!("{}: {e}", self.what)))?;
        self.storages.insert(s.key.clone(), t.shallow_clone());
        Ok(t)
    }

    /// The tensor a reference describes, as its own contiguous copy (two views of one
    /// storage do not alias once loaded, as after `torch.load` and `.clone()`).
    pub fn tensor(&mut self, r: &TensorRef) -> Result<Tensor, PthError> {
        let storage = self.storage(&r.storage)?;
        // The last element the view reaches must lie inside the storage.
        let reach = r
            .size
            .iter()
            .zip(&r.stride)
            .try_fold(r.offset, |acc, (&n, &s)| {
                if n == 0 {
                    Some(acc)
                } else {
                    acc.checked_add((n - 1).checked_mul(s)?)
                }
            });
        let empty = r.size.contains(&0);
        if !empty && !matches!(reach, Some(last) if r.offset >= 0 && last < r.storage.numel) {
            return Err(PthError::Format(format!(
                "{}: a tensor of size {:?} and stride {:?} at offset {} overruns its storage of {}",
                self.what, r.size, r.stride, r.offset, r.storage.numel
            )));
        }
        if empty {
            return Ok(Tensor::empty(&r.size, (storage.kind(), tch::Device::Cpu)));
        }
        storage
            .f_as_strided(&r.size, &r.stride, r.offset)
            .and_then(|v| v.f_contiguous())
            .and_then(|v| v.f_detach_copy())
            .map_err(|e| PthError::Format(format!("{}: {e}", self.what)))
    }
}

/// Writes `pickle` and the tensors' storages as a `torch.save` zip archive named `name`
/// (`archive` is what PyTorch names it). `storages[i]` is the record `data/<i>`.
pub fn write<W: Write + Seek>(
    out: W,
    name: &str,
    pickle: &[u8],
    storages: &[Tensor],
) -> Result<(), PthError> {
    let io = |e: zip::result::ZipError| PthError::Io(e.to_string());
    let mut zip = zip::ZipWriter::new(out);
    let stored = FileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    zip.start_file(format!("{name}/data.pkl"), stored)
        .map_err(io)?;
    zip.write_all(pickle)
        .map_err(|e| PthError::Io(e.to_string()))?;
    zip.start_file(format!("{name}/byteorder"), stored)
        .map_err(io)?;
    zip.write_all(b"little")
        .map_err(|e| PthError::Io(e.to_string()))?;
    for (i, t) in storages.iter().enumerate() {
        let numel = t.numel();
        let mut bytes = vec![0u8; numel * t.kind().elt_size_in_bytes()];
        t.f_copy_data_u8(&mut bytes, numel)
            .map_err(|e| PthError::Io(e.to_string()))?;
        let large = bytes.len() >= u32::MAX as usize;
        zip.start_file_aligned(format!("{name}/data/{i}"), stored.large_file(large), 64)
            .map_err(io)?;
        zip.write_all(&bytes)
            .map_err(|e| PthError::Io(e.to_string()))?;
    }
    zip.start_file(format!("{name}/version"), stored)
        .map_err(io)?;
    zip.write_all(b"3\n")
        .map_err(|e| PthError::Io(e.to_string()))?;
    zip.finish().map_err(io)?;
    Ok(())
}
