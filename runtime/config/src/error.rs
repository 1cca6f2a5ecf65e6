//! Configuration errors: one message, the place it refers to, and a hint when there is one.

use std::fmt;
use std::path::PathBuf;

use crate::source::{Location, Origin, Sources};

/// What went wrong, for callers that react to the kind of error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read.
    Io,
    /// The text is not valid TOML.
    Syntax,
    /// `_base_` names a file that does not exist, or the chain of bases loops.
    Base,
    /// Two bases define the same top-level key.
    DuplicateBaseKey,
    /// A child table cannot merge into a base value of another type.
    MergeType,
    /// A `--cfg-options` token is malformed or cannot be applied.
    Options,
    /// A key the schema does not know.
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value of the wrong type or out of range.
    InvalidValue,
    /// A `type` that no registry knows.
    UnknownType,
    /// A reserved key (`filename`, `text`, `pretty_text`) was used.
    Reserved,
}

/// A configuration error with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The kind of error.
    pub kind: ErrorKind,
    /// One sentence saying what is wrong.
    pub message: String,
    /// Where (resolved), if the error refers to a place (boxed to keep `Result`s small).
    pub location: Option<Box<Location>>,
    /// What to do about it, when we can say.
    pub help: Option<String>,
}

impl ConfigError {
    /// An error without a location yet.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ConfigError {
            kind,
            message: message.into(),
            location: None,
            help: None,
        }
    }

    /// An error at a node's origin.
    pub fn at(
        kind: ErrorKind,
        message: impl Into<String>,
        origin: &Origin,
        sources: &Sources,
    ) -> Self {
        ConfigError::new(kind, message).with_location(sources.locate(origin))
    }

    /// Sets the location unless one is already set (the innermost location wins).
    pub fn with_location(mut self, location: Location) -> Self {
        if self.location.is_none() {
            self.location = Some(Box::new(location));
        }
        self
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn io(path: &std::path::Path, err: &std::io::Error) -> Self {
        ConfigError::new(
            ErrorKind::Io,
            format!("cannot read config file {}: {err}", path.display()),
        )
    }

    /// The file the error points into, if any.
    pub fn path(&self) -> Option<PathBuf> {
        self.location.as_ref()?.path().map(|p| p.to_path_buf())
    }
}

impl fmt::Display for ConfigError {
    /// Renders like rustc/cargo: the message, `--> file:line:column`, the line and a caret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        match self.location.as_deref() {
            Some(
                loc @ Location::File {
                    line,
                    column,
                    line_text,
                    width,
                    ..
                },
            ) => {
                let gutter = line.to_string().len();
                let pad = " ".repeat(gutter);
                let shown: String = line_text.chars().collect();
                let avail = shown.chars().count().saturating_sub(column - 1).max(1);
                let marks = "^".repeat((*width).min(avail));
                write!(
                    f,
                    "\n{pad}--> {loc}\n{pad} |\n{line} | {shown}\n{pad} | {}{marks}",
                    " ".repeat(column - 1)
                )?;
            }
            Some(loc @ Location::CommandLine(_)) => write!(f, "\n  --> {loc}")?,
            Some(Location::Builtin) | None => {}
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The closest of `known` to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    known
        .into_iter()
        .filter_map(|k| {
            let candidate = k.to_ascii_lowercase();
            // Edit distance with transpositions: "SDG" is one step from "SGD".
            let distance = strsim::osa_distance(&lower, &candidate);
            let prefix = candidate.starts_with(&lower) || lower.starts_with(&candidate);
            let limit = (lower.len().max(candidate.len()) / 3).max(1);
            (distance <= limit || (prefix && lower.len() >= 3)).then_some((distance, k))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// "unknown X `name`; known: a, b, c. Did you mean `b`?" in one place for every registry.
pub fn unknown_name_error<'a>(
    what: &str,
    name: &str,
    known: impl IntoIterator<Item = &'a str> + Clone,
) -> ConfigError {
    let list: Vec<&str> = known.clone().into_iter().collect();
    let mut err = ConfigError::new(
        ErrorKind::UnknownType,
        format!("`{name}` is not in the {what} registry"),
    );
    let mut help = format!("known {what} types: {}", list.join(", "));
    if let Some(best) = closest(name, known) {
        help = format!("did you mean `{best}`? {help}");
    }
    err.help = Some(help);
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_known_name() {
        assert_eq!(closest("SDG", ["SGD", "Adam", "AdamW"]), Some("SGD"));
        assert_eq!(closest("lenet", ["LeNet5", "ResNet"]), Some("LeNet5"));
        assert_eq!(closest("Transformer", ["SGD", "Adam"]), None);
    }

    #[test]
    fn renders_location_and_caret() {
        let err = ConfigError::new(ErrorKind::UnknownKey, "unknown field `lerning_rate`")
            .with_location(Location::File {
                path: "c.toml".into(),
                line: 3,
                column: 3,
                line_text: "  lerning_rate = 1".into(),
                width: 12,
            });
        let text = err.to_string();
        assert!(text.contains("--> c.toml:3:3"), "{text}");
        assert!(text.contains("3 |   lerning_rate = 1"), "{text}");
        assert!(text.ends_with("  ^^^^^^^^^^^^"), "{text}");
    }
}
