//! MMCV's `DefaultOptimizerConstructor` with `paramwise_cfg`, and MMAction2's
//! `TSMOptimizerConstructor`, as pure functions over a table of parameters and modules.
//!
//! The table lists parameters the way MMCV's `add_params` visits them: module by module
//! (depth first, children in registration order), each module's own parameters in order. A
//! parameter shared by two modules appears twice, with `alias_of` naming the first entry.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A module as the constructors see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleMeta {
    /// Dotted path; `""` is the root.
    pub path: String,
    /// PyTorch class name (`Conv2d`, `BatchNorm2d`, ...).
    pub kind: String,
    /// `in_channels` of convolutions.
    pub in_channels: Option<i64>,
    /// `groups` of convolutions.
    pub groups: Option<i64>,
    /// Whether the module is a deformable convolution (`DeformConv2d` family).
    pub is_dcn: bool,
    /// Whether the module has no child modules (a leaf).
    pub is_leaf: bool,
    /// Every constructor attribute (what plugins receive).
    pub attrs: serde_json::Map<String, serde_json::Value>,
}

impl ModuleMeta {
    /// MMCV's `is_norm`: `_BatchNorm`, `_InstanceNorm`, `GroupNorm`, `LayerNorm`.
    pub fn is_norm(&self) -> bool {
        self.kind.starts_with("BatchNorm")
            || self.kind.starts_with("SyncBatchNorm")
            || self.kind.starts_with("InstanceNorm")
            || self.kind == "GroupNorm"
            || self.kind == "LayerNorm"
    }

    /// MMCV's depthwise test: an `nn.Conv2d` with `in_channels == groups`.
    pub fn is_dwconv(&self) -> bool {
        self.kind == "Conv2d" && self.in_channels.is_some() && self.in_channels == self.groups
    }

    /// `_ConvNd`.
    pub fn is_conv(&self) -> bool {
        self.kind.starts_with("Conv") && self.kind.ends_with('d')
    }
}

/// A parameter entry of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamMeta {
    /// The module's local name (`weight`).
    pub local: String,
    /// Index into [`ModelTable::modules`].
    pub module: usize,
    /// `requires_grad`.
    pub requires_grad: bool,
    /// The tensor this entry shares, as the index of its first entry (shared parameters).
    pub alias_of: Option<usize>,
    /// Shape.
    pub shape: Vec<i64>,
}

/// Modules and parameters of a model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelTable {
    /// Modules, root first, in `model.modules()` order.
    pub modules: Vec<ModuleMeta>,
    /// Parameters in `add_params` order (aliases included).
    pub params: Vec<ParamMeta>,
}

impl ModelTable {
    /// The qualified name of a parameter entry (`conv1.weight`; `scale` at the root).
    pub fn name(&self, i: usize) -> String {
        let p = &self.params[i];
        let path = &self.modules[p.module].path;
        if path.is_empty() {
            p.local.clone()
        } else {
            format!("{path}.{}", p.local)
        }
    }

    /// The tensor identity of an entry (its first entry).
    pub fn tensor(&self, i: usize) -> usize {
        self.params[i].alias_of.unwrap_or(i)
    }

    /// `model.parameters()`: each tensor once, in order.
    pub fn unique(&self) -> Vec<usize> {
        (0..self.params.len())
            .filter(|i| self.params[*i].alias_of.is_none())
            .collect()
    }
}

/// One parameter group: tensors (by first-entry index) and the options a constructor set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupSpec {
    /// Tensors of the group.
    pub params: Vec<usize>,
    /// Options set explicitly (`lr`, `weight_decay`, ...); the rest come from the
    /// optimizer's defaults.
    pub options: BTreeMap<String, f64>,
}

/// `custom_keys` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomKey {
    /// Multiplier of the base lr.
    pub lr_mult: Option<f64>,
    /// Multiplier of the base weight decay.
    pub decay_mult: Option<f64>,
}

/// `paramwise_cfg` of MMCV's default constructor.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamwiseCfg {
    /// lr multiplier of biases (not of norm layers or DCN offsets).
    pub bias_lr_mult: Option<f64>,
    /// weight-decay multiplier of biases.
    pub bias_decay_mult: Option<f64>,
    /// weight-decay multiplier of normalisation layers.
    pub norm_decay_mult: Option<f64>,
    /// weight-decay multiplier of depthwise convolutions.
    pub dwconv_decay_mult: Option<f64>,
    /// lr multiplier of deformable-convolution offsets.
    pub dcn_offset_lr_mult: Option<f64>,
    /// Per-name multipliers: the longest key contained in a parameter's name wins.
    #[serde(default)]
    pub custom_keys: BTreeMap<String, CustomKey>,
    /// Skip a shared parameter already in an earlier group instead of failing.
    #[serde(default)]
    pub bypass_duplicate: bool,
}

