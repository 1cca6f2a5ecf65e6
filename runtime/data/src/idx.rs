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
    read_idx_first(path, None)
}

/// Reads the first `limit` items (along the first dimension) of an IDX file of `u8`, or all
/// of them. A run that asks for 960 Fashion-MNIST images then inflates 0.75 MB of the 47 MB
/// file instead of all of it; the rest of the file is not read, so only a whole read checks
/// that the file holds no more and no less than its header says.
pub fn read_idx_first(path: &Path, limit: Option<usize>) -> Result<IdxArray, DataError> {
    let format = |message: String| DataError::Format {
        path: path.display().to_string(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| format(e.to_string()))?;
    let is_gz = path.extension().is_some_and(|e| e == "gz");
    let mut reader: Box<dyn Read> = if is_gz {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    let read_err = |e: std::io::Error| {
        format(if is_gz {
            format!("not a valid gzip file: {e}")
        } else {
            e.to_string()
        })
    };
    // `take` then `read_to_end`: the bytes asked for, or fewer where the input ends.
    let mut read = |n: usize| -> Result<Vec<u8>, DataError> {
        // Not preallocated: a corrupt header may claim any size.
        let mut buf = Vec::new();
        (&mut reader)
            .take(n as u64)
            .read_to_end(&mut buf)
            .map_err(read_err)?;
        Ok(buf)
    };
    let magic = read(4)?;
    if magic.len() < 4 || magic[0] != 0 || magic[1] != 0 {
        return Err(format("not an IDX file (bad magic number)".into()));
    }
    if magic[2] != 0x08 {
        return Err(format(format!(
            "IDX element type 0x{:02x} is not unsigned byte",
            magic[2]
        )));
    }
    let header = read(4 * magic[3] as usize)?;
    if header.len() < 4 * magic[3] as usize {
        return Err(format("truncated IDX header".into()));
    }
    let mut dims: Vec<usize> = header
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let expected: usize = dims.iter().product();
    // A limit below the item count cuts the first dimension; otherwise the whole file is read
    // and must end where its header says.
    let cut = match (limit, dims.first()) {
        (Some(limit), Some(&n)) if n > limit => Some(limit),
        _ => None,
    };
    let need = match cut {
        Some(limit) => limit * dims[1..].iter().product::<usize>(),
        None => expected,
    };
    let data = read(need)?;
    let short = data.len() < need;
    if short || (cut.is_none() && !read(1)?.is_empty()) {
        let holds = if short {
            format!("{}", data.len())
        } else {
            "more".into()
        };
        let verb = if cut.is_some() { "ends after" } else { "holds" };
        return Err(format(format!(
            "IDX dims {dims:?} need {expected} bytes but the file {verb} {holds}"
        )));
    }
    if let Some(limit) = cut {
        dims[0] = limit;
    }
    Ok(IdxArray { dims, data })
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// An IDX file of `n` items of 2x3 bytes (item i is six bytes of value i), gzipped or raw,
    /// with `cut` bytes missing from its end.
    fn write(name: &str, n: u8, gz: bool, cut: usize) -> std::path::PathBuf {
        let mut bytes = vec![0, 0, 0x08, 3];
        for d in [n as u32, 2, 3] {
            bytes.extend(d.to_be_bytes());
        }
        for i in 0..n {
            bytes.extend([i; 6]);
        }
        bytes.truncate(bytes.len() - cut);
        let dir = std::env::temp_dir().join(format!("weft-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        if gz {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&bytes).unwrap();
            std::fs::write(&path, e.finish().unwrap()).unwrap();
        } else {
            std::fs::write(&path, bytes).unwrap();
        }
        path
    }

    #[test]
    fn a_limit_reads_the_first_items_and_a_whole_read_checks_the_length() {
        for (gz, name) in [(true, "items.gz"), (false, "items")] {
            let path = write(name, 5, gz, 0);
            let all = read_idx(&path).unwrap();
            assert_eq!(all.dims, [5, 2, 3]);
            assert_eq!(all.data.len(), 30);
            let first = read_idx_first(&path, Some(2)).unwrap();
            assert_eq!(first.dims, [2, 2, 3]);
            assert_eq!(first.data, [[0u8; 6], [1; 6]].concat());
            // A limit beyond the file reads it whole.
            assert_eq!(read_idx_first(&path, Some(9)).unwrap().dims, [5, 2, 3]);
        }
        // Ten bytes short (the fourth item cut): a whole read fails, and so does a limit
        // reaching into the gap, but the first three items are still there.
        let short = write("short.gz", 5, true, 10);
        let e = read_idx(&short).unwrap_err().to_string();
        assert!(e.contains("need 30 bytes but the file holds 20"), "{e}");
        let e = read_idx_first(&short, Some(5)).unwrap_err().to_string();
        assert!(e.contains("need 30 bytes"), "{e}");
        let e = read_idx_first(&short, Some(4)).unwrap_err();
        assert!(e.to_string().contains("ends after 20"), "{e}");
        assert_eq!(read_idx_first(&short, Some(3)).unwrap().data.len(), 18);
        // A byte past the end the header gives: a whole read refuses it, a cut one never
        // reaches it.
        let long = write("long", 5, false, 0);
        let mut bytes = std::fs::read(&long).unwrap();
        bytes.push(7);
        std::fs::write(&long, bytes).unwrap();
        let e = read_idx(&long).unwrap_err().to_string();
        assert!(e.contains("need 30 bytes but the file holds more"), "{e}");
        assert_eq!(read_idx_first(&long, Some(4)).unwrap().dims, [4, 2, 3]);
        let e = read_idx(&write("header", 5, false, 30 + 4)).unwrap_err();
        assert!(e.to_string().contains("truncated IDX header"), "{e}");
    }
}
