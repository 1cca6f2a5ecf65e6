//! The hook types `custom_hooks` and `log_config.hooks` may name: MMCV's built-ins and what
//! plugins provide, each with a factory that reads and checks its table.

use std::collections::BTreeMap;

use weft_config::schema::{CheckpointConfig, EvalConfig, OptimizerHookConfig};
use weft_config::{
    Config, ConfigError, ErrorKind, Located, Node, Origin, Table, Value, unknown_name_error,
};

use super::{eval_hook, optimizer_hook};
use crate::context::RunnerKind;
use crate::hook::Hook;
use crate::hooks::{
    CheckpointHook, EarlyStoppingConfig, EarlyStoppingHook, IterTimerHook, LrUpdaterHook,
    MlflowConfig, MlflowLoggerHook, MomentumUpdaterHook, TensorboardConfig, TensorboardLoggerHook,
    TextLoggerConfig, TextLoggerHook,
};
use crate::schedule::{ScheduleKind, parse_lr_config, parse_momentum_config};

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

pub(crate) fn table_node(table: Table, origin: &Origin) -> Node {
    Node {
        value: Value::Table(table),
        origin: origin.clone(),
        key_origin: None,
    }
}