impl ParamwiseCfg {
    /// Whether any rule is set (MMCV treats `{}` like no `paramwise_cfg`).
    pub fn is_empty(&self) -> bool {
        *self == ParamwiseCfg::default()
    }
}

/// Why groups could not be built.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamwiseError {
    /// A decay multiplier without a base weight decay (MMCV: `base_wd should not be None`).
    DecayWithoutWeightDecay(String),
    /// A tensor would be in two groups (torch refuses).
    Duplicate(String),
    /// TSM: a leaf module with parameters of an unknown kind.
    UnknownAtomicModule(String),
    /// TSM: the model has no Linear or convolution to treat as the head.
    NoHead,
}

impl std::fmt::Display for ParamwiseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamwiseError::DecayWithoutWeightDecay(what) => write!(
                f,
                "paramwise_cfg sets {what} but the optimizer has no `weight_decay` to multiply (MMCV: base_wd should not be None)"
            ),
            ParamwiseError::Duplicate(name) => write!(
                f,
                "parameter {name} would be in more than one parameter group (it is shared); set `paramwise_cfg.bypass_duplicate = true` to skip repeats"
            ),
            ParamwiseError::UnknownAtomicModule(kind) => {
                write!(
                    f,
                    "TSMOptimizerConstructor: new atomic module type {kind}; it needs a learning policy"
                )
            }
            ParamwiseError::NoHead => write!(
                f,
                "TSMOptimizerConstructor: the model has no Linear or convolution layer"
            ),
        }
    }
}

impl std::error::Error for ParamwiseError {}

/// MMCV's `DefaultOptimizerConstructor`: without rules one group of every tensor; with rules
/// one group per parameter entry, in `add_params` order, with `lr`/`weight_decay` set as MMCV
/// sets them. `base_lr`/`base_wd` are the optimizer's `lr` and `weight_decay` (if given).
pub fn default_groups(
    table: &ModelTable,
    cfg: &ParamwiseCfg,
    base_lr: f64,
    base_wd: Option<f64>,
) -> Result<Vec<GroupSpec>, ParamwiseError> {
    if cfg.is_empty() {
        return Ok(vec![GroupSpec {
            params: table.unique(),
            options: BTreeMap::new(),
        }]);
    }
    if base_wd.is_none() {
        let mut decay = Vec::new();
        if cfg.custom_keys.values().any(|k| k.decay_mult.is_some()) {
            decay.push("a custom_keys decay_mult");
        }
        for (set, name) in [
            (cfg.bias_decay_mult.is_some(), "bias_decay_mult"),
            (cfg.norm_decay_mult.is_some(), "norm_decay_mult"),
            (cfg.dwconv_decay_mult.is_some(), "dwconv_decay_mult"),
        ] {
            if set {
                decay.push(name);
            }
        }
        if !decay.is_empty() {
            return Err(ParamwiseError::DecayWithoutWeightDecay(decay.join(", ")));
        }
    }
    let bias_lr_mult = cfg.bias_lr_mult.unwrap_or(1.0);
    let bias_decay_mult = cfg.bias_decay_mult.unwrap_or(1.0);
    let norm_decay_mult = cfg.norm_decay_mult.unwrap_or(1.0);
    let dwconv_decay_mult = cfg.dwconv_decay_mult.unwrap_or(1.0);
    let dcn_offset_lr_mult = cfg.dcn_offset_lr_mult.unwrap_or(1.0);
    // Longest first, ties alphabetical (`sorted(sorted(keys), key=len, reverse=True)`).
    let mut keys: Vec<&String> = cfg.custom_keys.keys().collect();
    keys.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    let mut groups: Vec<GroupSpec> = Vec::new();
    for (i, p) in table.params.iter().enumerate() {
        let module = &table.modules[p.module];
        let tensor = table.tensor(i);
        let mut group = GroupSpec {
            params: vec![tensor],
            options: BTreeMap::new(),
        };
        if !p.requires_grad {
            groups.push(group);
            continue;
        }
        if groups.iter().any(|g| g.params.contains(&tensor)) {
            if cfg.bypass_duplicate {
                continue;
            }
            return Err(ParamwiseError::Duplicate(table.name(i)));
        }
        // MMCV matches keys against `prefix.name`, so a root parameter reads `.name`.
        let full = format!("{}.{}", module.path, p.local);
        // MMCV passes `is_dcn_module` down one level: it says whether the parent is a DCN.
        let parent = module.path.rsplit_once('.').map_or("", |(p, _)| p);
        let is_dcn_parent =
            !module.path.is_empty() && table.modules.iter().any(|m| m.is_dcn && m.path == parent);
        if let Some(key) = keys.iter().find(|k| full.contains(k.as_str())) {
            let ck = &cfg.custom_keys[*key];
            group
                .options
                .insert("lr".into(), base_lr * ck.lr_mult.unwrap_or(1.0));
            if let Some(wd) = base_wd {
                group
                    .options
                    .insert("weight_decay".into(), wd * ck.decay_mult.unwrap_or(1.0));
            }
        } else {
            let is_norm = module.is_norm();
            if p.local == "bias" && !(is_norm || is_dcn_parent) {
                group.options.insert("lr".into(), base_lr * bias_lr_mult);
            }
            if module.path.contains("conv_offset") && is_dcn_parent && module.kind == "Conv2d" {
                group
                    .options
                    .insert("lr".into(), base_lr * dcn_offset_lr_mult);
            }
            if let Some(wd) = base_wd {
                if is_norm {
                    group
                        .options
                        .insert("weight_decay".into(), wd * norm_decay_mult);
                } else if module.is_dwconv() {
                    group
                        .options
                        .insert("weight_decay".into(), wd * dwconv_decay_mult);
                } else if p.local == "bias" && !is_dcn_parent {
                    group
                        .options
                        .insert("weight_decay".into(), wd * bias_decay_mult);
                }
            }
        }
        groups.push(group);
    }
    Ok(groups)
}

