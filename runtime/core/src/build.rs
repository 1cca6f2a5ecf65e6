//! From a validated config to what the loop runs: the runner plan and the built-in hooks,
//! registered in MMCV's order, plus a registry for `custom_hooks` types.

use std::collections::BTreeMap;

use weft_config::schema::{
    CheckpointConfig, EvalConfig, OptimizerHookConfig, Phase, RunConfig, WorkflowStage,
};
use weft_config::{
    Config, ConfigError, ErrorKind, Located, Node, Origin, Table, Value, unknown_name_error,
};

use crate::context::RunnerKind;
use crate::engine::Split;
use crate::hook::Hook;
use crate::hook_set::HookSet;
use crate::hooks::{
    CheckpointHook, EarlyStoppingConfig, EarlyStoppingHook, EvalHook, IterTimerHook, LrUpdaterHook,
    MlflowConfig, MlflowLoggerHook, MomentumUpdaterHook, OptimizerHook, TensorboardConfig,
    TensorboardLoggerHook, TextLoggerConfig, TextLoggerHook,
};
use crate::hooks::{EvalSettings, METRIC_NAMES, Metric, Rule};
use crate::priority::Priority;
use crate::run_log::RunLog;
use crate::schedule::{ScheduleKind, parse_lr_config, parse_momentum_config};

/// Which runner, for how long, over which workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// The runner.
    pub runner: RunnerKind,
    /// Epochs (epoch-based) or iterations (iteration-based).
    pub max: u64,
    /// The workflow.
    pub workflow: Vec<WorkflowStage>,
}

/// Reads `runner`, `total_epochs` and `workflow`.
pub fn plan(cfg: &Config, rc: &RunConfig) -> Result<RunPlan, ConfigError> {
    let invalid = |msg: String, origin: &Origin| cfg.error_at(ErrorKind::InvalidValue, msg, origin);
    let (runner, max) = match &rc.runner {
        Some(r) => match r.kind.value.as_str() {
            "EpochBasedRunner" => {
                if let Some(m) = &r.max_iters {
                    return Err(invalid(
                        "EpochBasedRunner counts epochs: use `max_epochs`, not `max_iters`".into(),
                        &m.origin,
                    ));
                }
                let max = match (&r.max_epochs, &rc.total_epochs) {
                    (Some(m), Some(t)) if m.value != t.value => {
                        return Err(invalid(
                            format!(
                                "runner.max_epochs ({}) and total_epochs ({}) disagree",
                                m.value, t.value
                            ),
                            &t.origin,
                        ));
                    }
                    (Some(m), _) => m.value,
                    (None, Some(t)) => t.value,
                    (None, None) => {
                        return Err(invalid(
                            "EpochBasedRunner needs `max_epochs`".into(),
                            &r.kind.origin,
                        ));
                    }
                };
                (RunnerKind::EpochBased, max)
            }
            "IterBasedRunner" => {
                if let Some(m) = &r.max_epochs {
                    return Err(invalid(
                        "IterBasedRunner counts iterations: use `max_iters`, not `max_epochs`"
                            .into(),
                        &m.origin,
                    ));
                }
                let Some(m) = &r.max_iters else {
                    return Err(invalid(
                        "IterBasedRunner needs `max_iters`".into(),
                        &r.kind.origin,
                    ));
                };
                (RunnerKind::IterBased, m.value)
            }
            other => {
                return Err(unknown_name_error(
                    "runner",
                    other,
                    ["EpochBasedRunner", "IterBasedRunner"],
                )
                .with_location(cfg.sources().locate(&r.kind.origin)));
            }
        },
        None => match &rc.total_epochs {
            Some(t) => (RunnerKind::EpochBased, t.value),
            None => {
                return Err(ConfigError::new(
                    ErrorKind::MissingKey,
                    "the config sets neither `runner` nor `total_epochs`",
                )
                .with_help("add `runner = { type = \"EpochBasedRunner\", max_epochs = 12 }` or `total_epochs = 12`"));
            }
        },
    };
    if max == 0 {
        return Err(ConfigError::new(
            ErrorKind::InvalidValue,
            "the run length (max_epochs / max_iters) must be at least 1",
        ));
    }
    let workflow = match &rc.workflow {
        None => vec![WorkflowStage(Phase::Train, 1)],
        Some(w) => {
            if !w.value.iter().any(|s| s.0 == Phase::Train) {
                return Err(invalid(
                    "the workflow needs a `train` phase".into(),
                    &w.origin,
                ));
            }
            if w.value.iter().any(|s| s.1 == 0) {
                return Err(invalid(
                    "every workflow phase must run at least once".into(),
                    &w.origin,
                ));
            }
            w.value.clone()
        }
    };
    Ok(RunPlan {
        runner,
        max,
        workflow,
    })
}

