//! One module per subcommand.

pub mod param_groups;
pub mod plugin;
pub mod print_config;
pub mod schedule;
pub mod train;
