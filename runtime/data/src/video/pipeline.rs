//! A data pipeline: MMAction2's `pipeline = [dict(type=...), ...]`, built once from the config
//! and run per sample.
//!
//! Each transform says at build time which stage it needs and which it leaves (sampling needs
//! a frame count, decoding needs frame numbers, crops need 8-bit frames, `FormatShape` needs
//! floats), so a pipeline in the wrong order is refused with the config's file, line and
//! column before any data is read, instead of failing on the first sample.

use weft_config::{Config, ConfigError, ErrorKind, Node, Value};

use super::ann::Layout;
use super::rng::SampleRng;
use super::sample::Sample;
use super::transforms;

/// How far a sample has come, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// A video named by the list, not opened yet (its frame count is unknown).
    Listed,
    /// The frame count is known (rawframes from the list; videos once opened).
    Counted,
    /// Frame numbers are chosen.
    Sampled,
    /// Frames are decoded to 8-bit RGB.
    Decoded,
    /// Frames are normalised floats.
    Normalized,
    /// The network input is laid out (`FormatShape`).
    Shaped,
}

impl Stage {
    fn describe(self) -> &'static str {
        match self {
            Stage::Listed => "before a video is opened (`DecordInit` and its kin)",
            Stage::Counted => "before frames are sampled (`SampleFrames`)",
            Stage::Sampled => "before frames are decoded (`RawFrameDecode`, `DecordDecode`...)",
            Stage::Decoded => "on 8-bit frames, before `Normalize`",
            Stage::Normalized => "after `Normalize`, before `FormatShape`",
            Stage::Shaped => "after `FormatShape`",
        }
    }
}

/// Fails unless the sample is exactly at `needed` when `name` runs.
fn ahead(stage: Stage, needed: Stage, name: &str) -> Result<(), String> {
    if stage == needed {
        Ok(())
    } else {
        Err(format!(
            "`{name}` works {}, but here it comes {}",
            needed.describe(),
            stage.describe()
        ))
    }
}

/// One transform of a pipeline.
pub trait Transform: Send + Sync {
    /// Its config `type`.
    fn name(&self) -> &'static str;

    /// The stage this transform works at and the stage it leaves a sample at.
    fn stages(&self) -> (Stage, Stage);

    /// The stage a sample is at after this transform, given the stage before it; an error
    /// says why the transform cannot run there.
    fn check(&self, stage: Stage) -> Result<Stage, String> {
        let (needed, after) = self.stages();
        ahead(stage, needed, self.name())?;
        Ok(after)
    }

    /// Transforms one sample, drawing any randomness from `rng`.
    fn apply(&self, sample: &mut Sample, rng: &mut SampleRng) -> Result<(), String>;
}

/// A built pipeline.
pub struct Pipeline {
    steps: Vec<Box<dyn Transform>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.steps.iter().map(|s| s.name()))
            .finish()
    }
}

impl Pipeline {
    /// Builds a pipeline from its config list and checks its order for a dataset of `layout`.
    pub fn build(node: &Node, cfg: &Config, layout: Layout) -> Result<Pipeline, ConfigError> {
        let Value::Array(list) = &node.value else {
            return Err(cfg.error_at(
                ErrorKind::InvalidValue,
                "`pipeline` must be a list of transforms: [{ type = \"SampleFrames\", ... }, ...]",
                &node.origin,
            ));
        };
        let mut stage = match layout {
            Layout::Rawframes { .. } => Stage::Counted,
            Layout::Videos => Stage::Listed,
        };
        let mut steps = Vec::with_capacity(list.len());
        for item in list {
            let step = transforms::build(item, cfg, layout)?;
            stage = step
                .check(stage)
                .map_err(|m| cfg.error_at(ErrorKind::InvalidValue, m, &item.origin))?;
            steps.push(step);
        }
        if stage != Stage::Shaped {
            return Err(cfg
                .error_at(
                    ErrorKind::InvalidValue,
                    "the pipeline does not end with a network input",
                    &node.origin,
                )
                .with_help(
                    "a pipeline samples, decodes, normalises and ends with `FormatShape` \
                     (then `Collect` and `ToTensor`, as MMAction2's do)",
                ));
        }
        Ok(Pipeline { steps })
    }

    /// Runs every transform on a sample; an error names the transform.
    pub fn run(&self, sample: &mut Sample, rng: &mut SampleRng) -> Result<(), String> {
        for step in &self.steps {
            step.apply(sample, rng)
                .map_err(|m| format!("{}: {m}", step.name()))?;
        }
        Ok(())
    }

    /// The transforms' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.steps.iter().map(|s| s.name()).collect()
    }
}
