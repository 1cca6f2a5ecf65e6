//! `optimizer = { type, ...options, constructor, paramwise_cfg }` to an optimizer over
//! parameter groups, as MMCV's `build_optimizer` does.

use std::collections::BTreeMap;

use weft_config::{Config, ConfigError, ErrorKind, Node, closest, unknown_name_error};
use weft_core::paramwise::{GroupSpec, ModelTable, ParamwiseCfg, default_groups, tsm_groups};
use weft_core::plugin::Extensions;
use weft_core::{Momentum, ParamGroup};

use super::kinds::{KINDS, MomentumKey, OptimizerKind, kind};
use super::options::{self, Options};
use super::plugin::PluginOptimizer;
use super::{Elementwise, Lbfgs, Optimizer};
use crate::store::ParamStore;

/// An optimizer with its groups.
pub struct OptimizerSetup {
    /// The update rule and its state.
    pub optimizer: Box<dyn Optimizer>,
    /// The groups: members and schedulable hyperparameters, one record each.
    pub groups: Vec<ParamGroup>,
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

/// Builds the optimizer described by `node` over the parameters of `store`; `ext` adds the
/// optimizers and constructors plugins provide.
pub fn build_optimizer(
    node: &Node,
    cfg: &Config,
    store: &ParamStore,
    ext: &Extensions,
) -> Result<OptimizerSetup, ConfigError> {
    let Some(table) = node.as_table() else {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "`optimizer` must be a table with a `type`",
            &node.origin,
        ));
    };
    let names = || {
        KINDS
            .iter()
            .map(|k| k.name.to_string())
            .chain(ext.optimizers.keys().cloned())
            .collect::<Vec<_>>()
    };
    let Some(ty) = table.get("type") else {
        return Err(cfg
            .error_at(
                ErrorKind::MissingKey,
                "`optimizer` has no `type`",
                &node.origin,
            )
            .with_help(format!("one of: {}", names().join(", "))));
    };
    let name = ty.as_str().unwrap_or_default();
    if let Some(factory) = ext.optimizers.get(name) {
        return build_plugin_optimizer(node, table, cfg, store, ext, factory);
    }
    let Some(kind) = kind(name) else {
        let all = names();
        return Err(
            unknown_name_error("optimizer", name, all.iter().map(String::as_str))
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
    let groups = constructor_groups(node, table, cfg, store, ext, defaults.num("lr"))?;
    // A bad option in a group comes from the constructor that made the group: name it.
    let by = plugin_constructor(table, ext)
        .map(|c| format!("constructor {c}: "))
        .unwrap_or_default();
    build_with_groups(kind, &defaults, groups, store)
        .map_err(|m| cfg.error_at(ErrorKind::InvalidValue, format!("{by}{m}"), &node.origin))
}

/// The name of the plugin constructor the optimizer table uses, if it uses one.
fn plugin_constructor<'a>(table: &'a weft_config::Table, ext: &Extensions) -> Option<&'a str> {
    table
        .get("constructor")
        .and_then(Node::as_str)
        .filter(|c| ext.constructors.contains_key(*c))
}

/// The optimizer table as a plugin receives it (JSON, without `type` and `constructor`).
fn plugin_json(table: &weft_config::Table, keep_paramwise: bool) -> serde_json::Value {
    serde_json::Value::Object(
        table
            .iter()
            .filter(|(k, _)| {
                !matches!(k.as_str(), "type" | "constructor")
                    && (keep_paramwise || k.as_str() != "paramwise_cfg")
            })
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect(),
    )
}

/// Runs the configured constructor (built-in or from a plugin); groups hold store indices.
fn constructor_groups(
    node: &Node,
    table: &weft_config::Table,
    cfg: &Config,
    store: &ParamStore,
    ext: &Extensions,
    base_lr: f64,
) -> Result<Vec<GroupSpec>, ConfigError> {
    let (model, store_index) = model_table(store);
    // MMCV multiplies the weight decay the config gives, not the optimizer's default.
    let base_wd = table.get("weight_decay").and_then(Node::as_f64);
    let constructor = table.get("constructor");
    let ctor_name = constructor
        .and_then(Node::as_str)
        .unwrap_or("DefaultOptimizerConstructor");
    let paramwise = table.get("paramwise_cfg").filter(|p| !p.is_null());
    let err_origin = paramwise.map_or(&node.origin, |p| &p.origin);
    let groups = match ctor_name {
        "DefaultOptimizerConstructor" => {
            let pw: ParamwiseCfg = match paramwise {
                Some(p) => cfg.read(p)?,
                None => ParamwiseCfg::default(),
            };
            default_groups(&model, &pw, base_lr, base_wd).map_err(|e| e.to_string())
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
            tsm_groups(&model, t.fc_lr5, base_lr, base_wd.unwrap_or(0.0)).map_err(|e| e.to_string())
        }
        other => match ext.constructors.get(other) {
            Some(factory) => factory()
                .and_then(|mut c| c.build(&plugin_json(table, true), &model))
                .and_then(|groups| check_constructor_groups(&model, groups))
                .map_err(|m| format!("constructor {other}: {m}")),
            None => {
                let origin = constructor
                    .map(|c| c.origin.clone())
                    .unwrap_or(weft_config::Origin::Builtin);
                let known: Vec<String> = CONSTRUCTORS
                    .iter()
                    .map(|c| c.to_string())
                    .chain(ext.constructors.keys().cloned())
                    .collect();
                return Err(unknown_name_error(
                    "optimizer constructor",
                    other,
                    known.iter().map(String::as_str),
                )
                .with_location(cfg.sources().locate(&origin)));
            }
        },
    }
    .map_err(|m| cfg.error_at(ErrorKind::InvalidValue, m, err_origin))?;
    Ok(groups
        .into_iter()
        .map(|g| GroupSpec {
            params: g
                .params
                .iter()
                .map(|t| store_index[*t].expect("group members are tensors, not aliases"))
                .collect(),
            options: g.options,
        })
        .collect())
}

