//! Where every configuration value came from, so that an error can point at it.
//!
//! Values are merged from several files and from `--cfg-options`; each keeps an [`Origin`] that
//! survives the merge. A [`Sources`] table owns the texts and turns a byte span into a line and
//! column only when an error is rendered.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceId(pub(crate) u32);

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A byte range in a configuration file.
    File {
        /// The file.
        source: SourceId,
        /// Byte range of the value (or key) in the file's text.
        span: Range<usize>,
    },
    /// A `--cfg-options` token, by its text.
    CommandLine(Arc<str>),
    /// Put there by weft itself (a default, or a value built in code).
    Builtin,
}

/// One loaded configuration file.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user gave it (or as resolved from `_base_`).
    pub path: PathBuf,
    /// The text after predefined-variable substitution, which is what the spans refer to.
    pub text: String,
}

/// All files that took part in building one configuration.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub(crate) fn add(&mut self, path: PathBuf, text: String) -> SourceId {
        self.files.push(SourceFile { path, text });
        SourceId((self.files.len() - 1) as u32)
    }

    /// The file behind an id.
    pub fn file(&self, id: SourceId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Every file, in the order they were read.
    pub fn files(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter()
    }

    /// Turns an origin into a printable location.
    pub fn locate(&self, origin: &Origin) -> Location {
        match origin {
            Origin::File { source, span } => {
                let file = self.file(*source);
                let (line, column, line_text) = line_column(&file.text, span.start);
                let width = span.end.saturating_sub(span.start).max(1);
                Location::File {
                    path: file.path.clone(),
                    line,
                    column,
                    line_text,
                    width,
                }
            }
            Origin::CommandLine(arg) => Location::CommandLine(arg.to_string()),
            Origin::Builtin => Location::Builtin,
        }
    }
}

/// A resolved position, independent of [`Sources`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `path:line:column`, 1-based, with the text of that line for a snippet.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The whole line, without its newline.
        line_text: String,
        /// How many characters to underline (at least 1).
        width: usize,
    },
    /// A `--cfg-options` argument.
    CommandLine(String),
    /// A value weft supplied.
    Builtin,
}

impl Location {
    /// The path of the file, if the location is in one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Location::File { path, .. } => Some(path),
            _ => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File {
                path, line, column, ..
            } => write!(f, "{}:{line}:{column}", path.display()),
            Location::CommandLine(arg) => write!(f, "--cfg-options {arg}"),
            Location::Builtin => f.write_str("<built-in default>"),
        }
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize, String) {
    // A span from a byte-level reader may end inside a character: step back to its start.
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line_text = text[line_start..line_end]
        .trim_end_matches('\r')
        .to_string();
    (line, column, line_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_inside_a_character_points_at_the_character() {
        // Found by `make fuzz` (python_config): `<(Ö` with an error one byte into the `Ö`.
        assert_eq!(line_column("<(\u{d6}", 3), (1, 3, "<(\u{d6}".to_string()));
    }

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        let offset = text.find('2').unwrap();
        let (line, column, line_text) = line_column(text, offset);
        assert_eq!((line, column), (2, 6));
        assert_eq!(line_text, "bé = 2");
    }
}
