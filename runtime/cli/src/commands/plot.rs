//! `weft plot WORK_DIR...`: training curves from `.log.json` files, like MMAction2's
//! `tools/analysis/analyze_logs.py plot_curve`: one panel per key, one curve per run and
//! phase (`loss` of train and val lines are drawn apart), over training iterations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::plot::{Panel, Series, draw};

/// Options of `weft plot`.
pub struct PlotOptions<'a> {
    /// Work dirs (their newest `.log.json`) or `.log.json` files.
    pub logs: &'a [PathBuf],
    /// Keys to draw.
    pub keys: &'a [String],
    /// The PNG to write (default: `<first work dir>/curves.png`).
    pub out: Option<PathBuf>,
}

/// The newest `.log.json` of a work dir, or the file itself.
fn log_file(path: &Path) -> Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let mut logs: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".log.json"))
        .collect();
    // Names are `%Y%m%d_%H%M%S.log.json`: the last in order is the newest run.
    logs.sort();
    logs.pop()
        .with_context(|| format!("no .log.json file in {}", path.display()))
}

/// One record of a JSON log.
struct Record {
    mode: String,
    epoch: u64,
    iter: u64,
    values: BTreeMap<String, f64>,
}

fn records(path: &Path) -> Result<Vec<Record>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a JSON line", path.display(), n + 1))?;
        // The first line holds the run's metadata, not a record.
        let Some(mode) = v.get("mode").and_then(Value::as_str) else {
            continue;
        };
        let values = v
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, x)| x.as_f64().map(|x| (k.clone(), x)))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Record {
            mode: mode.to_string(),
            epoch: v.get("epoch").and_then(Value::as_u64).unwrap_or(0),
            iter: v.get("iter").and_then(Value::as_u64).unwrap_or(0),
            values,
        });
    }
    Ok(out)
}

/// The training iteration of every record: train records of an epoch-based log count within
/// their epoch (MMCV's `inner_iter + 1`), so they are offset by the epochs before; val
/// records sit at the last training iteration seen.
fn positions(records: &[Record]) -> Vec<f64> {
    let train: Vec<&Record> = records.iter().filter(|r| r.mode == "train").collect();
    let by_epoch = train
        .windows(2)
        .any(|w| w[1].epoch > w[0].epoch && w[1].iter <= w[0].iter);
    let per_epoch = train
        .iter()
        .filter(|r| r.epoch == train[0].epoch)
        .map(|r| r.iter)
        .max()
        .unwrap_or(0) as f64;
    let mut last = 0.0;
    records
        .iter()
        .map(|r| {
            if r.mode == "train" {
                last = if by_epoch {
                    (r.epoch.saturating_sub(1)) as f64 * per_epoch + r.iter as f64
                } else {
                    r.iter as f64
                };
            } else if by_epoch {
                last = last.max(r.epoch as f64 * per_epoch);
            }
            last
        })
        .collect()
}

/// Draws the curves and returns the PNG's path.
pub fn run(o: &PlotOptions<'_>) -> Result<PathBuf> {
    if o.logs.is_empty() {
        bail!("give at least one work dir or .log.json file");
    }
    let many = o.logs.len() > 1;
    let mut panels: Vec<Panel> = o
        .keys
        .iter()
        .map(|k| Panel {
            title: k.clone(),
            x_label: "iteration".into(),
            series: Vec::new(),
        })
        .collect();
    for path in o.logs {
        let file = log_file(path)?;
        let recs = records(&file)?;
        let xs = positions(&recs);
        let run = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for panel in &mut panels {
            // Values of the training loop only: val records repeat the lr, and have no time.
            let train_only = matches!(
                panel.title.as_str(),
                "lr" | "time" | "data_time" | "memory" | "grad_norm"
            );
            for mode in ["train", "val"] {
                if train_only && mode == "val" {
                    continue;
                }
                let points: Vec<(f64, f64)> = recs
                    .iter()
                    .zip(&xs)
                    .filter(|(r, _)| r.mode == mode)
                    .filter_map(|(r, x)| r.values.get(&panel.title).map(|y| (*x, *y)))
                    .collect();
                if points.is_empty() {
                    continue;
                }
                let label = if many {
                    format!("{run} {mode}")
                } else {
                    mode.to_string()
                };
                panel.series.push(Series { label, points });
            }
        }
    }
    let missing: Vec<&str> = panels
        .iter()
        .filter(|p| p.series.is_empty())
        .map(|p| p.title.as_str())
        .collect();
    if !missing.is_empty() {
        bail!(
            "no values for {} in the logs (keys of the records: loss, lr, top1_acc, grad_norm, time, ...)",
            missing.join(", ")
        );
    }
    let out = match &o.out {
        Some(p) => p.clone(),
        None => {
            let first = &o.logs[0];
            let dir = if first.is_dir() {
                first.clone()
            } else {
                first.parent().map(Path::to_path_buf).unwrap_or_default()
            };
            dir.join("curves.png")
        }
    };
    draw(&out, &panels)?;
    Ok(out)
}
