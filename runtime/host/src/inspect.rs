//! `weft plugin inspect`: what a plugin file is, without running a training job.

use std::path::Path;

use weft_core::RunLog;

use crate::component;
use crate::limits::{Limits, OnError};
use crate::plugin::{Plugin, PluginInfo};
use crate::sandbox::Capabilities;

/// Loads, checks and links a plugin file and asks it for its type name.
pub fn inspect(path: &Path, sha256: Option<&str>) -> Result<PluginInfo, String> {
    let rt = crate::engine::runtime().map_err(|e| e.to_string())?;
    let loaded = component::load(rt, path, sha256)?;
    let plugin = Plugin::link(
        rt,
        loaded,
        Limits::default(),
        OnError::Abort,
        Capabilities::default(),
        RunLog::capturing(),
    )?;
    Ok(plugin.info)
}
