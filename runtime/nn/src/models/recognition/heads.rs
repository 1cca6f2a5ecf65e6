//! Classification heads: `TSNHead` (pool, average the segments, classify), `TSMHead`
//! (pool, classify each segment, average the scores of each group of `num_segments`) and
//! `I3DHead` (pool the volume, classify). Parameter names are MMAction2's (`fc_cls.weight`).

use serde::Deserialize;
use serde_json::{Map, json};
use tch::{TchError, Tensor};

use crate::layers::{Layer, Linear, LinearArgs};
use crate::store::ParamStore;

/// `loss_cls = { type = "CrossEntropyLoss", loss_weight = 1.0 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossCfg {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default = "unit")]
    loss_weight: f64,
}

fn unit() -> f64 {
    1.0
}

/// `consensus = { type = "AvgConsensus", dim = 1 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusCfg {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default = "dim_one")]
    dim: i64,
}

fn dim_one() -> i64 {
    1
}

/// The keys every head takes (MMAction2's `BaseHead` and the three heads' own).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadArgs {
    num_classes: i64,
    in_channels: i64,
    loss_cls: Option<LossCfg>,
    /// `"avg"`: average the feature map over space (the only choice).
    spatial_type: Option<String>,
    consensus: Option<ConsensusCfg>,
    dropout_ratio: Option<f64>,
    init_std: Option<f64>,
    #[serde(default)]
    multi_class: bool,
    /// Only used with `multi_class` in MMAction2.
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; used with multi_class only"
    )]
    label_smooth_eps: Option<f64>,
    /// The training log's top-k accuracies.
    #[allow(
        dead_code,
        reason = "accepted for MMAction2 configs; weft logs top-1 and top-5 at evaluation"
    )]
    topk: Option<serde_json::Value>,
    // TSMHead's keys.
    num_segments: Option<i64>,
    is_shift: Option<bool>,
    temporal_pool: Option<bool>,
}

/// Which head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadKind {
    /// `TSNHead`.
    Tsn,
    /// `TSMHead`.
    Tsm,
    /// `I3DHead`.
    I3d,
}

/// A built head.
pub struct Head {
    kind: HeadKind,
    fc: Linear,
    dropout: f64,
    pool: bool,
    consensus: bool,
    segments: i64,
    /// The loss's weight (`loss_cls.loss_weight`).
    pub loss_weight: f64,
    /// Classes scored.
    pub num_classes: i64,
}

