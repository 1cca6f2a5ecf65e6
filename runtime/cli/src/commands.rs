//! One module per subcommand.

pub mod convert;
pub mod data;
pub mod dist_train;
pub mod export;
pub mod import_mmcv;
pub mod param_groups;
pub mod plot;
pub mod plugin;
pub mod plugin_new;
pub mod print_config;
pub mod schedule;
pub mod test;
pub mod train;
