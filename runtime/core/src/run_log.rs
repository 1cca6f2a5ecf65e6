//! The run's text log: MMCV's `%(asctime)s - %(name)s - %(levelname)s - %(message)s` lines to
//! the console and to `work_dir/<timestamp>.log`.

use std::fs::File;
use std::io::{BufWriter, Write};
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
    file: Option<BufWriter<File>>,
    console: bool,
    printer: Option<ConsolePrinter>,
    captured: Option<Vec<String>>,
    file_failed: bool,
}

impl RunLog {
    /// A log that prints to stderr-free stdout (the console).
    pub fn console() -> RunLog {
        let log = RunLog::default();
        log.inner.lock().expect("log lock").console = true;
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
        self.inner.lock().expect("log lock").file = Some(BufWriter::new(file));
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
