//! The IDX format of (Fashion-)MNIST, gzip-compressed or raw.

use std::io::Read;
use std::path::Path;

use crate::error::DataError;

/// An IDX array of unsigned bytes with its dimensions.
#[derive(Debug, Clone)]
pub struct IdxArray {
    /// Dimensions, outermost first (`[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// The bytes, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file of `u8` (type code 0x08), decompressing `.gz` files.
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    let format = |message: String| DataError::Format {
        path: path.display().to_string(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| format(e.to_string()))?;
    let mut raw = Vec::new();
    let is_gz = path.extension().is_some_and(|e| e == "gz");
    if is_gz {
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut raw)
            .map_err(|e| format(format!("not a valid gzip file: {e}")))?;
    } else {
        std::io::BufReader::new(file)
            .read_to_end(&mut raw)
            .map_err(|e| format(e.to_string()))?;
    }
    if raw.len() < 4 || raw[0] != 0 || raw[1] != 0 {
        return Err(format("not an IDX file (bad magic number)".into()));
    }
    if raw[2] != 0x08 {
        return Err(format(format!(
            "IDX element type 0x{:02x} is not unsigned byte",
            raw[2]
        )));
    }
    let ndim = raw[3] as usize;
    let header = 4 + 4 * ndim;
    if raw.len() < header {
        return Err(format("truncated IDX header".into()));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            let b = &raw[4 + 4 * i..8 + 4 * i];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let expected: usize = dims.iter().product();
    if raw.len() - header != expected {
        return Err(format(format!(
            "IDX dims {dims:?} need {expected} bytes but the file holds {}",
            raw.len() - header
        )));
    }
    raw.drain(..header);
    Ok(IdxArray { dims, data: raw })
}

/// The IDX file `stem` in `root`, gzip-compressed (`stem.gz`) or raw.
pub(crate) fn find_idx(root: &Path, stem: &str) -> Result<std::path::PathBuf, DataError> {
    for candidate in [root.join(format!("{stem}.gz")), root.join(stem)] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(DataError::Missing {
        message: format!(
            "{stem}[.gz] not found in {}; install Fashion-MNIST with `sudo apt-get install dataset-fashion-mnist` (or `make setup`)",
            root.display()
        ),
    })
}