/// A plugin constructor's groups must name valid first entries, each at most once, and cover
/// every trainable parameter.
pub fn check_constructor_groups(
    model: &ModelTable,
    groups: Vec<GroupSpec>,
) -> Result<Vec<GroupSpec>, String> {
    // Bounded before anything else is done with them (a constructor can return a million).
    // Empty groups are allowed, as torch allows them (MMAction2's TSM constructor makes
    // seven groups whatever the model has), but not many more groups than parameters.
    if groups.len() > model.params.len() + 64 {
        return Err(format!(
            "{} groups for {} parameter entries (at most the entries + 64)",
            groups.len(),
            model.params.len()
        ));
    }
    let mut seen = vec![false; model.params.len()];
    for (n, g) in groups.iter().enumerate() {
        if g.options.len() > 64 {
            return Err(format!(
                "group {n} sets {} options (at most 64)",
                g.options.len()
            ));
        }
        for &i in &g.params {
            let Some(p) = model.params.get(i) else {
                return Err(format!(
                    "parameter index {i} is out of range (the model has {} entries)",
                    model.params.len()
                ));
            };
            if p.alias_of.is_some() {
                return Err(format!(
                    "entry {i} ({}) is a shared parameter's second name; use its first entry",
                    model.name(i)
                ));
            }
            if std::mem::replace(&mut seen[i], true) {
                return Err(format!(
                    "parameter {} is in more than one group",
                    model.name(i)
                ));
            }
        }
    }
    let missing: Vec<String> = model
        .unique()
        .into_iter()
        .filter(|i| model.params[*i].requires_grad && !seen[*i])
        .map(|i| model.name(i))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "these parameters are in no group: {}",
            missing.join(", ")
        ));
    }
    Ok(groups)
}

fn build_plugin_optimizer(
    node: &Node,
    table: &weft_config::Table,
    cfg: &Config,
    store: &ParamStore,
    ext: &Extensions,
    factory: &weft_core::plugin::OptimizerFactory,
) -> Result<OptimizerSetup, ConfigError> {
    let fail = |m: String| cfg.error_at(ErrorKind::InvalidValue, m, &node.origin);
    let plugin = factory(&plugin_json(table, false)).map_err(fail)?;
    let defaults: BTreeMap<String, f64> = plugin.defaults().iter().cloned().collect();
    let Some(&base_lr) = defaults.get("lr") else {
        return Err(fail(format!(
            "optimizer plugin {} declares no `lr` option",
            plugin.name()
        )));
    };
    let groups = constructor_groups(node, table, cfg, store, ext, base_lr)?;
    let by = plugin_constructor(table, ext)
        .map(|c| format!("constructor {c}: "))
        .unwrap_or_default();
    let mut options = Vec::new();
    let mut hyper = Vec::new();
    for (g, spec) in groups.into_iter().enumerate() {
        let mut opts = defaults.clone();
        for (k, v) in &spec.options {
            if !opts.contains_key(k) {
                return Err(fail(format!(
                    "{by}group {g}: optimizer plugin {} has no option `{k}`; its options: {}",
                    plugin.name(),
                    defaults.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            opts.insert(k.clone(), *v);
        }
        // The host checks what it schedules (a NaN lr would fail only at the first step).
        for key in ["lr", "momentum", "weight_decay"] {
            if let Some(v) = opts.get(key)
                && !(v.is_finite() && *v >= 0.0)
            {
                return Err(fail(format!(
                    "{by}group {g}: {key} must be finite and >= 0, got {v}"
                )));
            }
        }
        if let Some((k, v)) = opts.iter().find(|(_, v)| !v.is_finite()) {
            return Err(fail(format!("{by}group {g}: {k} must be finite, got {v}")));
        }
        hyper.push(param_group(
            store,
            &spec,
            opts["lr"],
            opts.get("momentum")
                .map_or(Momentum::None, |m| Momentum::Momentum(*m)),
            opts.get("weight_decay").copied().unwrap_or(0.0),
        ));
        options.push(opts);
    }
    Ok(OptimizerSetup {
        optimizer: Box::new(PluginOptimizer::new(plugin, options)),
        groups: hyper,
    })
}

/// The record of a group: its members (named and by index), what its constructor set, and
/// the hyperparameters schedules read and write.
fn param_group(
    store: &ParamStore,
    spec: &GroupSpec,
    lr: f64,
    momentum: Momentum,
    weight_decay: f64,
) -> ParamGroup {
    ParamGroup {
        lr,
        momentum,
        weight_decay,
        params: spec
            .params
            .iter()
            .map(|p| store.params()[*p].name.clone())
            .collect(),
        members: spec.params.clone(),
        explicit: spec.options.keys().cloned().collect(),
    }
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
        hyper.push(param_group(
            store,
            &spec,
            opts.num("lr"),
            momentum,
            opts.opt_num("weight_decay").unwrap_or(0.0),
        ));
        // What schedules change lives in the group record only: no stale copy here.
        for scheduled in ["lr", "momentum", "betas", "weight_decay"] {
            opts.0.remove(scheduled);
        }
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
