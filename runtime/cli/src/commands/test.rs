//! `weft test CONFIG CHECKPOINT`: evaluation only, as MMAction2's `tools/test.py`: the
//! config's model with the checkpoint's weights, scored on the test split (or `--split val`)
//! with the config's metrics (or `--eval ...`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use weft_config::schema::{DataSplit, EvalConfig};
use weft_config::{Node, Origin};
use weft_core::hooks::{evaluation_messages, score};
use weft_core::{Engine, Split};
use weft_nn::{Loaders, TorchEngine, parse_device};

use crate::session::loader;
use crate::validate;

/// Options of `weft test`.
pub struct TestOptions<'a> {
    /// The config.
    pub config: &'a Path,
    /// The weights.
    pub checkpoint: &'a Path,
    /// `--eval`: metric names (default: `evaluation.metrics`).
    pub eval: &'a [String],
    /// `--split`: `test` (default when `data.test` exists) or `val`.
    pub split: Option<&'a str>,
    /// `--out`: per-sample scores and labels as JSON.
    pub out: Option<PathBuf>,
    /// `--json`: print one JSON object.
    pub json: bool,
    /// `--device`.
    pub device: Option<&'a str>,
    /// `--cfg-options`.
    pub cfg_options: &'a [String],
}

/// Evaluates a checkpoint and prints the metrics.
pub fn run(o: &TestOptions<'_>) -> Result<()> {
    let log = weft_core::RunLog::warnings_to_stderr();
    let checked = validate::check_for_evaluation(o.config, o.cfg_options, &log)?;
    let (cfg, schema) = (&checked.config, &checked.schema);
    let ec: EvalConfig = match &schema.evaluation {
        Some(ec) => ec.clone(),
        None => cfg.read(&Node::from_json(&json!({}), &Origin::Builtin))?,
    };
    let metrics = if o.eval.is_empty() {
        weft_core::build::evaluation_metrics(cfg, &ec)?
    } else {
        weft_core::build::metrics_named(
            cfg,
            &ec,
            o.eval.iter().map(|m| (m.as_str(), &Origin::Builtin)),
        )?
    };
    let split = match o.split {
        Some("test") => Split::Test,
        Some("val") => Split::Val,
        Some(other) => bail!("--split must be `test` or `val`, not `{other}`"),
        None if schema.data.test.is_some() => Split::Test,
        None => Split::Val,
    };
    let name = if split == Split::Test { "test" } else { "val" };
    let device = parse_device(&schema.device_for(o.device, weft_nn::cuda_available()))
        .map_err(|e| anyhow!(e))?;
    if let Some(n) = schema.threads.as_ref().map(|t| t.value) {
        weft_nn::set_threads(n);
    }
    let seed = schema.seed_for(None);
    let data_split = if split == Split::Test {
        DataSplit::Test
    } else {
        DataSplit::Val
    };
    let data = loader(
        cfg,
        &schema.data,
        data_split,
        seed,
        device != weft_nn::Device::Cpu,
        weft_data::Shard::default(),
    )?;
    let samples = data.dataset().len();
    let (model, setup) = validate::model_and_optimizer(&checked, device, seed)?;
    let loaders = match split {
        Split::Test => Loaders {
            train: None,
            val: None,
            test: Some(data),
        },
        Split::Val => Loaders {
            train: None,
            val: Some(data),
            test: None,
        },
    };
    let mut engine = TorchEngine::new(model, setup, loaders, device, seed);
    let meta = engine
        .load_checkpoint(o.checkpoint, false)
        .map_err(|e| anyhow!("cannot load {}: {}", o.checkpoint.display(), e.message))?;
    if let Some(report) = meta.get(weft_core::LOAD_REPORT).and_then(|v| v.as_str()) {
        eprintln!("warning: {report}");
    }
    let predictions = engine
        .predict(split)
        .map_err(|e| anyhow!("evaluation failed: {}", e.message))?;
    let results = score(&predictions, &metrics);
    let metrics_json: serde_json::Map<String, serde_json::Value> =
        results.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    if let Some(out) = &o.out {
        let scores: Vec<&[f32]> = predictions
            .scores
            .chunks(predictions.num_classes.max(1))
            .collect();
        let body = json!({ "split": name, "metrics": metrics_json, "labels": predictions.labels, "scores": scores });
        std::fs::write(out, serde_json::to_string(&body)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if o.json {
        let metrics = &metrics_json;
        println!(
            "{}",
            json!({ "split": name, "samples": samples, "checkpoint": o.checkpoint.display().to_string(), "metrics": metrics })
        );
        return Ok(());
    }
    for line in evaluation_messages(&metrics, &results) {
        println!("{line}");
    }
    for (k, v) in &results {
        println!("{k}: {v:.4}");
    }
    Ok(())
}