/// MMAction2's `TSMOptimizerConstructor`: seven groups (first conv weight/bias, other
/// conv+linear weights/biases, norm parameters, and the head's weight/bias at 5x/10x lr when
/// `fc_lr5`).
pub fn tsm_groups(
    table: &ModelTable,
    fc_lr5: bool,
    base_lr: f64,
    base_wd: f64,
) -> Result<Vec<GroupSpec>, ParamwiseError> {
    let mut first_w = Vec::new();
    let mut first_b = Vec::new();
    let mut normal_w = Vec::new();
    let mut normal_b = Vec::new();
    let mut bn = Vec::new();
    let mut conv_count = 0;
    for (m, module) in table.modules.iter().enumerate() {
        let own: Vec<usize> = (0..table.params.len())
            .filter(|i| table.params[*i].module == m)
            .collect();
        let tensors: Vec<usize> = own.iter().map(|i| table.tensor(*i)).collect();
        if module.is_conv() {
            conv_count += 1;
            let (w, b) = if conv_count == 1 {
                (&mut first_w, &mut first_b)
            } else {
                (&mut normal_w, &mut normal_b)
            };
            if let Some(t) = tensors.first() {
                w.push(*t);
            }
            if let Some(t) = tensors.get(1) {
                b.push(*t);
            }
        } else if module.kind == "Linear" {
            if let Some(t) = tensors.first() {
                normal_w.push(*t);
            }
            if let Some(t) = tensors.get(1) {
                normal_b.push(*t);
            }
        } else if module.kind.starts_with("BatchNorm")
            || module.kind.starts_with("SyncBatchNorm")
            || module.kind == "GroupNorm"
        {
            bn.extend(
                own.iter()
                    .filter(|i| table.params[**i].requires_grad)
                    .map(|i| table.tensor(*i)),
            );
        } else if module.is_leaf && !own.is_empty() {
            return Err(ParamwiseError::UnknownAtomicModule(module.kind.clone()));
        }
    }
    let last_w = normal_w.pop().ok_or(ParamwiseError::NoHead)?;
    let last_b = normal_b.pop();
    let (mut lr5_w, mut lr10_b) = (Vec::new(), Vec::new());
    if fc_lr5 {
        lr5_w.push(last_w);
        lr10_b.extend(last_b);
    } else {
        normal_w.push(last_w);
        normal_b.extend(last_b);
    }
    let group = |params: Vec<usize>, lr: f64, wd: f64| GroupSpec {
        params,
        options: [("lr".to_string(), lr), ("weight_decay".to_string(), wd)]
            .into_iter()
            .collect(),
    };
    Ok(vec![
        group(first_w, base_lr, base_wd),
        group(first_b, base_lr * 2.0, 0.0),
        group(normal_w, base_lr, base_wd),
        group(normal_b, base_lr * 2.0, 0.0),
        group(bn, base_lr, 0.0),
        group(lr5_w, base_lr * 5.0, base_wd),
        group(lr10_b, base_lr * 10.0, 0.0),
    ])
}