impl Head {
    /// Registers `{prefix}.fc_cls`, initialised as MMAction2 does (normal with `init_std`,
    /// zero bias).
    pub fn new(
        store: &mut ParamStore,
        prefix: &str,
        kind: HeadKind,
        a: &HeadArgs,
        feat_dim: i64,
    ) -> Result<Head, String> {
        if a.in_channels != feat_dim {
            return Err(format!(
                "in_channels is {} but the backbone gives {feat_dim} channels",
                a.in_channels
            ));
        }
        if !(1..=1_000_000).contains(&a.num_classes) {
            return Err(format!(
                "num_classes must be 1-1000000, not {}",
                a.num_classes
            ));
        }
        if a.multi_class {
            return Err("multi_class (several labels per clip) is not supported".into());
        }
        let loss_weight = match &a.loss_cls {
            None => 1.0,
            Some(l)
                if l.kind == "CrossEntropyLoss"
                    && l.loss_weight.is_finite()
                    && l.loss_weight > 0.0 =>
            {
                l.loss_weight
            }
            Some(l) if l.kind == "CrossEntropyLoss" => {
                return Err(format!(
                    "loss_weight must be positive, not {}",
                    l.loss_weight
                ));
            }
            Some(l) => {
                return Err(format!(
                    "loss_cls type {:?} is not supported: use \"CrossEntropyLoss\"",
                    l.kind
                ));
            }
        };
        // MMAction2's `spatial_type = None` (an already pooled feature) reads as "not set"
        // here, like every None; weft's backbones give feature maps, which need the pooling.
        let pool = match a.spatial_type.as_deref() {
            None | Some("avg") => true,
            Some(other) => return Err(format!("spatial_type must be \"avg\", not {other:?}")),
        };
        let consensus = match (&a.consensus, kind) {
            (Some(c), HeadKind::I3d) => {
                return Err(format!("I3DHead has no consensus (found {:?})", c.kind));
            }
            (Some(c), _) if c.kind == "AvgConsensus" && c.dim == 1 => true,
            (Some(c), _) => {
                return Err(format!(
                    "consensus must be AvgConsensus over dim 1, not {:?} over {}",
                    c.kind, c.dim
                ));
            }
            (None, HeadKind::I3d) => false,
            (None, _) => true,
        };
        let tsm = kind == HeadKind::Tsm;
        if !tsm && (a.num_segments.is_some() || a.is_shift.is_some() || a.temporal_pool.is_some()) {
            return Err("num_segments, is_shift and temporal_pool belong to TSMHead".into());
        }
        if a.temporal_pool == Some(true) {
            return Err("temporal_pool = true is not supported".into());
        }
        let segments = a.num_segments.unwrap_or(8);
        if tsm && !(1..=1024).contains(&segments) {
            return Err(format!("num_segments must be 1-1024, not {segments}"));
        }
        let (default_dropout, default_std) = match kind {
            HeadKind::Tsn => (0.4, 0.01),
            HeadKind::Tsm => (0.8, 0.001),
            HeadKind::I3d => (0.5, 0.01),
        };
        let dropout = a.dropout_ratio.unwrap_or(default_dropout);
        if !(0.0..1.0).contains(&dropout) {
            return Err(format!("dropout_ratio must be in [0, 1), not {dropout}"));
        }
        let std = a.init_std.unwrap_or(default_std);
        if !(std.is_finite() && std >= 0.0) {
            return Err(format!("init_std must be a non-negative number, not {std}"));
        }
        let name = match kind {
            HeadKind::Tsn => "TSNHead",
            HeadKind::Tsm => "TSMHead",
            HeadKind::I3d => "I3DHead",
        };
        let mut attrs = Map::new();
        attrs.insert("num_classes".into(), json!(a.num_classes));
        store.module(prefix, name, attrs);
        let fc = Linear::new(
            store,
            &format!("{prefix}.fc_cls"),
            &LinearArgs {
                in_features: a.in_channels,
                out_features: a.num_classes,
                bias: true,
            },
        )?;
        let (w, b) = fc.tensors();
        tch::no_grad(|| -> Result<(), TchError> {
            let _ = w.shallow_clone().f_normal_(0.0, std)?;
            if let Some(b) = b {
                let _ = b.shallow_clone().f_zero_()?;
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(Head {
            kind,
            fc,
            dropout,
            pool,
            consensus,
            segments,
            loss_weight,
            num_classes: a.num_classes,
        })
    }

    /// Scores for the backbone's feature. 2D heads get `[N × num_segs, C, H, W]` and give
    /// `[N, classes]` (TSN) or `[N × num_segs / num_segments, classes]` (TSM); the I3D head
    /// gets `[N, C, T, H, W]` and gives `[N, classes]`.
    pub fn forward(&self, x: &Tensor, num_segs: i64, train: bool) -> Result<Tensor, TchError> {
        match self.kind {
            HeadKind::Tsn => {
                let x = if self.pool {
                    x.f_adaptive_avg_pool2d([1, 1])?
                } else {
                    x.shallow_clone()
                };
                let size = x.size();
                let mut shape = vec![-1, num_segs];
                shape.extend(&size[1..]);
                let x = x.f_view(shape.as_slice())?;
                let x = if self.consensus {
                    x.f_mean_dim(1, false, None)?
                } else {
                    x.f_select(1, 0)?
                };
                let x = x.f_dropout(self.dropout, train)?;
                let x = x.f_view([size[0] / num_segs.max(1), -1])?;
                self.fc.forward(&x, train)
            }
            HeadKind::Tsm => {
                let x = if self.pool {
                    x.f_adaptive_avg_pool2d([1, 1])?
                } else {
                    x.shallow_clone()
                };
                let x = x.f_flatten(1, -1)?.f_dropout(self.dropout, train)?;
                let scores = self.fc.forward(&x, train)?;
                let scores = scores.f_view([-1, self.segments, self.num_classes])?;
                scores.f_mean_dim(1, false, None)
            }
            HeadKind::I3d => {
                let x = if self.pool {
                    x.f_adaptive_avg_pool3d([1, 1, 1])?
                } else {
                    x.shallow_clone()
                };
                let x = x.f_dropout(self.dropout, train)?;
                let n = x.size()[0];
                self.fc.forward(&x.f_view([n, -1])?, train)
            }
        }
    }

    /// Views per sample this head expects in one forward pass (TSM: a multiple of
    /// `num_segments`).
    pub fn segments(&self) -> Option<i64> {
        (self.kind == HeadKind::Tsm).then_some(self.segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn head(kind: HeadKind, extra: &str) -> Head {
        let args: HeadArgs =
            toml::from_str(&format!("num_classes = 5\nin_channels = 4\n{extra}")).unwrap();
        let mut store = ParamStore::new(Device::Cpu);
        Head::new(&mut store, "cls_head", kind, &args, 4).unwrap()
    }

    #[test]
    fn tsn_averages_segments_before_classifying_and_tsm_after() {
        let x = Tensor::randn([2 * 8, 4, 3, 3], (Kind::Float, Device::Cpu));
        let tsn = head(HeadKind::Tsn, "");
        assert_eq!(tsn.forward(&x, 8, false).unwrap().size(), vec![2, 5]);
        let tsm = head(HeadKind::Tsm, "num_segments = 8");
        assert_eq!(tsm.forward(&x, 8, false).unwrap().size(), vec![2, 5]);
        // Three crops of 8 segments: one score per crop, averaged later by the recognizer.
        let crops = Tensor::randn([3 * 8, 4, 3, 3], (Kind::Float, Device::Cpu));
        assert_eq!(tsm.forward(&crops, 24, false).unwrap().size(), vec![3, 5]);
        let i3d = head(HeadKind::I3d, "");
        let v = Tensor::randn([2, 4, 2, 3, 3], (Kind::Float, Device::Cpu));
        assert_eq!(i3d.forward(&v, 1, false).unwrap().size(), vec![2, 5]);
    }

    #[test]
    fn a_head_refuses_what_it_cannot_build() {
        let bad = |text: &str, kind| {
            let args: HeadArgs =
                toml::from_str(&format!("num_classes = 5\nin_channels = 4\n{text}")).unwrap();
            Head::new(&mut ParamStore::new(Device::Cpu), "h", kind, &args, 4)
                .err()
                .unwrap()
        };
        assert!(bad("num_segments = 8", HeadKind::Tsn).contains("TSMHead"));
        assert!(
            bad("loss_cls = { type = \"BCELossWithLogits\" }", HeadKind::Tsn)
                .contains("CrossEntropyLoss")
        );
        assert!(bad("dropout_ratio = 1.5", HeadKind::I3d).contains("dropout_ratio"));
        let args: HeadArgs = toml::from_str("num_classes = 5\nin_channels = 8").unwrap();
        let e = Head::new(
            &mut ParamStore::new(Device::Cpu),
            "h",
            HeadKind::Tsn,
            &args,
            4,
        )
        .err()
        .unwrap();
        assert!(e.contains("backbone gives 4"), "{e}");
    }
}
