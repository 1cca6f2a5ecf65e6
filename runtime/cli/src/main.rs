//! The `weft` command.

use std::path::PathBuf;

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand, ValueEnum};
use weft::commands;
use weft::session::TrainOptions;

/// weft: MMCV-style training on native libtorch, with sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(name = "weft", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What `train` and `dist-train` share.
#[derive(Args, Clone)]
struct TrainArgs {
    /// The run config (TOML or MMCV Python, MMCV key names).
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
}

impl TrainArgs {
    fn options(self, distributed: bool) -> TrainOptions {
        TrainOptions {
            config: self.config,
            work_dir: self.work_dir,
            cfg_options: self.cfg_options,
            resume_from: self.resume_from,
            auto_resume: self.auto_resume,
            seed: self.seed,
            device: self.device,
            console: true,
            distributed,
            warnings: Vec::new(),
        }
    }

    /// The same flags for a rank's `weft train`.
    fn to_args(&self) -> Vec<OsString> {
        let mut out: Vec<OsString> = vec![self.config.clone().into()];
        let mut flag = |name: &str, value: OsString| {
            out.push(name.into());
            out.push(value);
        };
        if let Some(w) = &self.work_dir {
            flag("--work-dir", w.clone().into());
        }
        if let Some(r) = &self.resume_from {
            flag("--resume-from", r.clone().into());
        }
        if let Some(s) = self.seed {
            flag("--seed", s.to_string().into());
        }
        if let Some(d) = &self.device {
            flag("--device", d.into());
        }
        if self.auto_resume {
            out.push("--auto-resume".into());
        }
        if !self.cfg_options.is_empty() {
            out.push("--cfg-options".into());
            out.extend(self.cfg_options.iter().map(OsString::from));
        }
        out
    }
}

/// MMAction2's tools/train.py reading of `--gpus` and `--gpu-ids`: outside data-parallel runs
/// they set `gpu_ids` to one GPU (the first id), with a warning when they named more; a
/// data-parallel rank ignores them and takes the GPU of its local rank.
fn gpu_flags(opts: &mut TrainOptions, gpus: Option<usize>, gpu_ids: Option<Vec<u32>>) {
    let (first, named, flag) = match (gpus, gpu_ids) {
        (Some(n), _) => (0, n, "--gpus"),
        (None, Some(ids)) if !ids.is_empty() => (ids[0], ids.len(), "--gpu-ids"),
        _ => return,
    };
    if opts.distributed {
        opts.warnings.push(format!(
            "{flag} is ignored with --launcher pytorch: each rank takes the GPU of its local rank"
        ));
        return;
    }
    if named > 1 {
        opts.warnings.push(format!(
            "{flag} names {named} GPUs and one process trains on one (cuda:{first}); for {named} GPUs run weft dist-train CONFIG --nproc {named}"
        ));
    }
    opts.cfg_options.push(format!("gpu_ids=[{first}]"));
}

