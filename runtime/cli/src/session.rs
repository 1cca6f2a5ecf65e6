//! From config and flags to a ready-to-run training session.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use std::time::Duration;
use weft_config::schema::{DataConfig, DataSplit, RunConfig};
use weft_config::{Config, ConfigError};
use weft_core::build::RunPlan;
use weft_core::plugin::Extensions;
use weft_core::{RunContext, RunLog, Runner};

use weft_data::{Dataset, Loader, LoaderSettings, Shard, build_dataset};
use weft_dist::{Backend, Rendezvous};
use weft_nn::parallel::ParallelOptions;
use weft_nn::{Loaders, TorchEngine, parse_device};

/// Command-line settings that override the config.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// The config file.
    pub config: PathBuf,
    /// `--work-dir`.
    pub work_dir: Option<PathBuf>,
    /// `--cfg-options`.
    pub cfg_options: Vec<String>,
    /// `--resume-from`.
    pub resume_from: Option<PathBuf>,
    /// `--auto-resume`.
    pub auto_resume: bool,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--device`.
    pub device: Option<String>,
    /// Print log lines to the console (off in tests).
    pub console: bool,
    /// `--launcher pytorch`: one rank of a data-parallel run, placed by torchrun's variables.
    pub distributed: bool,
    /// Said once the run log is open (what the command line's deprecated flags changed).
    pub warnings: Vec<String>,
}

/// A training session ready to run.
pub struct Session {
    /// The runner with its hooks and engine.
    pub runner: Runner,
    /// The merged config.
    pub config: Config,
    /// The typed config.
    pub schema: RunConfig,
    /// Runner, length and workflow.
    pub plan: RunPlan,
    /// Where outputs go.
    pub work_dir: PathBuf,
}

/// Loads the config and applies `--cfg-options`.
pub fn load_config(path: &Path, options: &[String]) -> Result<Config, ConfigError> {
    let mut cfg = Config::from_file(path)?;
    cfg.apply_options(options)?;
    Ok(cfg)
}

/// Builds everything a `weft train` run needs.
pub fn prepare(opts: &TrainOptions) -> Result<Session> {
    // The rank is known from the environment before the group forms: ranks other than 0
    // write no files and say only warnings and errors (MMCV's `master_only`).
    let rendezvous = if opts.distributed {
        Some(
            Rendezvous::from_env(
                |k| std::env::var(k).ok(),
                Backend::Gloo,
                Duration::from_secs(1800),
            )
            .map_err(|e| anyhow!(e))?,
        )
    } else {
        None
    };
    let main_rank = rendezvous.as_ref().is_none_or(|r| r.rank == 0);
    if let Some(r) = &rendezvous {
        // Plugins read it (`weft:plugin/ranks`), from `init` on: set before they load.
        weft_host::ranks::set(weft_host::ranks::Ranks {
            rank: r.rank as u32,
            world_size: r.world_size as u32,
            local_rank: r.local_rank as u32,
        });
    }
    let log = match (opts.console, main_rank) {
        (_, false) => RunLog::warnings_to_stderr(),
        (true, true) => RunLog::console(),
        (false, true) => RunLog::capturing(),
    };
    let timestamp = weft_core::pyfmt::local_timestamp();
    // The work dir is made and the text log opened before the plugins load, so that their
    // load lines and traces land there.
    let prepare_dir = |schema: &RunConfig| -> Result<PathBuf> {
        let dir = schema.work_dir_for(opts.work_dir.as_deref(), &opts.config);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the work dir {}", dir.display()))?;
        check_writable(&dir)?;
        if main_rank {
            remove_stale_temporaries(&dir);
            log.open_file(&dir.join(format!("{timestamp}.log")))
                .with_context(|| format!("cannot write the log in {}", dir.display()))?;
        }
        Ok(dir)
    };
    let checked =
        crate::validate::check(&opts.config, &opts.cfg_options, &log, Some(&prepare_dir))?;
    let work_dir = checked
        .work_dir
        .clone()
        .expect("a training check prepares the work dir");
    let schema = &checked.schema;
    let seed = schema.seed_for(opts.seed);
    for warning in &opts.warnings {
        log.warn(warning);
    }
    match (&rendezvous, &schema.gpu_ids) {
        (None, _) => schema.check_gpu_ids_for_one_process(&checked.config)?,
        // Without CUDA the key is already said to be ignored (`ignored_keys`).
        (Some(_), Some(ids)) if main_rank && weft_nn::cuda_available() => log.info(&format!(
            "gpu_ids = {:?} is not used in a data-parallel run: each rank takes the GPU of its local rank",
            ids.value
        )),
        _ => {}
    }
    let mut device =
        parse_device(&schema.device_for(opts.device.as_deref(), weft_nn::cuda_available()))
            .map_err(|e| anyhow!(e))?;
    let group = match rendezvous {
        Some(rdv) => {
            let (group, rank_device) = crate::ranks::join(rdv, schema, device, &checked, &log)?;
            device = rank_device;
            Some(group)
        }
        None => None,
    };
    let shard = group.as_ref().map_or_else(Shard::default, |g| Shard {
        rank: g.rank(),
        world_size: g.world_size(),
    });
    if let Some(n) = &schema.threads {
        weft_nn::set_threads(n.value);
    }
    weft_nn::set_deterministic(schema.deterministic == Some(true));

    let plan = checked
        .plan
        .clone()
        .expect("a training check plans the run");
    let (needs_val, needs_test) = (plan.needs_val(), plan.needs_test());
    let pin = device != weft_nn::Device::Cpu;
    let config = &checked.config;
    let split = |split: DataSplit, needed: bool| -> Result<Option<Loader>> {
        needed
            .then(|| loader(config, &schema.data, split, seed, pin, shard))
            .transpose()
    };
    let loaders = Loaders {
        train: split(DataSplit::Train, true)?,
        val: split(DataSplit::Val, needs_val)?,
        test: split(DataSplit::Test, needs_test)?,
    };
    let (model, setup) = crate::validate::model_and_optimizer(&checked, device, seed)?;
    let config_copy = work_dir.join(
        opts.config
            .file_name()
            .unwrap_or_else(|| "config.toml".as_ref()),
    );
    if main_rank {
        std::fs::write(&config_copy, config.to_toml_string())
            .with_context(|| format!("cannot write {}", config_copy.display()))?;
    }
    for note in &model.notes {
        log.info(note);
    }
    log.info(&format!(
        "model {}: {} trainable parameters; optimizer {}; device {}",
        model.kind,
        model.store.num_trainable(),
        setup.optimizer.name(),
        weft_nn::device_name(device)
    ));
    for (name, l) in [
        ("train", &loaders.train),
        ("val", &loaders.val),
        ("test", &loaders.test),
    ] {
        if let Some(l) = l {
            let workers = match l.settings().workers {
                0 => "prepared on the training thread".to_string(),
                n => format!("{n} worker thread(s)"),
            };
            log.info(&format!(
                "{name} data: {}, {} batches of {}, {workers}",
                l.dataset().describe(),
                l.len(),
                l.settings().batch_size
            ));
        }
    }
    let crate::validate::Checked {
        config,
        schema,
        registries,
        hooks,
        ..
    } = checked;
    let mut engine = TorchEngine::new(model, setup, loaders, device, seed);
    if let Some(g) = &group {
        let options = ParallelOptions {
            find_unused_parameters: schema.find_unused_parameters == Some(true),
            ..ParallelOptions::default()
        };
        engine
            .data_parallel(g.clone(), options)
            .map_err(|e| anyhow!("rank {}: {}", g.rank(), e.message))?;
    }
    let mut ctx = RunContext::new(Box::new(engine), plan.runner, work_dir.clone(), log.clone());
    if let Some(g) = group {
        ctx.world = weft_core::World::ranks(g);
    }
    ctx.timestamp = timestamp;
    ctx.seed = seed;
    let work_dir_name = work_dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    ctx.meta.insert("seed".into(), json!(seed));
    ctx.meta.insert(
        "config_name".into(),
        json!(
            opts.config
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        ),
    );
    ctx.meta.insert("work_dir".into(), json!(work_dir_name));
    ctx.meta
        .insert("weft_version".into(), json!(env!("CARGO_PKG_VERSION")));
    ctx.checkpoint_extra
        .insert("config".into(), config.to_json());
    if !registries.plugins.is_empty() {
        // Which plugin code produced this state: digests let a resumed run notice a swap.
        ctx.checkpoint_extra
            .insert("plugins".into(), json!(registries.plugins.infos()));
    }
    let mut runner = Runner::new(ctx, hooks, plan.workflow.clone(), plan.max);
    if opts.console && std::io::stdout().is_terminal() {
        let progress = crate::progress::ProgressHook::new(indicatif::ProgressDrawTarget::stdout());
        runner.ctx.log.set_console_printer(Some(progress.printer()));
        // After the loggers, so that the loss it shows is the one they just printed.
        runner
            .hooks
            .register(Box::new(progress), weft_core::Priority::LOWEST);
    }

    let resume = match (&opts.resume_from, &schema.resume_from) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(p)) => Some(PathBuf::from(p)),
        (None, None) if opts.auto_resume || schema.auto_resume == Some(true) => {
            let latest = work_dir.join(weft_core::LATEST);
            latest.exists().then_some(latest)
        }
        _ => None,
    };
    if let Some(path) = resume {
        let meta = runner
            .ctx
            .engine
            .load_checkpoint(&path, true)
            .map_err(|e| anyhow!("cannot resume: {}", e.message))?;
        runner
            .restore(&meta)
            .map_err(|e| anyhow!("cannot resume from {}: {e}", path.display()))?;
        runner
            .ctx
            .log
            .info(&format!("resumed from {}", path.display()));
    } else if let Some(path) = &schema.load_from {
        let meta = runner
            .ctx
            .engine
            .load_checkpoint(Path::new(path), false)
            .map_err(|e| anyhow!("cannot load weights: {}", e.message))?;
        runner.ctx.log.info(&format!("load checkpoint from {path}"));
        if let Some(report) = meta.get(weft_core::LOAD_REPORT).and_then(|v| v.as_str()) {
            runner.ctx.log.warn(report);
        }
    }
    Ok(Session {
        runner,
        config,
        schema,
        plan,
        work_dir,
    })
}

fn check_writable(dir: &Path) -> Result<()> {
    let probe = dir.join(".weft-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("the work dir {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Temporary files left by a crash during a checkpoint write are never complete; remove them.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The loader of a split, as the config resolves it (`DataConfig::loader`).
pub fn loader(
    cfg: &Config,
    data: &DataConfig,
    split: DataSplit,
    seed: u64,
    pin: bool,
    shard: Shard,
) -> Result<Loader> {
    let node = data.dataset(split)?;
    let dataset: Arc<dyn Dataset> = build_dataset(&node.0, cfg).map_err(|e| match e {
        weft_data::BuildError::Config(c) => anyhow!(c),
        weft_data::BuildError::Data(d) => anyhow!(d),
    })?;
    let spec = data.loader(split)?;
    let workers = spec.workers.unwrap_or_else(|| {
        // The ranks of one machine share its cores (torchrun and `weft dist-train` say how
        // many there are).
        let local_ranks = std::env::var("LOCAL_WORLD_SIZE")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0 && shard.world_size > 1)
            .unwrap_or(1);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) / local_ranks;
        weft_config::schema::auto_workers(cores, weft_nn::threads(), pin)
    });
    Ok(Loader::new(
        dataset,
        LoaderSettings {
            batch_size: spec.batch_size,
            workers,
            shuffle: spec.shuffle,
            drop_last: spec.drop_last,
            prefetch: spec.prefetch,
            seed,
            pin_memory: pin,
            shard,
        },
    ))
}

/// The model (on the CPU) and its optimizer groups, without data or training: what
/// `weft param-groups` and `weft schedule` inspect.
pub fn dry_optimizer(
    config: &Config,
    schema: &RunConfig,
    extensions: &Extensions,
) -> Result<(weft_nn::models::Model, weft_nn::optim::OptimizerSetup)> {
    crate::validate::build_model_and_optimizer(config, schema, extensions, weft_nn::Device::Cpu, 0)
}

/// Training iterations per epoch implied by the config (dataset length, batch size,
/// `drop_last`), reading only the label file.
pub fn iters_per_epoch(config: &Config, data: &DataConfig) -> Result<usize> {
    let Some(train) = &data.train else {
        bail!("the config has no `data.train`; pass --iters-per-epoch");
    };
    let n = weft_data::dataset_len(&train.0, config).map_err(|e| anyhow!("{e}"))?;
    let spec = data.loader(DataSplit::Train)?;
    Ok(if spec.drop_last {
        n / spec.batch_size
    } else {
        n.div_ceil(spec.batch_size)
    })
}
