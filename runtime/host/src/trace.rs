//! A plugin's trace (`trace = "FILE"` on a `custom_imports` entry): one text line per hook
//! call, log message and request, in the order they happened. Plugin authors read it to see
//! exactly what their plugin did; the conformance test compares the traces of the same
//! plugin written in six languages.
//!
//! Values are written with Rust's shortest round-trip formatting, so two traces are equal
//! exactly when the values are bit-for-bit equal.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

/// An open trace file, shared by every instance of one plugin.
pub struct Trace {
    out: Mutex<Option<BufWriter<File>>>,
    shown: String,
}

impl Trace {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> Result<Trace, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let file = File::create(path)
            .map_err(|e| format!("cannot create the trace file {}: {e}", path.display()))?;
        Ok(Trace {
            out: Mutex::new(Some(BufWriter::new(file))),
            shown: path.display().to_string(),
        })
    }

    /// Appends a line. A failed write closes the trace (the run goes on: a trace is a
    /// diagnostic, never a reason to lose training) and says so on stderr once.
    pub fn line(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = out.as_mut()
            && let Err(e) = writeln!(w, "{text}")
        {
            eprintln!("weft: trace {} closed after a write error: {e}", self.shown);
            *out = None;
        }
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let out = self.out.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = out.as_mut() {
            let _ = w.flush();
        }
    }
}