/// How a `weft train` process was started.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Launcher {
    /// One process.
    None,
    /// One rank of torchrun's (or `weft dist-train`'s) group.
    Pytorch,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model as the config describes (MMCV's tools/train.py).
    Train {
        #[command(flatten)]
        args: TrainArgs,
        /// `pytorch`: be one rank of a data-parallel run, placed by torchrun's variables
        /// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), as MMAction2's
        /// `tools/train.py --launcher pytorch`.
        #[arg(long, value_enum, default_value = "none")]
        launcher: Launcher,
        /// Accepted from torch.distributed.launch; LOCAL_RANK is read from the environment.
        #[arg(long, alias = "local_rank", hide = true)]
        local_rank: Option<usize>,
        /// MMAction2's `--gpus N` for one process: it trains on one GPU (gpu_ids = [0]);
        /// for N GPUs use `weft dist-train CONFIG --nproc N`.
        #[arg(long, conflicts_with_all = ["gpu_ids", "device"])]
        gpus: Option<usize>,
        /// MMAction2's `--gpu-ids`: one process trains on the first of them.
        #[arg(long, num_args = 1.., conflicts_with = "device")]
        gpu_ids: Option<Vec<u32>>,
    },
    /// Train data-parallel: start --nproc ranks of `weft train --launcher pytorch` on this
    /// machine (MMAction2's tools/dist_train.sh, without Python), watch them, and stop all
    /// if one fails.
    DistTrain {
        #[command(flatten)]
        args: TrainArgs,
        /// Ranks on this machine (one per GPU on CUDA).
        #[arg(long, default_value_t = 1)]
        nproc: usize,
        /// Machines taking part.
        #[arg(long, default_value_t = 1)]
        nnodes: usize,
        /// This machine's index among them.
        #[arg(long, default_value_t = 0)]
        node_rank: usize,
        /// The host serving the rendezvous store (rank 0's machine).
        #[arg(long, default_value = "127.0.0.1")]
        master_addr: String,
        /// Its port (default: a free port on one machine, 29500 on several).
        #[arg(long)]
        master_port: Option<u16>,
    },
    /// Print the LR and momentum of every parameter group at every training iteration,
    /// computed by the configured hooks without training or loading images.
    Schedule {
        /// The config file.
        config: PathBuf,
        /// Training iterations per epoch (default: from the training set's length).
        #[arg(long)]
        iters_per_epoch: Option<usize>,
        /// Print one JSON object: {"iters": [{"epoch", "iter", "inner_iter", "lr": [...], "momentum": [...]}]}.
        #[arg(long)]
        json: bool,
        /// Also draw the curves into this PNG file.
        #[arg(long, value_name = "FILE.png")]
        plot: Option<PathBuf>,
        /// Override config keys, as for `train`.
        #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
        cfg_options: Vec<String>,
    },
    /// Print the optimizer's parameter groups as the constructor builds them (a dry run).
    ParamGroups {
        /// The config file.
        config: PathBuf,
        /// Print one JSON object: {"groups": [{"params", "lr", "weight_decay", "momentum", "betas"}]}.
        #[arg(long)]
        json: bool,
        /// Override config keys, as for `train`.
        #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
        cfg_options: Vec<String>,
    },
    /// Evaluate a checkpoint (MMAction2's tools/test.py): the config's model with the
    /// checkpoint's weights, scored on the test split (or --split val).
    Test {
        /// The config file.
        config: PathBuf,
        /// The checkpoint (.safetensors, or a PyTorch .pth).
        checkpoint: PathBuf,
        /// Metrics to compute (default: the config's `evaluation.metrics`):
        /// top_k_accuracy, mean_class_accuracy.
        #[arg(long, num_args = 1.., value_name = "METRIC")]
        eval: Vec<String>,
        /// `test` (default when the config has `data.test`) or `val`.
        #[arg(long)]
        split: Option<String>,
        /// Also write per-sample scores and labels to this JSON file.
        #[arg(long, value_name = "FILE.json")]
        out: Option<PathBuf>,
        /// Print one JSON object: {"split", "samples", "checkpoint", "metrics": {...}}.
        #[arg(long)]
        json: bool,
        /// cpu, cuda, cuda:N, or auto.
        #[arg(long)]
        device: Option<String>,
        /// Override config keys, as for `train`.
        #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
        cfg_options: Vec<String>,
    },
    /// Draw training curves from JSON logs (like MMAction2's analyze_logs.py plot_curve):
    /// one panel per key, train and val apart, several runs side by side.
    Plot {
        /// Work dirs (all their .log.json files, joined: a resumed run continues the curves)
        /// or .log.json files.
        #[arg(required = true)]
        logs: Vec<PathBuf>,
        /// Keys to draw, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "loss,top1_acc")]
        keys: Vec<String>,
        /// The PNG to write (default: curves.png in the first work dir).
        #[arg(long, value_name = "FILE.png")]
        out: Option<PathBuf>,
    },
    /// Work with plugin components.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Generate data sets.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Convert a checkpoint between weft's safetensors and PyTorch's .pth (MMCV's
    /// {meta, state_dict} layout, read by `torch.load` and MMCV's `load_checkpoint`).
    Convert {
        /// The checkpoint to read (.safetensors, or a torch.save file).
        input: PathBuf,
        /// The file to write; its extension (.pth, .pt or .safetensors) picks the format.
        #[arg(short, long)]
        output: PathBuf,
        /// Print one JSON object: {"input", "output", "tensors", "elements", "left_out"}.
        #[arg(long)]
        json: bool,
    },
    /// Write a trained TorchScript model (`model.type = "TorchScript"`) back as TorchScript,
    /// with a checkpoint's weights and buffers, for `torch.jit.load`.
    Export {
        /// The config the model was trained with.
        config: PathBuf,
        /// The checkpoint (.safetensors or .pth).
        checkpoint: PathBuf,
        /// The TorchScript file to write.
        #[arg(long, value_name = "OUT.pt")]
        torchscript: PathBuf,
        /// Override config keys, as for `train`.
        #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
        cfg_options: Vec<String>,
    },
    /// Convert an MMCV/MMAction2 Python config (with its `_base_` files) to weft TOML,
    /// without Python: merged into one file, or one TOML file per Python file.
    ImportMmcv {
        /// The Python config.
        config: PathBuf,
        /// Where to write (default: print the merged TOML; with --keep-bases, CONFIG.toml).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Keep the `_base_` chain: each base becomes a .toml beside its .py.
        #[arg(long)]
        keep_bases: bool,
        /// Replace existing files that weft import-mmcv did not write.
        #[arg(long)]
        force: bool,
    },
    /// Print the fully merged config (after `_base_`, `_delete_` and --cfg-options) as TOML.
    PrintConfig {
        /// The config file (TOML, or an MMCV Python config).
        config: PathBuf,
        /// Print without checking the config against what weft can run (as MMCV's
        /// print_config.py does), for configs of models or data weft does not build.
        #[arg(long)]
        no_check: bool,
        /// Override config keys, as for `train`.
        #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
        cfg_options: Vec<String>,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Moving-Fashion-MNIST in MMAction2's layouts: clips of Fashion-MNIST garments moving on
    /// a torus, labelled by their motion (right, left, up, down, the diagonals; with --zoom,
    /// zoom in and out). Raw frames bit-exact with the reference generator.
    MovingFmnist(commands::data::MovingFmnistOptions),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Start a hook plugin project in a guest language: `NAME/` with the plugin, its SDK and
    /// a `build.sh` that builds `NAME.wasm`.
    New {
        /// rust, python, js, c, go or zig.
        #[arg(long, value_parser = weft::commands::plugin_new::LANGUAGE_NAMES)]
        lang: String,
        /// The plugin's name, lower_snake_case (its type name is the CamelCase form).
        name: String,
        /// Where to create `NAME/` (default: the working directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Make a component from a core WebAssembly module (C, Zig and Go compilers emit those):
    /// embed the world's types if asked, adapt WASI preview 1 to preview 2.
    Componentize {
        /// The core module (.wasm).
        module: PathBuf,
        /// `hook`, `optimizer-constructor` or `custom-optimizer`; needed unless the module
        /// already carries the type information (wit-bindgen's C bindings do).
        #[arg(long)]
        world: Option<String>,
        /// The WIT version whose world is embedded, when it is not the one the SDKs build
        /// against (a Go hook built on 0.1.0 bindings, which have no `ranks`).
        #[arg(long, value_name = "VERSION", requires = "world")]
        version: Option<String>,
        /// The component to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write the weft:plugin WIT package this weft implements into a directory (for
    /// bindings generators).
    Wit {
        /// The directory.
        dir: PathBuf,
        /// A served version other than the one constructors and optimizers build against
        /// (0.2.0 adds the `ranks` interface for hooks; 0.3.0's hook points take and return
        /// nothing, the version the SDKs build hooks against).
        #[arg(long, value_name = "VERSION")]
        version: Option<String>,
    },
    /// Show a plugin's world, WIT version, type name, imports, sha256 and size, after
    /// checking it loads as a run would load it.
    Inspect {
        /// The component (.wasm).
        file: PathBuf,
        /// Also check the file against this digest.
        #[arg(long)]
        sha256: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Restores the default SIGPIPE action, so that `weft schedule ... | head` ends quietly when
/// `head` closes the pipe (Rust ignores SIGPIPE, which turns every later print into a panic).
#[allow(
    unsafe_code,
    reason = "one libc call at start-up, before any thread exists"
)]
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    default_sigpipe();
    weft::allocator::keep_freed_memory();
    // clap would exit by itself on --help, --version or a usage error; leaving through
    // `leave` spares those the libtorch teardown too.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            leave(e.exit_code() as u8)
        }
    };
    let result = match cli.command {
        Command::Train {
            args,
            launcher,
            gpus,
            gpu_ids,
            ..
        } => {
            let distributed = launcher == Launcher::Pytorch;
            let mut opts = args.options(distributed);
            gpu_flags(&mut opts, gpus, gpu_ids);
            commands::train::run(&opts)
        }
        Command::DistTrain {
            args,
            nproc,
            nnodes,
            node_rank,
            master_addr,
            master_port,
        } => {
            let mut rank_args: Vec<OsString> = vec!["train".into()];
            rank_args.extend(args.to_args());
            rank_args.extend(["--launcher".into(), "pytorch".into()]);
            commands::dist_train::run(weft_dist::launch::LaunchSpec {
                program: std::env::current_exe()
                    .map(PathBuf::into_os_string)
                    .unwrap_or_else(|_| "weft".into()),
                args: rank_args,
                nproc,
                nnodes,
                node_rank,
                master_addr,
                master_port,
                grace: std::time::Duration::from_secs(10),
            })
        }
        Command::PrintConfig {
            config,
            no_check,
            cfg_options,
        } => commands::print_config::run(&config, &cfg_options, !no_check).map(|_| 0),
        Command::Export {
            config,
            checkpoint,
            torchscript,
            cfg_options,
        } => commands::export::torchscript(&config, &checkpoint, &torchscript, &cfg_options)
            .map(|_| 0),
        Command::ImportMmcv {
            config,
            output,
            keep_bases,
            force,
        } => commands::import_mmcv::run(&config, output.as_deref(), keep_bases, force).map(|_| 0),
        Command::Schedule {
            config,
            iters_per_epoch,
            json,
            plot,
            cfg_options,
        } => commands::schedule::run(&commands::schedule::ScheduleOptions {
            config: &config,
            cfg_options: &cfg_options,
            iters_per_epoch,
            json,
            plot,
        })
        .map(|_| 0),
        Command::Plot { logs, keys, out } => commands::plot::run(&commands::plot::PlotOptions {
            logs: &logs,
            keys: &keys,
            out,
        })
        .map(|p| {
            println!("{}", p.display());
            0
        }),
        Command::Test {
            config,
            checkpoint,
            eval,
            split,
            out,
            json,
            device,
            cfg_options,
        } => commands::test::run(&commands::test::TestOptions {
            config: &config,
            checkpoint: &checkpoint,
            eval: &eval,
            split: split.as_deref(),
            out,
            json,
            device: device.as_deref(),
            cfg_options: &cfg_options,
        })
        .map(|_| 0),
        Command::Plugin {
            command: PluginCommand::Inspect { file, sha256, json },
        } => commands::plugin::inspect(&file, sha256.as_deref(), json).map(|_| 0),
        Command::Plugin {
            command: PluginCommand::New { lang, name, dir },
        } => commands::plugin_new::new(&lang, &name, dir.as_deref()).map(|root| {
            println!(
                "created {} ({lang}); build it with `{}/build.sh`",
                root.display(),
                root.display()
            );
            0
        }),
        Command::Plugin {
            command:
                PluginCommand::Componentize {
                    module,
                    world,
                    version,
                    output,
                },
        } => commands::plugin::componentize(&module, world.as_deref(), version.as_deref(), &output)
            .map(|_| 0),
        Command::Plugin {
            command: PluginCommand::Wit { dir, version },
        } => weft_host::componentize::write_wit(&dir, version.as_deref())
            .map_err(|e| anyhow::anyhow!(e))
            .map(|_| 0),
        Command::ParamGroups {
            config,
            json,
            cfg_options,
        } => commands::param_groups::run(&config, &cfg_options, json).map(|_| 0),
        Command::Data {
            command: DataCommand::MovingFmnist(options),
        } => commands::data::moving_fmnist(&options).map(|_| 0),
        Command::Convert {
            input,
            output,
            json,
        } => commands::convert::run(&input, &output, json).map(|_| 0),
    };
    match result {
        Ok(code) => leave(code as u8),
        Err(err) => {
            eprintln!("error: {}", render(&err));
            leave(2)
        }
    }
}

/// Ends the process once everything weft owns has been dropped: its files are written,
/// synced where they must be, and closed, and its threads joined. `_exit` then skips the C++
/// static destructors of libtorch, which deregister every operator one by one (about 0.15 s
/// at the end of every command, measured with perf); nothing of weft's lives in them.
#[allow(unsafe_code, reason = "one libc call, the last of the process")]
fn leave(code: u8) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit has no preconditions; what it skips holds nothing of weft's.
    unsafe { libc::_exit(i32::from(code)) }
}

/// The error and its causes, one per line, without a backtrace.
fn render(err: &anyhow::Error) -> String {
    let mut out = err.to_string();
    for cause in err.chain().skip(1) {
        out.push_str(&format!("\n  caused by: {cause}"));
    }
    out
}
