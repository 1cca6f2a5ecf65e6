//! `optimizer = { type, ...options, constructor, paramwise_cfg }` to an optimizer over
//! parameter groups, as MMCV's `build_optimizer` does.

use std::collections::BTreeMap;

use weft_config::{Config, ConfigError, ErrorKind, Node, closest, unknown_name_error};
use weft_core::paramwise::{GroupSpec, ModelTable, ParamwiseCfg, default_groups, tsm_groups};
use weft_core::{Momentum, ParamGroup};

use super::kinds::{KINDS, MomentumKey, OptimizerKind, kind};
use super::options::{self, Options};
use super::{Elementwise, Lbfgs, Optimizer};
use crate::store::ParamStore;

/// An optimizer with its groups.
pub struct OptimizerSetup {
    /// The update rule and its state.
    pub optimizer: Box<dyn Optimizer>,
    /// Schedulable hyperparameters per group.
    pub groups: Vec<ParamGroup>,
    /// Parameter indices (into the store) per group.
    pub members: Vec<Vec<usize>>,
    /// The options each constructor set explicitly, per group.
    pub explicit: Vec<Vec<String>>,
}

/// The built-in optimizer constructors.
pub const CONSTRUCTORS: [&str; 2] = ["DefaultOptimizerConstructor", "TSMOptimizerConstructor"];

/// The constructors' view of a model: modules and parameters in `add_params` order, and the
/// store index of each non-alias entry.
pub fn model_table(store: &ParamStore) -> (ModelTable, Vec<Option<usize>>) {
    store.table()
}

/// Reads the optimizer's own options from its config table (everything but `type`,
/// `constructor` and `paramwise_cfg`), over the kind's defaults.
fn read_options(
    cfg: &Config,
    kind: &'static OptimizerKind,
    table: &weft_config::Table,
) -> Result<Options, ConfigError> {
    let mut opts = options::defaults(kind.spec);
    for (key, node) in table {
        // `None` (from `--cfg-options k=None`) means "not set": the default applies.
        if matches!(key.as_str(), "type" | "constructor" | "paramwise_cfg") || node.is_null() {
            continue;
        }
        let Some(spec) = kind.spec.iter().find(|s| s.name == key) else {
            let mut help = format!("{} options: {}", kind.name, options::names(kind.spec));
            if let Some(best) = closest(key, kind.spec.iter().map(|s| s.name)) {
                help = format!("did you mean `{best}`? {help}");
            }
            return Err(cfg
                .error_at(
                    ErrorKind::UnknownKey,
                    format!("{} has no option `{key}`", kind.name),
                    node.key_or_value_origin(),
                )
                .with_help(help));
        };
        let v = options::from_node(spec, node)
            .map_err(|m| cfg.error_at(ErrorKind::InvalidValue, m, &node.origin))?;
        opts.0.insert(spec.name, v);
    }
    Ok(opts)
}

/// Builds the optimizer described by `node` over the parameters of `store`.
pub fn build_optimizer(
    node: &Node,
    cfg: &Config,
    store: &ParamStore,
) -> Result<OptimizerSetup, ConfigError> {
    let Some(table) = node.as_table() else {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "`optimizer` must be a table with a `type`",
            &node.origin,
        ));
    };
    let Some(ty) = table.get("type") else {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        return Err(cfg
            .error_at(
                ErrorKind::MissingKey,
                "`optimizer` has no `type`",
                &node.origin,
            )
            .with_help(format!("one of: {}", names.join(", "))));
    };
    let name = ty.as_str().unwrap_or_default();
    let Some(kind) = kind(name) else {
        return Err(
            unknown_name_error("optimizer", name, KINDS.iter().map(|k| k.name))
                .with_location(cfg.sources().locate(&ty.origin)),
        );
    };
    let defaults = read_options(cfg, kind, table)?;
    (kind.validate)(&defaults).map_err(|(key, m)| {
        let origin = table.get(key).map_or(&node.origin, |n| &n.origin);
        cfg.error_at(
            ErrorKind::InvalidValue,
            format!("{}: {m}", kind.name),
            origin,
        )
    })?;
    let (model, store_index) = model_table(store);
    let base_lr = defaults.num("lr");
    // MMCV multiplies the weight decay the config gives, not the optimizer's default.
    let base_wd = table.get("weight_decay").and_then(Node::as_f64);
    let constructor = table.get("constructor");
    let ctor_name = constructor
        .and_then(Node::as_str)
        .unwrap_or("DefaultOptimizerConstructor");
    let paramwise = table.get("paramwise_cfg").filter(|p| !p.is_null());
    let groups = match ctor_name {
        "DefaultOptimizerConstructor" => {
            let pw: ParamwiseCfg = match paramwise {
                Some(p) => cfg.read(p)?,
                None => ParamwiseCfg::default(),
            };
            default_groups(&model, &pw, base_lr, base_wd)
        }
        "TSMOptimizerConstructor" => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct TsmCfg {
                #[serde(default)]
                fc_lr5: bool,
            }
            let t: TsmCfg = match paramwise {
                Some(p) => cfg.read(p)?,
                None => TsmCfg { fc_lr5: false },
            };
            tsm_groups(&model, t.fc_lr5, base_lr, base_wd.unwrap_or(0.0))
        }
        other => {
            let origin = constructor
                .map(|c| c.origin.clone())
                .unwrap_or(weft_config::Origin::Builtin);
            return Err(
                unknown_name_error("optimizer constructor", other, CONSTRUCTORS)
                    .with_location(cfg.sources().locate(&origin)),
            );
        }
    }
    .map_err(|e| {
        cfg.error_at(
            ErrorKind::InvalidValue,
            e.to_string(),
            paramwise.map_or(&node.origin, |p| &p.origin),
        )
    })?;
    let groups: Vec<GroupSpec> = groups
        .into_iter()
        .map(|g| GroupSpec {
            params: g
                .params
                .iter()
                .map(|t| store_index[*t].expect("group members are tensors, not aliases"))
                .collect(),
            options: g.options,
        })
        .collect();
    build_with_groups(kind, &defaults, groups, store)
        .map_err(|m| cfg.error_at(ErrorKind::InvalidValue, m, &node.origin))
}

