//! The top level of a run config.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{CheckpointConfig, DataConfig, EvalConfig, LogConfig, OptimizerHookConfig};
use crate::{Config, ConfigError, ErrorKind, Located, RawNode, Value, from_node};

/// Every top-level key [`RunConfig`] reads (a test checks this against the struct).
pub const TOP_LEVEL_KEYS: [&str; 28] = [
    "model",
    "data",
    "optimizer",
    "optimizer_config",
    "lr_config",
    "momentum_config",
    "runner",
    "total_epochs",
    "workflow",
    "checkpoint_config",
    "log_config",
    "evaluation",
    "custom_hooks",
    "custom_imports",
    "work_dir",
    "load_from",
    "resume_from",
    "auto_resume",
    "seed",
    "deterministic",
    "device",
    "threads",
    "log_level",
    "dist_params",
    "gpu_ids",
    "opencv_num_threads",
    "mp_start_method",
    "find_unused_parameters",
];

/// The top-level keys weft understands, with MMCV's names.
///
/// Top-level keys that start with an underscore are free variables: they are not validated
/// and exist to be referenced with `"{{_base_._name}}"` (MMCV configs use plain Python
/// variables such as `train_pipeline` for this).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The model: `{ type = "LeNet5" | "ResNet" | "Modules", ... }`.
    pub model: RawNode,
    /// Datasets and loaders (`samples_per_gpu`, `workers_per_gpu`, `train`, `val`, `test`).
    pub data: DataConfig,
    /// The optimizer: `{ type = "SGD", lr = 0.01, momentum = 0.9, ... }`, optionally with
    /// `constructor` and `paramwise_cfg`.
    pub optimizer: RawNode,
    /// The optimizer hook (backward, gradient clipping, step). Absent: no training step.
    pub optimizer_config: Option<OptimizerHookConfig>,
    /// The learning-rate policy: `{ policy = "step", step = [3], ... }`.
    pub lr_config: Option<RawNode>,
    /// The momentum policy: `{ policy = "CosineAnnealing", ... }`.
    pub momentum_config: Option<RawNode>,
    /// `{ type = "EpochBasedRunner", max_epochs = N }` or `{ type = "IterBasedRunner", max_iters = N }`.
    pub runner: Option<RunnerConfig>,
    /// MMAction2's spelling of `runner.max_epochs` (epoch-based runner).
    pub total_epochs: Option<Located<u64>>,
    /// Phases run in turn, for example `[["train", 1], ["val", 1]]`. Default `[["train", 1]]`.
    pub workflow: Option<Located<Vec<WorkflowStage>>>,
    /// The checkpoint hook.
    pub checkpoint_config: Option<CheckpointConfig>,
    /// Loggers: `{ interval = 50, hooks = [{ type = "TextLoggerHook" }] }`.
    pub log_config: Option<LogConfig>,
    /// The evaluation hook: `{ interval = 1, metrics = ["top_k_accuracy"] }`.
    pub evaluation: Option<EvalConfig>,
    /// Extra hooks, built-in or from plugins: `[{ type = "...", priority = "NORMAL", ... }]`.
    #[serde(default)]
    pub custom_hooks: Vec<RawNode>,
    /// Plugins to load: `{ imports = ["path.wasm" | { path = ..., sha256 = ... }], allow_failed_imports = false }`.
    pub custom_imports: Option<RawNode>,
    /// Where outputs go. Default `./work_dirs/<config name>`; `--work-dir` wins.
    pub work_dir: Option<String>,
    /// Weights to start from (epoch 0, optimizer fresh), as MMAction2's `load_from`.
    pub load_from: Option<String>,
    /// A checkpoint to resume from; `--resume-from` wins.
    pub resume_from: Option<String>,
    /// Resume from `work_dir/latest` when it exists.
    pub auto_resume: Option<bool>,
    /// Seed for weights, shuffling and dropout; `--seed` wins. Default 0.
    pub seed: Option<u64>,
    /// Ask libtorch for deterministic algorithms.
    pub deterministic: Option<bool>,
    /// `cpu`, `cuda`, `cuda:N` or `auto`; `--device` wins. Default `auto`.
    pub device: Option<String>,
    /// Intra-op threads for libtorch on CPU. Default: libtorch's choice.
    pub threads: Option<Located<u32>>,
    /// Accepted for MMCV compatibility: `INFO` or `DEBUG` (weft logs the same either way).
    pub log_level: Option<Located<String>>,
    /// The data-parallel group of `--launcher pytorch` and `weft dist-train` runs.
    pub dist_params: Option<DistParams>,
    /// MMCV's `gpu_ids`: a single process trains on the first (MMDataParallel's
    /// `device_ids[0]`) unless `device` or `--device` says otherwise; one id at most outside
    /// data-parallel runs, whose ranks each take the GPU of their local rank.
    pub gpu_ids: Option<Located<Vec<u32>>>,
    /// Accepted and ignored (MMAction2 runtime keys with no meaning here).
    pub opencv_num_threads: Option<i64>,
    /// Accepted and ignored.
    pub mp_start_method: Option<String>,
    /// Data-parallel runs: parameters may receive no gradient (DDP's option). Default false.
    pub find_unused_parameters: Option<bool>,
}

