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
    /// Work dirs (every `.log.json`, joined across resumes) or `.log.json` files.
    pub logs: &'a [PathBuf],
    /// Keys to draw.
    pub keys: &'a [String],
    /// The PNG to write (default: `<first work dir>/curves.png`).
    pub out: Option<PathBuf>,
}

/// Every `.log.json` of a work dir, oldest first (a resumed run writes a new one), or the
/// file itself.
fn log_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut logs: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".log.json"))
        .collect();
    if logs.is_empty() {
        bail!("no .log.json file in {}", path.display());
    }
    // Names are `%Y%m%d_%H%M%S.log.json`: name order is time order.
    logs.sort();
    Ok(logs)
}

/// The records of a whole run from its logs in time order. A resumed run's log starts at the
/// checkpoint it resumed from; what the earlier log holds from that position on was trained
/// again (the run was interrupted after its last checkpoint), so the later log replaces it.
fn run_records(files: &[PathBuf]) -> Result<Vec<Record>> {
    let mut all: Vec<Record> = Vec::new();
    for file in files {
        let recs = records(file)?;
        if let Some(first) = recs.iter().find(|r| r.mode == "train") {
            let from = (first.epoch, first.iter);
            if let Some(cut) = all
                .iter()
                .position(|r| r.mode == "train" && (r.epoch, r.iter) >= from)
            {
                all.truncate(cut);
            }
        }
        all.extend(recs);
    }
    Ok(all)
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
        let recs = run_records(&log_files(path)?)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(mode: &str, epoch: u64, iter: u64, loss: f64) -> String {
        format!(r#"{{"mode": "{mode}", "epoch": {epoch}, "iter": {iter}, "loss": {loss}}}"#)
    }

    #[test]
    fn a_resumed_run_is_joined_and_its_log_replaces_the_repeated_part() {
        let dir = std::env::temp_dir().join(format!("weft-plot-join-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The first run logged epoch 1 and part of epoch 2, then died; the resumed run
        // starts again at epoch 2 (its checkpoint) with other values.
        let first = [
            r#"{"seed": 0}"#.to_string(),
            line("train", 1, 10, 1.0),
            line("train", 1, 20, 0.9),
            line("val", 1, 5, 0.8),
            line("train", 2, 10, 0.7),
        ];
        let second = [
            r#"{"seed": 0}"#.to_string(),
            line("train", 2, 10, 0.6),
            line("train", 2, 20, 0.5),
        ];
        std::fs::write(dir.join("20260101_000000.log.json"), first.join("\n")).unwrap();
        std::fs::write(dir.join("20260101_000100.log.json"), second.join("\n")).unwrap();
        let recs = run_records(&log_files(&dir).unwrap()).unwrap();
        let got: Vec<(String, u64, u64, f64)> = recs
            .iter()
            .map(|r| (r.mode.clone(), r.epoch, r.iter, r.values["loss"]))
            .collect();
        assert_eq!(
            got,
            [
                ("train".into(), 1, 10, 1.0),
                ("train".into(), 1, 20, 0.9),
                ("val".into(), 1, 5, 0.8),
                ("train".into(), 2, 10, 0.6),
                ("train".into(), 2, 20, 0.5),
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
