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

use crate::budget::TRACE_BUDGET;

/// An open trace file, shared by every instance of one plugin.
pub struct Trace {
    out: Mutex<Output>,
    shown: String,
}

struct Output {
    file: Option<BufWriter<File>>,
    /// Bytes written so far (the file is bounded by [`TRACE_BUDGET`]).
    written: usize,
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
            out: Mutex::new(Output {
                file: Some(BufWriter::new(file)),
                written: 0,
            }),
            shown: path.display().to_string(),
        })
    }

    /// Appends a line. A failed write closes the trace (the run goes on: a trace is a
    /// diagnostic, never a reason to lose training) and says so on stderr once; so does a
    /// trace that reaches [`TRACE_BUDGET`] bytes, after a last line saying so.
    pub fn line(&self, text: &str) {
        let mut guard = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let out = &mut *guard;
        let Some(w) = out.file.as_mut() else {
            return;
        };
        let result = if out.written + text.len() < TRACE_BUDGET {
            writeln!(w, "{text}")
        } else {
            let end = writeln!(w, "(trace cut at {} MiB)", TRACE_BUDGET >> 20);
            eprintln!(
                "weft: trace {} reached {} MiB and stops here",
                self.shown,
                TRACE_BUDGET >> 20
            );
            let _ = w.flush();
            out.file = None;
            return end.unwrap_or(());
        };
        out.written += text.len() + 1;
        if let Err(e) = result {
            eprintln!("weft: trace {} closed after a write error: {e}", self.shown);
            out.file = None;
        }
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let out = self.out.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = out.file.as_mut() {
            let _ = w.flush();
        }
    }
}
