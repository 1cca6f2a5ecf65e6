//! `RawframeDataset` and `VideoDataset`: an annotation list and a pipeline.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use tch::Tensor;
use weft_config::{Config, ConfigError, ErrorKind, Located, Node, RawNode};

use super::ann::{self, Entry, Layout};
use super::pipeline::Pipeline;
use super::rng::SampleRng;
use super::sample::{Sample, Source};
use super::template::FilenameTemplate;
use crate::batch::Batch;
use crate::error::DataError;
use crate::{Dataset, Draw};

/// The keys both datasets take (MMAction2's `BaseDataset` and its two subclasses).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClipArgs {
    ann_file: Located<String>,
    pipeline: RawNode,
    data_prefix: Option<String>,
    #[serde(default)]
    test_mode: bool,
    filename_tmpl: Option<Located<String>>,
    with_offset: Option<Located<bool>>,
    multi_class: Option<Located<bool>>,
    num_classes: Option<Located<u64>>,
    start_index: Option<Located<u64>>,
    modality: Option<Located<String>>,
    sample_by_class: Option<Located<bool>>,
    /// Only meaningful with `sample_by_class`.
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; used by sample_by_class only"
    )]
    power: Option<f64>,
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; a distributed sampler setting"
    )]
    dynamic_length: Option<bool>,
}

/// A dataset's settings, checked, before its list is read.
struct Spec {
    name: &'static str,
    layout: Layout,
    ann_file: PathBuf,
    prefix: Option<PathBuf>,
    pipeline: Pipeline,
    tmpl: Arc<FilenameTemplate>,
    start_index: usize,
    num_classes: Option<usize>,
}

fn spec(node: &Node, cfg: &Config, name: &'static str) -> Result<Spec, ConfigError> {
    let a: ClipArgs = cfg.read(node)?;
    let bad = |m: &str, origin| cfg.error_at(ErrorKind::InvalidValue, m, origin);
    let video = name == "VideoDataset";
    if let Some(m) = a.multi_class.as_ref().filter(|m| m.value) {
        return Err(bad(
            "multi_class (several labels per clip) is not supported",
            &m.origin,
        ));
    }
    if let Some(s) = a.sample_by_class.as_ref().filter(|s| s.value) {
        return Err(bad(
            "sample_by_class (class-balanced sampling) is not supported",
            &s.origin,
        ));
    }
    if let Some(m) = &a.modality
        && m.value != "RGB"
    {
        return Err(bad(
            &format!(
                "modality {:?} is not supported: weft loads RGB frames",
                m.value
            ),
            &m.origin,
        ));
    }
    if video && let Some(t) = &a.filename_tmpl {
        return Err(bad(
            "a VideoDataset has no filename_tmpl (frames come from the file)",
            &t.origin,
        ));
    }
    if video && let Some(w) = &a.with_offset {
        return Err(bad("a VideoDataset has no with_offset", &w.origin));
    }
    let with_offset = a.with_offset.as_ref().is_some_and(|w| w.value);
    let layout = if video {
        Layout::Videos
    } else {
        Layout::Rawframes { with_offset }
    };
    let tmpl = match &a.filename_tmpl {
        Some(t) => FilenameTemplate::parse(&t.value).map_err(|m| bad(&m, &t.origin))?,
        None => FilenameTemplate::parse("img_{:05}.jpg").expect("the default template parses"),
    };
    let num_classes = match &a.num_classes {
        Some(n) if n.value == 0 || n.value > 1_000_000 => {
            return Err(bad("num_classes must be 1-1000000", &n.origin));
        }
        Some(n) => Some(n.value as usize),
        None => None,
    };
    let start_index = match &a.start_index {
        Some(s) if s.value > 1_000_000 => return Err(bad("start_index is too large", &s.origin)),
        Some(s) => s.value as usize,
        None => usize::from(!video),
    };
    let pipeline = Pipeline::build(&a.pipeline.0, cfg, layout)?;
    let _ = a.test_mode;
    Ok(Spec {
        name,
        layout,
        ann_file: PathBuf::from(&a.ann_file.value),
        prefix: a.data_prefix.map(PathBuf::from),
        pipeline,
        tmpl: Arc::new(tmpl),
        start_index,
        num_classes,
    })
}

/// Checks a dataset's config (keys, pipeline order) without reading any file.
pub fn check(node: &Node, cfg: &Config, name: &'static str) -> Result<(), ConfigError> {
    spec(node, cfg, name).map(|_| ())
}

fn read_list(spec: &Spec) -> Result<Vec<Entry>, DataError> {
    let path = &spec.ann_file;
    let text = std::fs::read_to_string(path).map_err(|e| DataError::Format {
        path: path.display().to_string(),
        message: format!("cannot read the annotation list: {e}"),
    })?;
    ann::parse(&text, spec.layout, spec.prefix.as_deref(), spec.num_classes).map_err(|message| {
        DataError::Format {
            path: path.display().to_string(),
            message,
        }
    })
}

