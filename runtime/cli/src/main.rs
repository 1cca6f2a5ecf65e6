//! The `weft` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use weft::commands;
use weft::session::TrainOptions;

/// weft: MMCV-style training on native libtorch, with sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(name = "weft", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model as the config describes (MMCV's tools/train.py).
    Train {
        /// The run config (TOML, MMCV key names).
        config: PathBuf,
        /// Where checkpoints and logs go (default: the config's `work_dir`, else
        /// ./work_dirs/<config name>).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Override config keys, MMCV style: `optimizer.lr=0.02 'workflow=[(train,1)]'`.
        /// Dotted keys merge into tables; a number indexes a list.
        #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
        cfg_options: Vec<String>,
        /// Continue a run from this checkpoint (weights, optimizer, schedule, data position,
        /// plugin state).
        #[arg(long, conflicts_with = "auto_resume")]
        resume_from: Option<PathBuf>,
        /// Continue from <work-dir>/latest.safetensors if it exists.
        #[arg(long)]
        auto_resume: bool,
        /// Seed for initial weights, shuffling and dropout (default: the config's `seed`, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// cpu, cuda, cuda:N, or auto (CUDA when available).
        #[arg(long)]
        device: Option<String>,
    },
    /// Print the fully merged config (after `_base_`, `_delete_` and --cfg-options) as TOML.
    PrintConfig {
        /// The config file.
        config: PathBuf,
        /// Override config keys, as for `train`.
        #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
        cfg_options: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train {
            config,
            work_dir,
            cfg_options,
            resume_from,
            auto_resume,
            seed,
            device,
        } => commands::train::run(&TrainOptions {
            config,
            work_dir,
            cfg_options,
            resume_from,
            auto_resume,
            seed,
            device,
            console: true,
        }),
        Command::PrintConfig {
            config,
            cfg_options,
        } => commands::print_config::run(&config, &cfg_options).map(|_| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("error: {}", render(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, one per line, without a backtrace.
fn render(err: &anyhow::Error) -> String {
    let mut out = err.to_string();
    for cause in err.chain().skip(1) {
        out.push_str(&format!("\n  caused by: {cause}"));
    }
    out
}