/// Builds a custom hook from its table (without `type` and `priority`).
pub type HookFactory =
    Box<dyn Fn(&Node, &BuildContext<'_>) -> Result<Box<dyn Hook>, ConfigError> + Send + Sync>;

/// What a hook factory may read.
pub struct BuildContext<'a> {
    /// The whole config.
    pub config: &'a Config,
    /// The runner in use.
    pub runner: RunnerKind,
    /// `log_config.interval` (loggers' default interval).
    pub log_interval: u64,
}

/// Hook types that `custom_hooks` may name: the built-ins plus what plugins provide.
#[derive(Default)]
pub struct HookRegistry {
    factories: BTreeMap<String, HookFactory>,
}

impl HookRegistry {
    /// A registry with MMCV's built-in hook types.
    pub fn with_builtins() -> HookRegistry {
        let mut r = HookRegistry::default();
        r.register("CheckpointHook", |node, b| {
            let cfg: CheckpointConfig = b.config.read(node)?;
            let by_epoch = cfg.by_epoch.unwrap_or(b.runner == RunnerKind::EpochBased);
            Ok(Box::new(CheckpointHook::new(cfg, by_epoch)))
        });
        r.register("IterTimerHook", |node, b| {
            let _: Empty = b.config.read(node)?;
            Ok(Box::new(IterTimerHook::default()))
        });
        r.register("TextLoggerHook", |node, b| {
            logger_interval(b.config, node)?;
            let cfg: TextLoggerConfig = b.config.read(node)?;
            Ok(Box::new(TextLoggerHook::new(
                cfg,
                b.log_interval,
                b.runner == RunnerKind::EpochBased,
            )))
        });
        r.register("TensorboardLoggerHook", |node, b| {
            logger_interval(b.config, node)?;
            let cfg: TensorboardConfig = b.config.read(node)?;
            Ok(Box::new(TensorboardLoggerHook::new(
                cfg,
                b.log_interval,
                b.runner == RunnerKind::EpochBased,
            )))
        });
        r.register("MlflowLoggerHook", |node, b| {
            logger_interval(b.config, node)?;
            let cfg: MlflowConfig = b.config.read(node)?;
            Ok(Box::new(MlflowLoggerHook::new(
                cfg,
                b.log_interval,
                b.runner == RunnerKind::EpochBased,
            )))
        });
        for name in ["OptimizerHook", "GradientCumulativeOptimizerHook"] {
            r.register(name, move |node, b| {
                let mut table = node.as_table().cloned().unwrap_or_default();
                table.insert("type".into(), Node::builtin(Value::String(name.into())));
                let cfg: OptimizerHookConfig = b.config.read(&table_node(table, &node.origin))?;
                optimizer_hook(b.config, &cfg)
            });
        }
        for kind in [ScheduleKind::Lr, ScheduleKind::Momentum] {
            for policy in kind.policies() {
                let suffix = match kind {
                    ScheduleKind::Lr => "LrUpdaterHook",
                    ScheduleKind::Momentum => "MomentumUpdaterHook",
                };
                r.register(&format!("{policy}{suffix}"), move |node, b| {
                    let mut table = node.as_table().cloned().unwrap_or_default();
                    table.insert(
                        "policy".into(),
                        Node::builtin(Value::String(policy.to_string())),
                    );
                    let node = table_node(table, &node.origin);
                    Ok(match kind {
                        ScheduleKind::Lr => Box::new(LrUpdaterHook::new(parse_lr_config(
                            &node,
                            b.config.sources(),
                            b.runner,
                        )?)),
                        ScheduleKind::Momentum => Box::new(MomentumUpdaterHook::new(
                            parse_momentum_config(&node, b.config.sources(), b.runner)?,
                        )),
                    })
                });
            }
        }
        r.register("EarlyStoppingHook", |node, b| {
            let cfg: EarlyStoppingConfig = b.config.read(node)?;
            let hook = EarlyStoppingHook::new(cfg)
                .map_err(|m| b.config.error_at(ErrorKind::InvalidValue, m, &node.origin))?;
            Ok(Box::new(hook))
        });
        r.register("EvalHook", |node, b| {
            let cfg: EvalConfig = b.config.read(node)?;
            Ok(Box::new(eval_hook(b.config, &cfg)?))
        });
        r
    }

