//! TensorBoard event files, written directly: TFRecord framing around hand-encoded `Event`
//! protobufs (the handful of fields scalars and text need), so weft needs neither protoc nor
//! a protobuf runtime.
//!
//! A record is `u64 length, u32 masked CRC-32C of the length, data, u32 masked CRC-32C of the
//! data`; TensorBoard silently drops a record whose checksum is wrong, so the framing must be
//! exact (the tests read files back with TensorBoard's own reader).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// TFRecord's checksum: CRC-32C, rotated and offset so that CRCs of CRCs stay distinctive.
fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A field key: number and wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
fn key(field: u32, wire: u8, out: &mut Vec<u8>) {
    varint(u64::from(field) << 3 | u64::from(wire), out);
}

fn bytes_field(field: u32, data: &[u8], out: &mut Vec<u8>) {
    key(field, 2, out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

/// `Event { wall_time = 1, step = 2, file_version = 3 | summary = 5 }`.
fn event(wall_time: f64, step: i64, body: EventBody<'_>) -> Vec<u8> {
    let mut e = Vec::with_capacity(64);
    key(1, 1, &mut e);
    e.extend_from_slice(&wall_time.to_le_bytes());
    key(2, 0, &mut e);
    varint(step as u64, &mut e);
    match body {
        EventBody::FileVersion(v) => bytes_field(3, v.as_bytes(), &mut e),
        EventBody::Summary(value) => {
            // Summary { repeated Value value = 1 }
            let mut summary = Vec::with_capacity(value.len() + 4);
            bytes_field(1, &value, &mut summary);
            bytes_field(5, &summary, &mut e);
        }
    }
    e
}

enum EventBody<'a> {
    FileVersion(&'a str),
    Summary(Vec<u8>),
}

/// `Summary.Value { tag = 1, simple_value = 2 }`.
fn scalar_value(tag: &str, value: f32) -> Vec<u8> {
    let mut v = Vec::with_capacity(tag.len() + 8);
    bytes_field(1, tag.as_bytes(), &mut v);
    key(2, 5, &mut v);
    v.extend_from_slice(&value.to_le_bytes());
    v
}

/// `Summary.Value { tag = 1, tensor = 8, metadata = 9 }` holding a string tensor for the text
/// plugin: `TensorProto { dtype = 1 (DT_STRING = 7), tensor_shape = 2, string_val = 8 }`,
/// `SummaryMetadata { plugin_data = 1 { plugin_name = 1 } }`.
fn text_value(tag: &str, text: &str) -> Vec<u8> {
    let mut tensor = Vec::with_capacity(text.len() + 8);
    key(1, 0, &mut tensor);
    varint(7, &mut tensor);
    bytes_field(2, &[], &mut tensor);
    bytes_field(8, text.as_bytes(), &mut tensor);
    let mut plugin = Vec::new();
    bytes_field(1, b"text", &mut plugin);
    let mut metadata = Vec::new();
    bytes_field(1, &plugin, &mut metadata);
    let mut v = Vec::with_capacity(tag.len() + tensor.len() + metadata.len() + 8);
    bytes_field(1, tag.as_bytes(), &mut v);
    bytes_field(8, &tensor, &mut v);
    bytes_field(9, &metadata, &mut v);
    v
}

/// Seconds since the Unix epoch, as event timestamps are.
pub fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// An open event file.
pub struct EventWriter {
    path: PathBuf,
    file: BufWriter<File>,
}

impl EventWriter {
    /// Creates `dir/events.out.tfevents.<seconds>.<host>.<pid>.0` (TensorBoard's naming) and
    /// writes the file-version record.
    pub fn create(dir: &Path) -> io::Result<EventWriter> {
        std::fs::create_dir_all(dir)?;
        let now = wall_time();
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let path = dir.join(format!(
            "events.out.tfevents.{}.{host}.{}.0",
            now as u64,
            std::process::id()
        ));
        let file = BufWriter::new(File::create(&path)?);
        let mut w = EventWriter { path, file };
        w.record(&event(now, 0, EventBody::FileVersion("brain.Event:2")))?;
        w.flush()?;
        Ok(w)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn record(&mut self, data: &[u8]) -> io::Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        self.file.write_all(&len)?;
        self.file.write_all(&masked_crc(&len).to_le_bytes())?;
        self.file.write_all(data)?;
        self.file.write_all(&masked_crc(data).to_le_bytes())
    }

    /// A scalar (TensorBoard stores them as f32).
    pub fn scalar(&mut self, tag: &str, step: i64, value: f64) -> io::Result<()> {
        let e = event(
            wall_time(),
            step,
            EventBody::Summary(scalar_value(tag, value as f32)),
        );
        self.record(&e)
    }

    /// A text entry (the Text dashboard).
    pub fn text(&mut self, tag: &str, step: i64, text: &str) -> io::Result<()> {
        let e = event(wall_time(), step, EventBody::Summary(text_value(tag, text)));
        self.record(&e)
    }

    /// Writes buffered records to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_masked_crcs_follow_the_formats() {
        let mut v = Vec::new();
        varint(300, &mut v);
        assert_eq!(v, [0xac, 0x02]);
        // CRC-32C("123456789") is 0xe3069283 (the standard check value).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(
            masked_crc(b"123456789"),
            0xe306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }

    #[test]
    fn a_scalar_value_encodes_tag_and_float() {
        let v = scalar_value("a", 1.0);
        assert_eq!(v, [0x0a, 1, b'a', 0x15, 0, 0, 0x80, 0x3f]);
    }
}
