//! # weft-sdk-tables: the guest SDKs' hook-point tables, generated from the WIT
//!
//! Every guest SDK (Rust, Python, JavaScript, C, Go, Zig) lists the hook points several times:
//! the methods a hook may define, the exports the component model requires, the switch that
//! maps a point to its method; the host lists them once more, to convert its points to the
//! WIT's. Written by hand they drift from the WIT and from each other
//! (they once disagreed on which side applied MMCV's generic fallbacks). Here they are
//! rendered from the `hook-point` enum of `wit/<version>/types.wit`, in the enum's order, and
//! spliced between marker lines in the SDK files:
//!
//! ```text
//! // @generated <block>: from wit/ by `make sdk-tables`; do not edit
//! ...
//! // @end <block>
//! ```
//!
//! The tables carry no fallback: the host resolves MMCV's specific-to-generic rule
//! (`weft_core::Stage::generic`) over the points a hook lists, once, for every language.
//! `cargo run -p weft-sdk-tables` rewrites the files; the tests fail when a checked-in table
//! is stale.

mod render;

use std::path::{Path, PathBuf};

pub use render::BLOCKS;

/// The WIT folder the SDKs are built against.
pub const WIT_DIR: &str = "wit/since_v0.1.0";

/// One case of the WIT `hook-point` enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// The WIT name, `before-train-epoch`.
    pub kebab: String,
    /// Its documentation, one string per line.
    pub docs: Vec<String>,
}

impl Point {
    /// `before_train_epoch`.
    pub fn snake(&self) -> String {
        self.kebab.replace('-', "_")
    }

    /// `BEFORE_TRAIN_EPOCH`.
    pub fn screaming(&self) -> String {
        self.snake().to_uppercase()
    }

    /// `BeforeTrainEpoch`.
    pub fn pascal(&self) -> String {
        self.kebab
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// `beforeTrainEpoch`.
    pub fn camel(&self) -> String {
        let p = self.pascal();
        let mut c = p.chars();
        c.next()
            .map(|f| f.to_lowercase().chain(c).collect())
            .unwrap_or_default()
    }

    /// The first sentence of the documentation, for one-line comments.
    pub fn summary(&self) -> String {
        self.docs.join(" ")
    }
}

/// A generated region of an SDK file.
pub struct Block {
    /// The file, relative to the repository root.
    pub file: &'static str,
    /// The region's name on its marker lines.
    pub name: &'static str,
    /// The comment leader of the file's language (`//` or `#`).
    pub comment: &'static str,
    /// Renders the region's lines from the points.
    pub render: fn(&[Point]) -> String,
}

/// The repository root (this crate lives in `tools/sdk-tables`).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The cases of `enum hook-point` in `interface types` of the WIT package in `wit_dir`.
pub fn hook_points(wit_dir: &Path) -> Result<Vec<Point>, String> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(wit_dir)
        .map_err(|e| format!("{}: {e:#}", wit_dir.display()))?;
    let types = resolve.packages[package]
        .interfaces
        .get("types")
        .ok_or("the package has no `types` interface")?;
    let id = resolve.interfaces[*types]
        .types
        .get("hook-point")
        .ok_or("`types` has no `hook-point`")?;
    let wit_parser::TypeDefKind::Enum(e) = &resolve.types[*id].kind else {
        return Err("`hook-point` is not an enum".into());
    };
    Ok(e.cases
        .iter()
        .map(|c| Point {
            kebab: c.name.clone(),
            docs: c
                .docs
                .contents
                .as_deref()
                .unwrap_or("")
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect(),
        })
        .collect())
}

fn begin(block: &Block) -> String {
    format!(
        "{} @generated {}: from wit/ by `make sdk-tables`; do not edit",
        block.comment, block.name
    )
}

fn end(block: &Block) -> String {
    format!("{} @end {}", block.comment, block.name)
}

/// `text` with the region of `block` replaced by `content`. The marker lines keep their
/// indentation; the content is placed as rendered.
pub fn splice(text: &str, block: &Block, content: &str) -> Result<String, String> {
    let (begin, end) = (begin(block), end(block));
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let find = |marker: &str, from: usize| {
        lines
            .iter()
            .skip(from)
            .position(|l| l.trim() == marker)
            .map(|i| i + from)
    };
    let start = find(&begin, 0).ok_or_else(|| format!("{}: no line `{begin}`", block.file))?;
    let stop = find(&end, start + 1)
        .ok_or_else(|| format!("{}: no line `{end}` after its @generated line", block.file))?;
    let mut out: String = lines[..=start].concat();
    out.push_str(content);
    out.push_str(&lines[stop..].concat());
    Ok(out)
}

/// Renders every block over the files under `root`: `(file, current text, wanted text)` for
/// each file that a block touches.
pub fn render_all(root: &Path) -> Result<Vec<(PathBuf, String, String)>, String> {
    let points = hook_points(&root.join(WIT_DIR))?;
    let mut files: Vec<(PathBuf, String, String)> = Vec::new();
    for block in BLOCKS {
        let path = root.join(block.file);
        let index = match files.iter().position(|(p, _, _)| *p == path) {
            Some(i) => i,
            None => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                files.push((path, text.clone(), text));
                files.len() - 1
            }
        };
        let wanted = splice(&files[index].2, block, &(block.render)(&points))?;
        files[index].2 = wanted;
    }
    Ok(files)
}

/// The files whose tables differ from what the WIT says.
pub fn stale(root: &Path) -> Result<Vec<PathBuf>, String> {
    Ok(render_all(root)?
        .into_iter()
        .filter(|(_, now, wanted)| now != wanted)
        .map(|(p, _, _)| p)
        .collect())
}

/// Rewrites the stale files; returns them.
pub fn write(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    for (path, now, wanted) in render_all(root)? {
        if now != wanted {
            std::fs::write(&path, wanted).map_err(|e| format!("{}: {e}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wit_lists_fifteen_points_starting_with_before_run() {
        let points = hook_points(&repo_root().join(WIT_DIR)).unwrap();
        assert_eq!(points.len(), 15);
        assert_eq!(points[0].kebab, "before-run");
        assert_eq!(points[14].kebab, "after-iter");
        let p = &points[2];
        assert_eq!(
            (p.snake(), p.pascal(), p.camel(), p.screaming()),
            (
                "before_train_epoch".to_string(),
                "BeforeTrainEpoch".to_string(),
                "beforeTrainEpoch".to_string(),
                "BEFORE_TRAIN_EPOCH".to_string()
            )
        );
        assert!(!p.docs.is_empty());
    }

    #[test]
    fn the_checked_in_sdk_tables_are_current() {
        let stale = stale(&repo_root()).unwrap();
        assert!(
            stale.is_empty(),
            "hook-point tables differ from the WIT in {stale:?}; run `make sdk-tables`"
        );
    }

    #[test]
    fn splice_replaces_only_the_region_and_needs_both_markers() {
        let block = &BLOCKS[0];
        let text = format!(
            "keep\n  {}\nold\n  {}\nkeep too\n",
            begin(block),
            end(block)
        );
        let out = splice(&text, block, "new\n").unwrap();
        assert_eq!(
            out,
            format!(
                "keep\n  {}\nnew\n  {}\nkeep too\n",
                begin(block),
                end(block)
            )
        );
        assert!(splice("keep\n", block, "new\n").is_err());
    }
}