    /// Adds a type; a later registration of the same name replaces the earlier one.
    pub fn register(
        &mut self,
        name: &str,
        factory: impl Fn(&Node, &BuildContext<'_>) -> Result<Box<dyn Hook>, ConfigError>
        + Send
        + Sync
        + 'static,
    ) {
        self.factories.insert(name.to_string(), Box::new(factory));
    }

    /// Whether a type is known.
    pub fn contains(&self, name: &str) -> bool {
        self.factories.contains_key(name)
    }

    /// The known type names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.factories.keys().map(String::as_str)
    }

    /// Builds a hook of a registered type from its arguments (the entry without `type`).
    pub fn build(
        &self,
        name: &Located<String>,
        args: &Node,
        b: &BuildContext<'_>,
    ) -> Result<Box<dyn Hook>, ConfigError> {
        match self.factories.get(&name.value) {
            Some(f) => f(args, b),
            None => Err(unknown_name_error("hook", &name.value, self.names())
                .with_location(b.config.sources().locate(&name.origin))),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// A logger's own `interval`, if given, is at least 1 (0 would never log a training line).
fn logger_interval(cfg: &Config, node: &Node) -> Result<(), ConfigError> {
    match node.get("interval") {
        Some(i) if matches!(i.value, Value::Integer(n) if n < 1) => Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "a logger's interval must be at least 1",
            &i.origin,
        )),
        _ => Ok(()),
    }
}

fn table_node(table: Table, origin: &Origin) -> Node {
    Node {
        value: Value::Table(table),
        origin: origin.clone(),
        key_origin: None,
    }
}

fn optimizer_hook(cfg: &Config, oc: &OptimizerHookConfig) -> Result<Box<dyn Hook>, ConfigError> {
    if let Some(clip) = &oc.grad_clip
        && (clip.max_norm.value.is_nan() || clip.max_norm.value <= 0.0)
    {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            format!(
                "grad_clip.max_norm must be positive, not {}",
                clip.max_norm.value
            ),
            &clip.max_norm.origin,
        ));
    }
    let kind = oc
        .kind
        .as_ref()
        .map_or("OptimizerHook", |k| k.value.as_str());
    match kind {
        "OptimizerHook" => {
            if let Some(c) = &oc.cumulative_iters {
                return Err(cfg.error_at(
                    ErrorKind::UnknownKey,
                    "`cumulative_iters` needs `type = \"GradientCumulativeOptimizerHook\"`",
                    &c.origin,
                ));
            }
            Ok(Box::new(OptimizerHook::new(
                oc.grad_clip.clone(),
                oc.detect_anomalous_params,
            )))
        }
        "GradientCumulativeOptimizerHook" => {
            let c = oc.cumulative_iters.as_ref().map_or(1, |c| c.value);
            if c == 0 {
                return Err(ConfigError::new(
                    ErrorKind::InvalidValue,
                    "cumulative_iters must be at least 1",
                ));
            }
            Ok(Box::new(OptimizerHook::cumulative(
                oc.grad_clip.clone(),
                oc.detect_anomalous_params,
                c,
            )))
        }
        other => {
            let origin = oc
                .kind
                .as_ref()
                .map(|k| k.origin.clone())
                .unwrap_or(Origin::Builtin);
            Err(unknown_name_error(
                "optimizer hook",
                other,
                ["OptimizerHook", "GradientCumulativeOptimizerHook"],
            )
            .with_location(cfg.sources().locate(&origin)))
        }
    }
}

/// The metrics `evaluation` asks for (`metrics`, with `topk` or `metric_options`), checked.
pub fn evaluation_metrics(cfg: &Config, ec: &EvalConfig) -> Result<Vec<Metric>, ConfigError> {
    metrics_named(
        cfg,
        ec,
        ec.metrics.iter().map(|m| (m.value.as_str(), &m.origin)),
    )
}

