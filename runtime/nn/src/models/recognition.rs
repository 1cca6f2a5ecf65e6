//! # Action recognizers: MMAction2's `Recognizer2D` and `Recognizer3D`
//!
//! ```text
//! Recognizer2D: [N, views, C, H, W] ──► [N·views, C, H, W] ──► ResNet | ResNetTSM ──► TSNHead | TSMHead
//! Recognizer3D: [N, views, C, T, H, W] ──► [N·views, C, T, H, W] ──► ResNet3d | ResNet3dSlowOnly ──► I3DHead
//! ```
//!
//! In training a sample's views are its segments (TSN and TSM average them into one score);
//! in evaluation the scores of a sample's crops and clips are averaged as
//! `test_cfg.average_clips` says (`"score"`: the scores, `"prob"`: their softmax).
//! The config keeps MMAction2's shape: `model = { type = "Recognizer2D", backbone = {...},
//! cls_head = {...}, train_cfg, test_cfg }`.

mod blocks;
mod heads;
mod pretrained;
mod resnet2d;
mod resnet3d;

use serde::Deserialize;
use serde_json::Map;
use tch::{TchError, Tensor};
use weft_config::{Config, ConfigError, ErrorKind, Node, RawNode};

use self::heads::{Head, HeadArgs, HeadKind};
use self::resnet2d::{ResNet2d, ResNetArgs};
use self::resnet3d::{ResNet3d, ResNet3dArgs};
use super::Network;
use crate::store::ParamStore;

/// Backbone types a recognizer may name.
pub const BACKBONE_TYPES: [&str; 4] = ["ResNet", "ResNetTSM", "ResNet3d", "ResNet3dSlowOnly"];
/// Head types a recognizer may name.
pub const HEAD_TYPES: [&str; 3] = ["TSNHead", "TSMHead", "I3DHead"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecognizerArgs {
    backbone: RawNode,
    cls_head: RawNode,
    neck: Option<RawNode>,
    train_cfg: Option<RawNode>,
    test_cfg: Option<TestCfg>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCfg {
    average_clips: Option<String>,
    /// Views per forward pass in testing (memory); weft runs a sample's views together.
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; views run together"
    )]
    max_testing_views: Option<u64>,
    #[serde(default)]
    feature_extraction: bool,
    #[serde(default)]
    fcn_test: bool,
}

/// How a sample's view scores become one score in evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Average {
    /// The scores as they are (one per sample already).
    None,
    /// The mean score.
    Score,
    /// The mean softmax.
    Prob,
}

enum Backbone {
    Flat(ResNet2d),
    Volume(ResNet3d),
}

/// A built recognizer.
pub struct Recognizer {
    backbone: Backbone,
    head: Head,
    average: Average,
}

/// The type named by a sub-table, checked against `known`.
fn sub_type(
    node: &Node,
    cfg: &Config,
    what: &str,
    known: &[&'static str],
) -> Result<(&'static str, Node), ConfigError> {
    let Some(table) = node.as_table() else {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            format!("`{what}` must be a table with a `type`"),
            &node.origin,
        ));
    };
    let Some(ty) = table.get("type") else {
        return Err(cfg
            .error_at(
                ErrorKind::MissingKey,
                format!("`{what}` has no `type`"),
                &node.origin,
            )
            .with_help(format!("one of: {}", known.join(", "))));
    };
    let name = ty.as_str().unwrap_or_default();
    let Some(&name) = known.iter().find(|k| **k == name) else {
        return Err(
            weft_config::unknown_name_error(what, name, known.iter().copied())
                .with_location(cfg.sources().locate(&ty.origin)),
        );
    };
    Ok((name, super::without(table, &["type"], node)))
}

