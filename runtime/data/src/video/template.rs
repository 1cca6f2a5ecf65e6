//! `filename_tmpl`: the Python format string that names a frame file (`img_{:05}.jpg`).
//!
//! The subset frame names use: literal text (`{{` and `}}` for braces) around one integer
//! field, `{}`, `{:d}`, `{:5}` (space-padded) or `{:05}` / `{:05d}` (zero-padded).

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilenameTemplate {
    before: String,
    after: String,
    width: usize,
    zeros: bool,
}

impl FilenameTemplate {
    /// Parses a template; an error says what is supported.
    pub fn parse(text: &str) -> Result<FilenameTemplate, String> {
        let unsupported = || {
            format!(
                "filename_tmpl {text:?} is not supported: write one integer field such as \
                 `img_{{:05}}.jpg` (`{{}}`, `{{:d}}`, `{{:5}}`, `{{:05d}}`)"
            )
        };
        let mut parts = [String::new(), String::new()];
        let mut field: Option<String> = None;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let part = &mut parts[usize::from(field.is_some())];
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    part.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    part.push('}');
                }
                '{' if field.is_none() => {
                    let mut spec = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(ch) => spec.push(ch),
                            None => return Err(unsupported()),
                        }
                    }
                    field = Some(spec);
                }
                '{' | '}' => return Err(unsupported()),
                _ => part.push(c),
            }
        }
        let Some(spec) = field else {
            return Err(unsupported());
        };
        let spec = match spec.strip_prefix(':') {
            Some(rest) => rest,
            None if spec.is_empty() => "",
            None => return Err(unsupported()),
        };
        let spec = spec.strip_suffix('d').unwrap_or(spec);
        let zeros = spec.starts_with('0') && spec.len() > 1;
        let width = if spec.is_empty() {
            0
        } else {
            spec.parse::<usize>().map_err(|_| unsupported())?
        };
        if width > 64 {
            return Err(unsupported());
        }
        let [before, after] = parts;
        Ok(FilenameTemplate {
            before,
            after,
            width,
            zeros,
        })
    }

    /// The file name of frame `index`.
    pub fn format(&self, index: usize) -> String {
        let w = self.width;
        if self.zeros {
            format!("{}{index:0w$}{}", self.before, self.after)
        } else {
            format!("{}{index:>w$}{}", self.before, self.after)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_forms_frame_names_use_format_like_python() {
        let t = |s: &str, i| FilenameTemplate::parse(s).unwrap().format(i);
        assert_eq!(t("img_{:05}.jpg", 7), "img_00007.jpg");
        assert_eq!(t("img_{:05d}.jpg", 123456), "img_123456.jpg");
        assert_eq!(t("{}.png", 12), "12.png");
        assert_eq!(t("f{:d}", 3), "f3");
        assert_eq!(t("f{:4}", 3), "f   3");
        assert_eq!(t("{{x}}_{:03}", 9), "{x}_009");
    }

    #[test]
    fn other_forms_are_refused() {
        for bad in ["img.jpg", "{}_{}.jpg", "{:x}", "{0}", "{:05", "a}b{}"] {
            assert!(FilenameTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