/// The metrics of these names with `evaluation`'s `topk` (what `weft test --eval` asks for).
pub fn metrics_named<'a>(
    cfg: &Config,
    ec: &EvalConfig,
    names: impl Iterator<Item = (&'a str, &'a Origin)>,
) -> Result<Vec<Metric>, ConfigError> {
    let mut topk: Option<Vec<u32>> = ec.topk.as_ref().map(|t| t.value.clone());
    if let Some(opts) = &ec.metric_options
        && let Some(t) = opts.0.get_path("top_k_accuracy.topk")
    {
        topk = Some(cfg.read(t)?);
    }
    let topk = topk.unwrap_or_else(|| vec![1, 5]);
    if topk.is_empty() || topk.contains(&0) {
        let origin = ec
            .topk
            .as_ref()
            .map(|t| t.origin.clone())
            .unwrap_or(Origin::Builtin);
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "topk must list positive integers",
            &origin,
        ));
    }
    let mut metrics = Vec::new();
    for (name, origin) in names {
        metrics.push(match name {
            "top_k_accuracy" => Metric::TopK(topk.clone()),
            "mean_class_accuracy" => Metric::MeanClass,
            other => {
                return Err(unknown_name_error("metric", other, METRIC_NAMES)
                    .with_location(cfg.sources().locate(origin)));
            }
        });
    }
    Ok(metrics)
}

fn eval_hook(cfg: &Config, ec: &EvalConfig) -> Result<EvalHook, ConfigError> {
    let metrics = evaluation_metrics(cfg, ec)?;
    if ec.interval.value == 0 {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "evaluation.interval must be at least 1",
            &ec.interval.origin,
        ));
    }
    let rule = match &ec.rule {
        None => None,
        Some(r) => Some(match r.value.as_str() {
            "greater" => Rule::Greater,
            "less" => Rule::Less,
            other => {
                return Err(cfg.error_at(
                    ErrorKind::InvalidValue,
                    format!("rule must be \"greater\" or \"less\", not \"{other}\""),
                    &r.origin,
                ));
            }
        }),
    };
    let split = match ec.dataset.as_ref().map(|d| d.value.as_str()) {
        None | Some("val") => Split::Val,
        Some("test") => Split::Test,
        Some(other) => {
            let origin = ec
                .dataset
                .as_ref()
                .map(|d| d.origin.clone())
                .unwrap_or(Origin::Builtin);
            return Err(cfg.error_at(
                ErrorKind::InvalidValue,
                format!("evaluation.dataset must be \"val\" or \"test\", not \"{other}\""),
                &origin,
            ));
        }
    };
    let save_best = ec.save_best.as_ref().map(|s| s.value.clone());
    EvalHook::new(EvalSettings {
        metrics,
        split,
        interval: ec.interval.value,
        start: ec.start,
        by_epoch: ec.by_epoch,
        save_best,
        rule,
        greater_keys: ec.greater_keys.clone(),
        less_keys: ec.less_keys.clone(),
    })
    .map_err(|msg| {
        let origin = ec
            .save_best
            .as_ref()
            .map(|s| s.origin.clone())
            .unwrap_or(Origin::Builtin);
        cfg.error_at(ErrorKind::InvalidValue, msg, &origin)
    })
}

