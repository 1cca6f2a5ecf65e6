//! What a plugin writes into the run's outputs: its log lines, stdout and stderr, error
//! messages, stop reasons, metric names and trace lines all pass here.
//!
//! Two rules hold for every byte. Control characters are escaped and every line break is
//! followed by an indent, so that a plugin can neither forge a weft log line (a newline
//! followed by a timestamp) nor drive the terminal (escape sequences), while a traceback
//! still reads as one. And the bytes count against one budget per call, where every line
//! costs at least [`LINE_COST`], so that neither a flood of empty messages nor one huge
//! message fills the disk.

use std::borrow::Cow;

/// Bytes of log output one call may produce (lines, captured stdout and stderr).
pub const CALL_BUDGET: usize = 64 * 1024;

/// What a line costs at least: the timestamp and prefix weft adds to every line.
pub const LINE_COST: usize = 64;

/// The longest error message, stop reason or rejection kept from a plugin.
pub const MESSAGE_MAX: usize = 4 * 1024;

/// The most distinct names a plugin may log scalars under (each becomes a column of every
/// logger).
pub const MAX_SCALAR_NAMES: usize = 64;

/// The most requests one call may make (a flood is a bug, not a schedule).
pub const MAX_REQUESTS_PER_CALL: usize = 4096;

/// The largest saved state a plugin may hand to a checkpoint.
pub const MAX_STATE_BYTES: usize = 16 << 20;

/// The most bytes a plugin's trace file may grow to.
pub const TRACE_BUDGET: usize = 64 << 20;

/// What follows a line break in a plugin's text: no continuation line can start where a
/// weft log line starts (with its timestamp).
pub const CONTINUATION: &str = "\n    ";

/// `text` with line breaks indented ([`CONTINUATION`]) and every other control character but
/// the tab escaped (`\r`, `\u{1b}`, ...).
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str(CONTINUATION),
            '\t' => out.push('\t'),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` escaped and cut to at most `max` bytes (at a character boundary), saying how much
/// was cut.
pub fn clip(text: &str, max: usize) -> String {
    let escaped = escape(text);
    if escaped.len() <= max {
        return escaped.into_owned();
    }
    let mut end = max;
    while !escaped.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}... ({} more bytes cut)",
        &escaped[..end],
        escaped.len() - end
    )
}

/// A per-call byte budget.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    left: usize,
    /// Whether the cut was already announced in this call.
    pub announced: bool,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            left: CALL_BUDGET,
            announced: false,
        }
    }
}

impl Budget {
    /// Takes what a line of `len` bytes costs; false (and nothing taken) when it does not fit.
    pub fn take_line(&mut self, len: usize) -> bool {
        let cost = len.max(LINE_COST);
        if cost > self.left {
            self.left = 0;
            return false;
        }
        self.left -= cost;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_lines_or_drive_the_terminal() {
        let forged = "ok\n2026-01-01 00:00:00,000 - weft - INFO - fake\r\x1b[2J";
        let shown = escape(forged);
        assert!(
            shown.lines().skip(1).all(|l| l.starts_with("    ")),
            "{shown}"
        );
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{shown}"
        );
        assert_eq!(
            shown,
            "ok\n    2026-01-01 00:00:00,000 - weft - INFO - fake\\r\\u{1b}[2J"
        );
        assert!(matches!(escape("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn clipping_keeps_a_prefix_and_says_how_much_went() {
        let long = "é".repeat(3000);
        let c = clip(&long, 101);
        assert!(c.starts_with(&"é".repeat(50)));
        assert!(c.ends_with("... (5900 more bytes cut)"), "{c}");
        assert_eq!(clip("short", 100), "short");
    }

    #[test]
    fn empty_lines_cost_something_so_a_flood_of_them_ends() {
        let mut b = Budget::default();
        let mut lines = 0;
        while b.take_line(0) {
            lines += 1;
        }
        assert_eq!(lines, CALL_BUDGET / LINE_COST);
        assert!(!b.take_line(0));
    }
}