/// `dist_params = { backend = "gloo" }`, MMCV's `init_dist(launcher, **dist_params)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistParams {
    /// `gloo` (CPU tensors) or `nccl` (CUDA tensors). MMCV's default is `nccl`.
    pub backend: Option<Located<String>>,
    /// Seconds a rank waits for the others (the rendezvous and every collective) before it
    /// gives up with an error naming what it waited for. Default 1800, as torch's.
    pub timeout: Option<Located<f64>>,
    /// The store port for launchers that do not set MASTER_PORT (MMCV's slurm launcher).
    pub port: Option<Located<u16>>,
}

impl DistParams {
    /// The backend name.
    pub fn backend(&self) -> &str {
        self.backend.as_ref().map_or("nccl", |b| b.value.as_str())
    }

    /// The timeout in seconds.
    pub fn timeout_secs(&self) -> f64 {
        self.timeout.as_ref().map_or(1800.0, |t| t.value)
    }
}

/// `runner = { type = ..., max_epochs | max_iters }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerConfig {
    /// `EpochBasedRunner` or `IterBasedRunner`.
    #[serde(rename = "type")]
    pub kind: Located<String>,
    /// Epochs to train (epoch-based).
    pub max_epochs: Option<Located<u64>>,
    /// Iterations to train (iter-based).
    pub max_iters: Option<Located<u64>>,
}

/// A phase of the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Training: forward, backward, step.
    Train,
    /// Validation losses under no-grad; nothing is updated.
    Val,
}

impl Phase {
    /// `"train"` or `"val"`, as MMCV writes `runner.mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Train => "train",
            Phase::Val => "val",
        }
    }
}

/// One `[phase, count]` entry of `workflow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct WorkflowStage(pub Phase, pub u64);

