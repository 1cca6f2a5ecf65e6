//! MMAction2's annotation lists, read as `RawframeDataset` and `VideoDataset` read them:
//! whitespace-separated fields, one sample per line, paths joined to `data_prefix`.
//!
//! ```text
//! rawframes:              clip_000001 16 3          (frame dir, total frames, label)
//! rawframes, with_offset: clip_000001 12 16 3       (frame dir, offset, total frames, label)
//! videos:                 clip_000001.mp4 3         (file, label)
//! ```

use std::path::{Path, PathBuf};

/// Which layout the list describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Directories of frame images.
    Rawframes {
        /// Lines carry the clip's first frame before its length.
        with_offset: bool,
    },
    /// Video files.
    Videos,
}

/// One sample of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The frame directory or video file, joined to `data_prefix`.
    pub path: PathBuf,
    /// Frames in the clip (rawframes only; a video's count comes from the file).
    pub total_frames: Option<usize>,
    /// Added to every frame index (rawframes `with_offset`).
    pub offset: usize,
    /// The class.
    pub label: usize,
    /// The line it came from (1-based), for messages.
    pub line: usize,
}

/// Parses a list's text; an error names the line and says what it expected.
pub fn parse(
    text: &str,
    layout: Layout,
    prefix: Option<&Path>,
    num_classes: Option<usize>,
) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let fields: Vec<&str> = raw.split_whitespace().collect();
        if fields.is_empty() {
            // MMAction2 fails on a blank line; a trailing one is common enough to allow.
            continue;
        }
        let (shape, numbers) = match layout {
            Layout::Rawframes { with_offset: false } => ("`DIR TOTAL_FRAMES LABEL`", 2),
            Layout::Rawframes { with_offset: true } => ("`DIR OFFSET TOTAL_FRAMES LABEL`", 3),
            Layout::Videos => ("`FILE LABEL`", 1),
        };
        if fields.len() != numbers + 1 {
            let hint = if fields.len() > numbers + 1 {
                " (several labels per line need `multi_class`, which weft does not support)"
            } else {
                ""
            };
            return Err(format!(
                "line {line}: expected {shape}, found {} field(s): {raw:?}{hint}",
                fields.len()
            ));
        }
        let number = |k: usize, what: &str| {
            fields[k].parse::<usize>().map_err(|_| {
                format!(
                    "line {line}: the {what} must be a whole number, not {:?}",
                    fields[k]
                )
            })
        };
        let label = number(numbers, "label")?;
        if let Some(n) = num_classes
            && label >= n
        {
            return Err(format!(
                "line {line}: label {label} is outside num_classes = {n} (labels are 0-{})",
                n - 1
            ));
        }
        let (offset, total_frames) = match layout {
            Layout::Rawframes { with_offset: false } => (0, Some(number(1, "frame count")?)),
            Layout::Rawframes { with_offset: true } => {
                (number(1, "offset")?, Some(number(2, "frame count")?))
            }
            Layout::Videos => (0, None),
        };
        if total_frames == Some(0) {
            return Err(format!(
                "line {line}: a clip with 0 frames cannot be sampled"
            ));
        }
        let path = match prefix {
            Some(p) => p.join(fields[0]),
            None => PathBuf::from(fields[0]),
        };
        entries.push(Entry {
            path,
            total_frames,
            offset,
            label,
            line,
        });
    }
    if entries.is_empty() {
        return Err("the list has no samples".into());
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: Layout = Layout::Rawframes { with_offset: false };

    #[test]
    fn both_layouts_parse_and_join_the_prefix() {
        let e = parse(
            "clip_1 16 3\nclip_2 8 0\n\n",
            RAW,
            Some(Path::new("/d")),
            None,
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].path, Path::new("/d/clip_1"));
        assert_eq!((e[0].total_frames, e[0].label, e[0].line), (Some(16), 3, 1));
        let v = parse("a.mp4 2\n", Layout::Videos, None, Some(10)).unwrap();
        assert_eq!(
            (v[0].path.as_path(), v[0].total_frames, v[0].label),
            (Path::new("a.mp4"), None, 2)
        );
        let o = parse(
            "c 12 16 3",
            Layout::Rawframes { with_offset: true },
            None,
            None,
        )
        .unwrap();
        assert_eq!((o[0].offset, o[0].total_frames), (12, Some(16)));
    }

    #[test]
    fn bad_lines_name_the_line_and_what_was_expected() {
        let e = parse("a 16 3\nb sixteen 3\n", RAW, None, None).unwrap_err();
        assert!(e.starts_with("line 2:") && e.contains("frame count"), "{e}");
        let e = parse("a 16 3 4\n", RAW, None, None).unwrap_err();
        assert!(e.contains("multi_class"), "{e}");
        let e = parse("a.mp4 12\n", Layout::Videos, None, Some(10)).unwrap_err();
        assert!(e.contains("outside num_classes = 10"), "{e}");
        assert!(
            parse("a 0 1", RAW, None, None)
                .unwrap_err()
                .contains("0 frames")
        );
        assert!(parse("\n\n", RAW, None, None).is_err());
    }
}