/// The number of samples, reading only the list (for `weft schedule`).
pub fn len(node: &Node, cfg: &Config, name: &'static str) -> Result<usize, DataError> {
    let spec = spec(node, cfg, name).map_err(|e| DataError::Missing {
        message: e.to_string(),
    })?;
    Ok(read_list(&spec)?.len())
}

/// A clip dataset: the list's samples, each run through the pipeline when a batch is made.
pub struct ClipDataset {
    spec: Spec,
    entries: Vec<Entry>,
    num_classes: usize,
}

/// Builds a dataset: reads the list, checks that every sample's files exist, and runs the
/// pipeline once on the first sample so that a pipeline that cannot produce an input (a crop
/// larger than the frames, an unreadable file) fails at start-up.
pub fn build(
    node: &Node,
    cfg: &Config,
    name: &'static str,
) -> Result<ClipDataset, crate::BuildError> {
    let spec = spec(node, cfg, name)?;
    let entries = read_list(&spec)?;
    for e in &entries {
        check_files(&spec, e)?;
    }
    let num_classes = spec
        .num_classes
        .unwrap_or_else(|| entries.iter().map(|e| e.label + 1).max().unwrap_or(1));
    let ds = ClipDataset {
        spec,
        entries,
        num_classes,
    };
    ds.prepare(0, Draw { seed: 0, epoch: 0 })?;
    Ok(ds)
}

fn check_files(spec: &Spec, e: &Entry) -> Result<(), DataError> {
    let at = |message: String| DataError::Format {
        path: format!("{}, line {}", spec.ann_file.display(), e.line),
        message,
    };
    match spec.layout {
        Layout::Videos => {
            if !e.path.is_file() {
                return Err(at(format!("video {} not found", e.path.display())));
            }
        }
        Layout::Rawframes { .. } => {
            if !e.path.is_dir() {
                return Err(at(format!(
                    "frame directory {} not found",
                    e.path.display()
                )));
            }
            // The first and last frame a sampler can ask for.
            let total = e.total_frames.unwrap_or(1);
            for index in [spec.start_index, spec.start_index + total - 1] {
                let file = e.path.join(spec.tmpl.format(index + e.offset));
                if !file.is_file() {
                    return Err(at(format!(
                        "frame {} not found (the list says the clip has {total} frames)",
                        file.display()
                    )));
                }
            }
        }
    }
    Ok(())
}

impl ClipDataset {
    /// Runs the pipeline on sample `index`: its network input, the input's shape, its label.
    fn prepare(&self, index: usize, draw: Draw) -> Result<(Vec<f32>, Vec<i64>, usize), DataError> {
        let e = &self.entries[index];
        let source = match self.spec.layout {
            Layout::Videos => Source::Video {
                path: e.path.clone(),
            },
            Layout::Rawframes { .. } => Source::Rawframes {
                dir: e.path.clone(),
                offset: e.offset,
                tmpl: self.spec.tmpl.clone(),
            },
        };
        let mut sample = Sample::new(
            index,
            source,
            e.total_frames,
            self.spec.start_index,
            e.label,
        );
        let mut rng = SampleRng::new(draw.seed, draw.epoch, index as u64);
        self.spec
            .pipeline
            .run(&mut sample, &mut rng)
            .map_err(|message| DataError::Sample {
                sample: format!(
                    "sample {index} ({}, line {} of {})",
                    e.path.display(),
                    e.line,
                    self.spec.ann_file.display()
                ),
                message,
            })?;
        let (input, shape) = sample.input.take().expect("a checked pipeline ends shaped");
        Ok((input, shape, sample.label))
    }

    /// The annotation list's path.
    pub fn ann_file(&self) -> &Path {
        &self.spec.ann_file
    }
}

impl Dataset for ClipDataset {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn collate(&self, indices: &[usize], draw: Draw) -> Result<Batch, DataError> {
        let mut inputs: Vec<f32> = Vec::new();
        let mut labels = Vec::with_capacity(indices.len());
        let mut first_shape: Option<Vec<i64>> = None;
        for &i in indices {
            let (input, shape, label) = self.prepare(i, draw)?;
            match &first_shape {
                None => {
                    inputs.reserve(input.len() * indices.len());
                    first_shape = Some(shape);
                }
                Some(s) if *s != shape => {
                    return Err(DataError::Sample {
                        sample: format!("sample {i} ({})", self.entries[i].path.display()),
                        message: format!(
                            "its input is {shape:?} but the batch's first is {s:?}; \
                             a batch needs one shape (resize or crop to a fixed size)"
                        ),
                    });
                }
                Some(_) => {}
            }
            inputs.extend_from_slice(&input);
            labels.push(label as i64);
        }
        let mut shape = vec![indices.len() as i64];
        shape.extend(first_shape.unwrap_or_default());
        Ok(Batch {
            inputs: Tensor::f_from_slice(&inputs)?.f_view(shape.as_slice())?,
            labels: Tensor::f_from_slice(&labels)?,
            len: indices.len(),
        })
    }

    fn describe(&self) -> String {
        format!(
            "{}({}, {} clips; {})",
            self.spec.name,
            self.spec.ann_file.display(),
            self.entries.len(),
            self.spec.pipeline.names().join(" > ")
        )
    }
}
