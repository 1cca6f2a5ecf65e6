//! The run's text log: MMCV's `%(asctime)s - %(name)s - %(levelname)s - %(message)s` lines to
//! the console and to `work_dir/<timestamp>.log`.

use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Normal progress.
    Info,
    /// Something the user should look at.
    Warning,
    /// A failure.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
        }
    }
}

/// Where log lines go. Cheap to clone: clones share the same sinks.
#[derive(Clone, Default)]
pub struct RunLog {
    inner: Arc<Mutex<Sinks>>,
}

/// Prints console lines somewhere else than stdout (above a progress bar).
pub type ConsolePrinter = Box<dyn Fn(&str) + Send>;

#[derive(Default)]
struct Sinks {
    // Line-buffered: every line reaches the file as it is printed, so a live run can be
    // followed with `tail -f` and `kill -9` loses nothing that was shown.
    file: Option<LineWriter<File>>,
    console: bool,
    printer: Option<ConsolePrinter>,
    captured: Option<Vec<String>>,
    /// Also print warnings and errors to stderr (commands whose stdout is their output).
    stderr_warnings: bool,
    file_failed: bool,
}

impl RunLog {
    /// A log that prints to stderr-free stdout (the console).
    pub fn console() -> RunLog {
        let log = RunLog::default();
        log.inner.lock().expect("log lock").console = true;
        log
    }

    /// A log for commands whose stdout is their result (`print-config`, `param-groups`):
    /// warnings and errors go to stderr, the rest nowhere.
    pub fn warnings_to_stderr() -> RunLog {
        let log = RunLog::default();
        log.inner.lock().expect("log lock").stderr_warnings = true;
        log
    }

    /// A log that keeps messages in memory (tests).
    pub fn capturing() -> RunLog {
        let log = RunLog::default();
        log.inner.lock().expect("log lock").captured = Some(Vec::new());
        log
    }

    /// Whether console lines are printed.
    pub fn is_console(&self) -> bool {
        self.inner.lock().expect("log lock").console
    }

    /// Routes console lines through `printer` (a progress bar's `println`, so that lines
    /// appear above the bar); `None` prints to stdout again.
    pub fn set_console_printer(&self, printer: Option<ConsolePrinter>) {
        self.inner.lock().expect("log lock").printer = printer;
    }

    /// Also write to `path` (created or appended).
    pub fn open_file(&self, path: &Path) -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        self.inner.lock().expect("log lock").file = Some(LineWriter::new(file));
        Ok(())
    }

    /// Logs at INFO.
    pub fn info(&self, message: &str) {
        self.write(Level::Info, message);
    }

    /// Logs at WARNING.
    pub fn warn(&self, message: &str) {
        self.write(Level::Warning, message);
    }

    /// Logs at ERROR.
    pub fn error(&self, message: &str) {
        self.write(Level::Error, message);
    }

    /// Logs a message at a level.
    pub fn write(&self, level: Level, message: &str) {
        let stamp = chrono::Local::now().format("%Y-%m-%d %H:%M:%S,%3f");
        let line = format!("{stamp} - weft - {} - {message}", level.as_str());
        let mut sinks = self.inner.lock().expect("log lock");
        if sinks.console {
            match &sinks.printer {
                Some(print) => print(&line),
                None => println!("{line}"),
            }
        }
        if let Some(file) = &mut sinks.file {
            // A full disk must not stop training: warn once on the console and go on.
            if writeln!(file, "{line}").is_err() && !sinks.file_failed {
                sinks.file_failed = true;
                eprintln!("weft: warning: cannot write the text log; continuing without it");
            }
        }
        if sinks.stderr_warnings && level != Level::Info {
            eprintln!("{}: {message}", level.as_str().to_lowercase());
        }
        if let Some(captured) = &mut sinks.captured {
            captured.push(format!("{} - {message}", level.as_str()));
        }
    }

    /// Messages captured so far (`LEVEL - message`), for tests.
    pub fn captured(&self) -> Vec<String> {
        self.inner
            .lock()
            .expect("log lock")
            .captured
            .clone()
            .unwrap_or_default()
    }

    /// Flushes the file.
    pub fn flush(&self) {
        if let Some(file) = &mut self.inner.lock().expect("log lock").file {
            let _ = file.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_the_file_as_they_are_written() {
        let dir = std::env::temp_dir().join(format!("weft-run-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run.log");
        let log = RunLog::default();
        log.open_file(&path).unwrap();
        log.info("first line");
        // No flush, no drop: the line is in the file already (a killed process keeps it).
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with(" - weft - INFO - first line\n"), "{text:?}");
        log.warn("second\nline");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("WARNING - second\nline\n"), "{text:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