impl RunConfig {
    /// The work dir: the command line's, else `work_dir`, else `./work_dirs/<config name>`
    /// (MMCV's `tools/train.py`).
    pub fn work_dir_for(&self, flag: Option<&Path>, config: &Path) -> PathBuf {
        match (flag, &self.work_dir) {
            (Some(d), _) => d.to_path_buf(),
            (None, Some(d)) => PathBuf::from(d),
            (None, None) => {
                let stem = config
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "run".into());
                PathBuf::from("work_dirs").join(stem)
            }
        }
    }

    /// The seed: the command line's, else `seed`, else 0.
    pub fn seed_for(&self, flag: Option<u64>) -> u64 {
        flag.or(self.seed).unwrap_or(0)
    }

    /// The device name: the command line's, else `device`, else the first of `gpu_ids`
    /// when CUDA is usable, else `auto`.
    pub fn device_for(&self, flag: Option<&str>, cuda_available: bool) -> String {
        let from_ids = || {
            let first = self.gpu_ids.as_ref()?.value.first()?;
            cuda_available.then(|| format!("cuda:{first}"))
        };
        flag.map(str::to_string)
            .or_else(|| self.device.clone())
            .or_else(from_ids)
            .unwrap_or_else(|| "auto".into())
    }

    /// Refuses `gpu_ids` naming several GPUs for one process, as MMCV's MMDataParallel does
    /// (it trains on one device), saying how to use them all.
    pub fn check_gpu_ids_for_one_process(&self, cfg: &Config) -> Result<(), ConfigError> {
        match &self.gpu_ids {
            Some(ids) if ids.value.len() > 1 => Err(cfg.error_at(
                ErrorKind::InvalidValue,
                format!(
                    "gpu_ids = {:?} names {} GPUs, and one process trains on one (as MMCV's MMDataParallel); start one rank per GPU instead: weft dist-train CONFIG --nproc {}",
                    ids.value,
                    ids.value.len(),
                    ids.value.len()
                ),
                &ids.origin,
            )),
            _ => Ok(()),
        }
    }

    /// Reads the top level of `cfg`.
    pub fn from_config(cfg: &Config) -> Result<RunConfig, ConfigError> {
        // Underscore-prefixed top-level keys are user variables; hide them from the schema.
        let mut root = cfg.root().clone();
        if let Value::Table(t) = &mut root.value {
            t.retain(|k, _| !k.starts_with('_'));
        }
        from_node(&root, cfg.sources())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_of_top_level_keys_is_the_structs() {
        // serde lists the fields it expected when it meets an unknown one.
        let err = toml::from_str::<RunConfig>("not_a_key = 1")
            .unwrap_err()
            .to_string();
        let listed = err.split("expected one of").nth(1).expect(&err);
        let mut fields: Vec<&str> = listed
            .split(',')
            .map(|f| {
                f.trim()
                    .trim_matches(|c: char| c == '`' || c.is_whitespace())
            })
            .collect();
        fields.sort_unstable();
        let mut keys = TOP_LEVEL_KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(fields, keys);
    }

    fn schema_of(name: &str, text: &str) -> (Config, RunConfig) {
        let dir = std::env::temp_dir().join(format!("weft-run-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        // The keys every run needs, after the ones under test.
        let needed = "model = { type = \"LeNet5\" }\noptimizer = { type = \"SGD\", lr = 0.1 }\n[data]\nsamples_per_gpu = 8\n";
        std::fs::write(&path, format!("{text}{needed}")).unwrap();
        let cfg = Config::from_file(&path).unwrap();
        let schema = cfg.schema().unwrap();
        (cfg, schema)
    }

    #[test]
    fn gpu_ids_choose_the_device_after_the_flag_and_the_device_key() {
        let (_, ids) = schema_of("ids", "gpu_ids = [2]\n");
        assert_eq!(ids.device_for(None, true), "cuda:2");
        assert_eq!(ids.device_for(None, false), "auto");
        assert_eq!(ids.device_for(Some("cpu"), true), "cpu");
        let (_, both) = schema_of("both", "device = \"cuda:1\"\ngpu_ids = [2]\n");
        assert_eq!(both.device_for(None, true), "cuda:1");
        let (_, none) = schema_of("none", "seed = 1\n");
        assert_eq!(none.device_for(None, true), "auto");
    }

    #[test]
    fn one_process_refuses_several_gpu_ids_where_they_are_written() {
        let (cfg, two) = schema_of("two", "seed = 1\ngpu_ids = [0, 1]\n");
        let err = two
            .check_gpu_ids_for_one_process(&cfg)
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.toml:2:11"), "{err}");
        assert!(err.contains("--nproc 2"), "{err}");
        let (cfg, one) = schema_of("one", "gpu_ids = [3]\n");
        assert!(one.check_gpu_ids_for_one_process(&cfg).is_ok());
    }
}
