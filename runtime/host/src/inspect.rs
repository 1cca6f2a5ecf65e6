//! `weft plugin inspect`, and loading one plugin file outside a config (benchmarks, tools).

use std::path::Path;
use std::sync::Arc;

use weft_core::RunLog;

use crate::component;
use crate::limits::{Limits, OnError};
use crate::plugin::{Plugin, PluginInfo};
use crate::sandbox::Capabilities;

/// Loads, checks and links a plugin file with default limits and no capabilities, and asks
/// it for its type name; its log lines go to `log`.
pub fn open(path: &Path, sha256: Option<&str>, log: RunLog) -> Result<Arc<Plugin>, String> {
    open_with(path, sha256, log, Limits::default())
}

/// [`open`] with other limits (what a measurement of the deadline needs).
pub fn open_with(
    path: &Path,
    sha256: Option<&str>,
    log: RunLog,
    limits: Limits,
) -> Result<Arc<Plugin>, String> {
    let rt = crate::engine::runtime().map_err(|e| e.to_string())?;
    let loaded = component::load(rt, path, sha256, &limits)?;
    let plugin = Plugin::link(loaded, limits, OnError::Abort, Capabilities::default(), log)?;
    Ok(Arc::new(plugin))
}

/// What a plugin file is, checked the way a run would load it.
pub fn inspect(path: &Path, sha256: Option<&str>) -> Result<PluginInfo, String> {
    Ok(open(path, sha256, RunLog::capturing())?.info.clone())
}
