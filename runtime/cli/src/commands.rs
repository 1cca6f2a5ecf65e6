//! One module per subcommand.

pub mod print_config;
pub mod train;
