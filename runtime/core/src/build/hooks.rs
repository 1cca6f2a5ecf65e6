//! Every hook a config asks for, registered in MMCV's order, and the pieces of a hook entry
//! (`type`, `priority`).

use weft_config::schema::{OptimizerHookConfig, RunConfig};
use weft_config::{
    Config, ConfigError, ErrorKind, Located, Node, Origin, Value, unknown_name_error,
};

use super::registry::table_node;
use super::{BuildContext, HookRegistry, RunPlan, eval_hook};
use crate::context::RunnerKind;
use crate::hook::Hook;
use crate::hook_set::HookSet;
use crate::hooks::{
    CheckpointHook, IterTimerHook, LrUpdaterHook, MomentumUpdaterHook, OptimizerHook,
};
use crate::priority::Priority;
use crate::run_log::RunLog;
use crate::schedule::{parse_lr_config, parse_momentum_config};

pub(crate) fn optimizer_hook(
    cfg: &Config,
    oc: &OptimizerHookConfig,
) -> Result<Box<dyn Hook>, ConfigError> {
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