/// Builds every hook the config asks for, in MMCV's registration order: lr, momentum,
/// optimizer, checkpoint, timer, loggers, custom hooks, then the evaluation hook at LOW (as
/// MMAction2 registers it).
pub fn hooks(
    cfg: &Config,
    rc: &RunConfig,
    plan: &RunPlan,
    registry: &HookRegistry,
    log: &RunLog,
) -> Result<HookSet, ConfigError> {
    let mut set = HookSet::default();
    let runner = plan.runner;
    let log_interval = rc.log_config.as_ref().map_or(10, |l| l.interval.value);
    let b = BuildContext {
        config: cfg,
        runner,
        log_interval,
    };
    if let Some(lr) = &rc.lr_config {
        let schedule = parse_lr_config(&lr.0, cfg.sources(), runner)?;
        if runner == RunnerKind::IterBased && schedule.by_epoch {
            log.warn("lr_config has by_epoch = true under IterBasedRunner, which never starts an epoch: the lr will not change");
        }
        set.register(Box::new(LrUpdaterHook::new(schedule)), Priority::VERY_HIGH);
    }
    if let Some(m) = &rc.momentum_config {
        let schedule = parse_momentum_config(&m.0, cfg.sources(), runner)?;
        if runner == RunnerKind::IterBased && schedule.by_epoch {
            log.warn(
                "momentum_config is by epoch (the default) under IterBasedRunner, so momentum never changes, as in MMCV; \
                 set `by_epoch = false` in momentum_config to schedule it per iteration",
            );
        }
        set.register(Box::new(MomentumUpdaterHook::new(schedule)), Priority::HIGH);
    }
    let oc = rc.optimizer_config.clone().unwrap_or_default();
    set.register(optimizer_hook(cfg, &oc)?, Priority::ABOVE_NORMAL);
    if let Some(cc) = &rc.checkpoint_config {
        if let Some(k) = &cc.kind
            && k.value != "CheckpointHook"
        {
            return Err(
                unknown_name_error("checkpoint hook", &k.value, ["CheckpointHook"])
                    .with_location(cfg.sources().locate(&k.origin)),
            );
        }
        let by_epoch = cc.by_epoch.unwrap_or(runner == RunnerKind::EpochBased);
        set.register(
            Box::new(CheckpointHook::new(cc.clone(), by_epoch)),
            Priority::NORMAL,
        );
    }
    set.register(Box::new(IterTimerHook::default()), Priority::LOW);
    if let Some(lc) = &rc.log_config {
        for entry in &lc.hooks {
            let (name, args) = split_type(cfg, &entry.0, "log_config.hooks")?;
            if name.value == "WandbLoggerHook" {
                return Err(cfg
                    .error_at(
                        ErrorKind::UnknownType,
                        "`WandbLoggerHook` is not supported: Weights & Biases records runs only through its own client (offline runs are binary `.wandb` files that `wandb sync` uploads), and weft runs no Python",
                        &name.origin,
                    )
                    .with_help(
                        "use MlflowLoggerHook or TensorboardLoggerHook (W&B imports TensorBoard logs with `wandb sync --sync-tensorboard <work_dir>/tf_logs`), or the .log.json file of TextLoggerHook",
                    ));
            }
            set.register(registry.build(&name, &args, &b)?, Priority::VERY_LOW);
        }
    }
    for entry in &rc.custom_hooks {
        let (name, mut args) = split_type(cfg, &entry.0, "custom_hooks")?;
        let priority = take_priority(cfg, &mut args)?;
        let hook = registry.build(&name, &args, &b)?;
        let priority = priority.unwrap_or_else(|| hook.default_priority());
        set.register(hook, priority);
    }
    if let Some(ec) = &rc.evaluation {
        set.register(Box::new(eval_hook(cfg, ec)?), Priority::LOW);
    }
    Ok(set)
}

/// Splits `{ type = "X", ... }` into the type name and the remaining arguments.
pub fn split_type(
    cfg: &Config,
    node: &Node,
    what: &str,
) -> Result<(Located<String>, Node), ConfigError> {
    let Some(table) = node.as_table() else {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            format!("each entry of `{what}` must be a table"),
            &node.origin,
        ));
    };
    let Some(ty) = table.get("type") else {
        return Err(cfg.error_at(
            ErrorKind::MissingKey,
            format!("this `{what}` entry has no `type`"),
            &node.origin,
        ));
    };
    let Some(name) = ty.as_str() else {
        return Err(cfg.error_at(
            ErrorKind::InvalidValue,
            "`type` must be a string",
            &ty.origin,
        ));
    };
    let mut rest = table.clone();
    rest.shift_remove("type");
    Ok((
        Located {
            value: name.to_string(),
            origin: ty.origin.clone(),
        },
        table_node(rest, &node.origin),
    ))
}

/// Removes `priority` from a hook table: a name (case-insensitive) or an integer 0..=100;
/// `None` when the entry gives none (the hook type's default then applies).
pub fn take_priority(cfg: &Config, args: &mut Node) -> Result<Option<Priority>, ConfigError> {
    let Some(table) = args.as_table_mut() else {
        return Ok(None);
    };
    let Some(node) = table.shift_remove("priority") else {
        return Ok(None);
    };
    let result = match &node.value {
        Value::String(s) => Priority::from_name(s),
        Value::Integer(i) => Priority::from_int(*i),
        Value::Boolean(true) => Ok(Priority(1)),
        other => Err(format!(
            "priority must be a name or an integer, not a {}",
            other.type_name()
        )),
    };
    result
        .map(Some)
        .map_err(|msg| cfg.error_at(ErrorKind::InvalidValue, msg, &node.origin))
}