/// Builds `Recognizer2D` (`three_d` false) or `Recognizer3D` from the model table (without
/// its `type`).
pub fn build(
    store: &mut ParamStore,
    args: &Node,
    cfg: &Config,
    three_d: bool,
    notes: &mut Vec<String>,
) -> Result<Recognizer, ConfigError> {
    let a: RecognizerArgs = cfg.read(args)?;
    let bad = |m: String, node: &Node| cfg.error_at(ErrorKind::InvalidValue, m, &node.origin);
    if let Some(neck) = a.neck.as_ref().filter(|n| !n.0.is_null()) {
        return Err(bad("necks (TPN) are not supported".into(), &neck.0));
    }
    if let Some(t) = a
        .train_cfg
        .as_ref()
        .filter(|t| t.0.as_table().is_some_and(|t| !t.is_empty()))
    {
        return Err(bad(
            "train_cfg settings (mixup and cutmix blending) are not supported; leave train_cfg empty".into(),
            &t.0,
        ));
    }
    let test = a.test_cfg.unwrap_or(TestCfg {
        average_clips: None,
        max_testing_views: None,
        feature_extraction: false,
        fcn_test: false,
    });
    if test.feature_extraction || test.fcn_test {
        return Err(bad(
            "test_cfg's feature_extraction and fcn_test are not supported".into(),
            args,
        ));
    }
    let average = match test.average_clips.as_deref() {
        None => Average::None,
        Some("score") => Average::Score,
        Some("prob") => Average::Prob,
        Some(other) => {
            return Err(bad(
                format!("average_clips must be \"score\", \"prob\" or None, not {other:?}"),
                args,
            ));
        }
    };
    store.module(
        "",
        if three_d {
            "Recognizer3D"
        } else {
            "Recognizer2D"
        },
        Map::new(),
    );
    let (bb_type, bb_args) = sub_type(&a.backbone.0, cfg, "backbone", &BACKBONE_TYPES)?;
    let bb_err = |m: String| bad(format!("{bb_type}: {m}"), &a.backbone.0);
    let backbone = match (bb_type, three_d) {
        ("ResNet" | "ResNetTSM", false) => {
            let r: ResNetArgs = cfg.read(&bb_args)?;
            Backbone::Flat(
                ResNet2d::new(store, "backbone", &r, bb_type == "ResNetTSM").map_err(bb_err)?,
            )
        }
        ("ResNet3d" | "ResNet3dSlowOnly", true) => {
            let r: ResNet3dArgs = cfg.read(&bb_args)?;
            Backbone::Volume(
                ResNet3d::new(store, "backbone", &r, bb_type == "ResNet3dSlowOnly")
                    .map_err(bb_err)?,
            )
        }
        (t, true) => {
            return Err(bb_err(format!(
                "a Recognizer3D needs a 3D backbone (ResNet3d, ResNet3dSlowOnly), not {t}"
            )));
        }
        (t, false) => {
            return Err(bb_err(format!(
                "a Recognizer2D needs a 2D backbone (ResNet, ResNetTSM), not {t}"
            )));
        }
    };
    // MMAction2 loads `pretrained` in init_weights, after building and initialising the
    // backbone (and, for TSM, before adding the shift: the file's names are unshifted).
    let pretrained = match &backbone {
        Backbone::Flat(b) => b.pretrained.clone().map(|p| (p, false)),
        Backbone::Volume(b) => b.pretrained.clone().map(|p| (p, b.pretrained2d)),
    };
    if let Some((file, inflate)) = pretrained {
        let done = pretrained::load(store, "backbone", &file, inflate).map_err(bb_err)?;
        notes.push(format!(
            "load {} checkpoint from local path: {file} ({} backbone tensors)",
            if done.torchvision {
                "torchvision"
            } else {
                "MMAction2"
            },
            done.loaded
        ));
        if !done.missing.is_empty() {
            notes.push(format!(
                "These parameters in the backbone are not in {file}, so they keep their \
                 initial values: {}",
                done.missing.join(", ")
            ));
        }
    }
    let (head_type, head_args) = sub_type(&a.cls_head.0, cfg, "cls_head", &HEAD_TYPES)?;
    let kind = match (head_type, three_d) {
        ("TSNHead", false) => HeadKind::Tsn,
        ("TSMHead", false) => HeadKind::Tsm,
        ("I3DHead", true) => HeadKind::I3d,
        (t, _) => {
            return Err(bad(
                format!(
                    "{t} does not fit a {}",
                    if three_d {
                        "Recognizer3D (use I3DHead)"
                    } else {
                        "Recognizer2D (use TSNHead or TSMHead)"
                    }
                ),
                &a.cls_head.0,
            ));
        }
    };
    let h: HeadArgs = cfg.read(&head_args)?;
    let feat_dim = match &backbone {
        Backbone::Flat(b) => b.feat_dim,
        Backbone::Volume(b) => b.feat_dim,
    };
    let head = Head::new(store, "cls_head", kind, &h, feat_dim)
        .map_err(|m| bad(format!("{head_type}: {m}"), &a.cls_head.0))?;
    Ok(Recognizer {
        backbone,
        head,
        average,
    })
}

impl Recognizer {
    /// The weight of the classification loss (`cls_head.loss_cls.loss_weight`).
    pub fn loss_weight(&self) -> f64 {
        self.head.loss_weight
    }

    fn average(&self, scores: Tensor, batches: i64) -> Result<Tensor, TchError> {
        let rows = scores.size()[0];
        let views = rows / batches.max(1);
        if views <= 1 {
            return Ok(scores);
        }
        let grouped = scores.f_view([batches, views, -1])?;
        match self.average {
            Average::Score => grouped.f_mean_dim(1, false, None),
            Average::Prob => grouped.f_softmax(2, None)?.f_mean_dim(1, false, None),
            Average::None => Err(TchError::Shape(format!(
                "the head gives {views} scores per sample and test_cfg.average_clips is None: \
                 set average_clips = \"score\" or \"prob\""
            ))),
        }
    }
}

impl Network for Recognizer {
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let size = x.size();
        let (batches, views) = (size[0], size.get(1).copied().unwrap_or(1));
        let flat: Vec<i64> = std::iter::once(-1)
            .chain(size[2..].iter().copied())
            .collect();
        let x = x.f_reshape(flat.as_slice())?;
        let scores = match &self.backbone {
            Backbone::Flat(b) => {
                if let Some(seg) = self.head.segments()
                    && views % seg != 0
                {
                    return Err(TchError::Shape(format!(
                        "TSMHead groups {seg} segments but a sample has {views} views; \
                         sample num_clips = {seg} (times the crops)"
                    )));
                }
                self.head.forward(&b.forward(&x, train)?, views, train)?
            }
            Backbone::Volume(b) => self.head.forward(&b.forward(&x, train)?, 1, train)?,
        };
        if train {
            if scores.size()[0] != batches {
                return Err(TchError::Shape(format!(
                    "training gives {} scores for {batches} samples: a training pipeline \
                     yields one clip (or one set of segments) per sample",
                    scores.size()[0]
                )));
            }
            return Ok(scores);
        }
        self.average(scores, batches)
    }
}