/// Builds an optimizer of `kind` from default options and groups whose `params` are store
/// indices and whose `options` override the defaults (what constructors, built-in or
/// plugin, produce).
pub fn build_with_groups(
    kind: &'static OptimizerKind,
    defaults: &Options,
    groups: Vec<GroupSpec>,
    store: &ParamStore,
) -> Result<OptimizerSetup, String> {
    let mut seen = BTreeMap::new();
    for (g, spec) in groups.iter().enumerate() {
        for &p in &spec.params {
            if let Some(first) = seen.insert(p, g) {
                return Err(format!(
                    "parameter {} appears in more than one parameter group ({first} and {g})",
                    store.params()[p].name
                ));
            }
        }
    }
    if kind.rule.is_none() && groups.len() > 1 {
        return Err(format!(
            "{} doesn't support per-parameter options (parameter groups)",
            kind.name
        ));
    }
    let mut resolved = Vec::new();
    let mut hyper = Vec::new();
    let mut members = Vec::new();
    let mut explicit = Vec::new();
    for (g, spec) in groups.into_iter().enumerate() {
        let mut opts = defaults.clone();
        for (k, v) in &spec.options {
            options::set_num(kind.spec, &mut opts, k, *v)
                .map_err(|e| format!("group {g}: {}", e.message))?;
        }
        (kind.validate)(&opts).map_err(|(_, m)| format!("{} group {g}: {m}", kind.name))?;
        let momentum = match kind.momentum {
            MomentumKey::Momentum => Momentum::Momentum(opts.num("momentum")),
            MomentumKey::Betas => {
                let (b1, b2) = opts.pair("betas");
                Momentum::Betas(b1, b2)
            }
            MomentumKey::None => Momentum::None,
        };
        hyper.push(ParamGroup {
            lr: opts.num("lr"),
            momentum,
            weight_decay: opts.opt_num("weight_decay").unwrap_or(0.0),
            initial_lr: None,
            initial_momentum: None,
            params: spec
                .params
                .iter()
                .map(|p| store.params()[*p].name.clone())
                .collect(),
        });
        explicit.push(spec.options.keys().cloned().collect());
        members.push(spec.params);
        resolved.push(opts);
    }
    let optimizer: Box<dyn Optimizer> = match kind.rule {
        Some(_) => Box::new(Elementwise::new(kind, resolved)),
        None => Box::new(Lbfgs::new(
            resolved
                .into_iter()
                .next()
                .unwrap_or_else(|| defaults.clone()),
        )),
    };
    Ok(OptimizerSetup {
        optimizer,
        groups: hyper,
        members,
        explicit,
    })
}

/// The group list as `weft param-groups --json` prints it.
pub fn groups_json(setup: &OptimizerSetup) -> serde_json::Value {
    let groups: Vec<serde_json::Value> = setup
        .groups
        .iter()
        .map(|g| {
            let (momentum, betas) = match g.momentum {
                Momentum::Momentum(m) => (serde_json::json!(m), serde_json::Value::Null),
                Momentum::Betas(b1, b2) => (serde_json::Value::Null, serde_json::json!([b1, b2])),
                Momentum::None => (serde_json::Value::Null, serde_json::Value::Null),
            };
            serde_json::json!({
                "params": g.params, "lr": g.lr, "weight_decay": g.weight_decay,
                "momentum": momentum, "betas": betas,
            })
        })
        .collect();
    serde_json::json!({ "groups": groups })
}
