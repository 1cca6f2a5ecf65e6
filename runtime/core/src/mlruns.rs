//! MLflow's file store (`mlruns/`), written directly: experiments and runs as directories of
//! small YAML and text files that `mlflow ui` and `MlflowClient` read (with
//! `MLFLOW_ALLOW_FILE_STORE=true` since MLflow 3). There is no maintained Rust client, and the
//! REST API would need a server; the layout is simple and append-only.
//!
//! ```text
//! mlruns/<exp_id>/meta.yaml                        experiment: name, id, artifact location
//! mlruns/<exp_id>/<run_id>/meta.yaml               run: status, start/end time, names
//! mlruns/<exp_id>/<run_id>/metrics/<key>           "<timestamp_ms> <value> <step>" lines
//! mlruns/<exp_id>/<run_id>/params/<key>            the value, no newline
//! mlruns/<exp_id>/<run_id>/tags/<key>              the value, no newline
//! mlruns/<exp_id>/<run_id>/artifacts/
//! ```

use std::collections::hash_map::RandomState;
use std::fs::OpenOptions;
use std::hash::BuildHasher;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A run's state, with MLflow's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Being written.
    Running = 1,
    /// Ended normally.
    Finished = 3,
    /// Ended with an error.
    Failed = 4,
    /// Interrupted.
    Killed = 5,
}

/// Milliseconds since the Unix epoch, MLflow's timestamps.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A YAML scalar in single quotes (MLflow writes ids and empty strings that way).
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// MLflow accepts letters, digits and `_ - . space /` in metric, param and tag names; other
/// characters become `_`, and path tricks (`..`, a leading `/`) are neutralised.
pub fn sanitize_key(key: &str) -> String {
    let cleaned: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-. /".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    cleaned
        .split('/')
        .filter(|part| !part.is_empty() && *part != "." && *part != "..")
        .collect::<Vec<_>>()
        .join("/")
}

/// An `mlruns` directory.
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store and its Default experiment (id 0).
    pub fn open(root: &Path) -> io::Result<Store> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let store = Store { root };
        if !store.root.join("0/meta.yaml").is_file() {
            store.write_experiment("0", "Default")?;
        }
        Ok(store)
    }

    fn write_experiment(&self, id: &str, name: &str) -> io::Result<()> {
        let dir = self.root.join(id);
        std::fs::create_dir_all(&dir)?;
        let now = now_ms();
        let text = format!(
            "artifact_location: {}\ncreation_time: {now}\nexperiment_id: {}\nlast_update_time: {now}\nlifecycle_stage: active\nname: {}\n",
            file_uri(&dir),
            quoted(id),
            quoted(name)
        );
        write_atomically(&dir.join("meta.yaml"), text.as_bytes())
    }

    /// The id of the experiment called `name`, created if there is none.
    pub fn experiment(&self, name: &str) -> io::Result<String> {
        let mut max_id = 0u64;
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            let id = entry.file_name().to_string_lossy().into_owned();
            let Ok(n) = id.parse::<u64>() else { continue };
            max_id = max_id.max(n);
            let meta = std::fs::read_to_string(entry.path().join("meta.yaml")).unwrap_or_default();
            if meta
                .lines()
                .any(|l| l == format!("name: {}", quoted(name)) || l == format!("name: {name}"))
            {
                return Ok(id);
            }
        }
        let id = (max_id + 1).to_string();
        self.write_experiment(&id, name)?;
        Ok(id)
    }

    /// Starts a run in an experiment.
    pub fn start_run(&self, experiment: &str, run_name: &str, user: &str) -> io::Result<Run> {
        let state = RandomState::new();
        let id = format!(
            "{:016x}{:016x}",
            state.hash_one((now_ms(), std::process::id(), 1u8)),
            state.hash_one((now_ms(), std::process::id(), 2u8))
        );
        let dir = self.root.join(experiment).join(&id);
        for sub in ["metrics", "params", "tags", "artifacts"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let run = Run {
            dir,
            id,
            experiment: experiment.to_string(),
            name: run_name.to_string(),
            user: user.to_string(),
            start_ms: now_ms(),
        };
        run.write_meta(RunStatus::Running, None)?;
        run.set_tag("mlflow.runName", run_name)?;
        run.set_tag("mlflow.user", user)?;
        run.set_tag("mlflow.source.name", "weft")?;
        run.set_tag("mlflow.source.type", "LOCAL")?;
        Ok(run)
    }
}

/// One run of the store.
pub struct Run {
    dir: PathBuf,
    id: String,
    experiment: String,
    name: String,
    user: String,
    start_ms: u64,
}

impl Run {
    /// The run's id (32 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The run's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where artifacts go.
    pub fn artifacts(&self) -> PathBuf {
        self.dir.join("artifacts")
    }

    fn write_meta(&self, status: RunStatus, end_ms: Option<u64>) -> io::Result<()> {
        let end = end_ms.map_or("null".to_string(), |t| t.to_string());
        let text = format!(
            "artifact_uri: {}\nend_time: {end}\nentry_point_name: ''\nexperiment_id: {}\nlifecycle_stage: active\nrun_id: {}\nrun_name: {}\nrun_uuid: {}\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: {}\nstatus: {}\ntags: []\nuser_id: {}\n",
            file_uri(&self.artifacts()),
            quoted(&self.experiment),
            self.id,
            quoted(&self.name),
            self.id,
            self.start_ms,
            status as u8,
            quoted(&self.user)
        );
        write_atomically(&self.dir.join("meta.yaml"), text.as_bytes())
    }

    /// Sets the status (and the end time, unless still running).
    pub fn set_status(&self, status: RunStatus) -> io::Result<()> {
        let end = (status != RunStatus::Running).then(now_ms);
        self.write_meta(status, end)
    }

    fn write_value(&self, kind: &str, key: &str, value: &str) -> io::Result<()> {
        let path = self.dir.join(kind).join(sanitize_key(key));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, value)
    }

    /// A parameter (MLflow keeps the first value; weft writes each once).
    pub fn log_param(&self, key: &str, value: &str) -> io::Result<()> {
        self.write_value("params", key, value)
    }

    /// A tag.
    pub fn set_tag(&self, key: &str, value: &str) -> io::Result<()> {
        self.write_value("tags", key, value)
    }

    /// Appends one point of a metric's history.
    pub fn log_metric(
        &self,
        key: &str,
        value: f64,
        step: u64,
        timestamp_ms: u64,
    ) -> io::Result<()> {
        let path = self.dir.join("metrics").join(sanitize_key(key));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(f, "{timestamp_ms} {} {step}", crate::pyfmt::repr(value))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_mlflow_characters_and_lose_path_tricks() {
        assert_eq!(sanitize_key("train/loss"), "train/loss");
        assert_eq!(sanitize_key("../../etc/x:y"), "etc/x_y");
        assert_eq!(sanitize_key("/abs"), "abs");
        assert_eq!(quoted("it's"), "'it''s'");
    }
}
