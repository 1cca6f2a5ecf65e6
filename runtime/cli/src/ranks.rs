//! Joining the other ranks of a data-parallel run (`weft train --launcher pytorch`, which
//! torchrun and `weft dist-train` start): the backend and timeout from `dist_params`, one GPU
//! per local rank, and a check that every rank runs the same config and plugins.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde_json::json;
use weft_config::schema::RunConfig;
use weft_core::RunLog;
use weft_dist::{Backend, ProcessGroup, Rendezvous};
use weft_nn::Device;

use crate::validate::Checked;

/// Forms the group; returns it with the device this rank trains on.
pub fn join(
    mut rdv: Rendezvous,
    schema: &RunConfig,
    device: Device,
    checked: &Checked,
    log: &RunLog,
) -> Result<(Arc<ProcessGroup>, Device)> {
    let params = schema.dist_params.as_ref();
    // MMCV defaults to nccl; weft picks the backend that can run on the chosen device.
    let backend = match params.and_then(|p| p.backend.as_ref()) {
        Some(b) => b.value.clone(),
        None if device == Device::Cpu => "gloo".into(),
        None => "nccl".into(),
    };
    rdv.backend = Backend::parse(&backend).map_err(|e| anyhow!(e))?;
    if rdv.backend == Backend::Nccl && !weft_nn::cuda_available() {
        bail!(
            "rank {}: dist_params.backend = \"nccl\" needs CUDA devices and this machine has none; use backend = \"gloo\"",
            rdv.rank
        );
    }
    if let Some(p) = params {
        rdv.timeout = Duration::from_secs_f64(p.timeout_secs());
    }
    let device = match device {
        Device::Cuda(_) => Device::Cuda(rdv.local_rank),
        other => other,
    };
    let group = ProcessGroup::connect(&rdv).map_err(|e| anyhow!(e))?;
    group
        .check_same("config or plugin set", digest(checked))
        .map_err(|e| anyhow!("rank {}: {e}", rdv.rank))?;
    if rdv.rank == 0 && names_type(&checked.config.to_json(), "SyncBN") {
        log.warn(
            "norm_cfg type SyncBN normalises with each rank's own batch statistics in weft (as BN): they are not synchronised across ranks; rank 0's running statistics are broadcast before every forward",
        );
    }
    log.info(&format!(
        "data-parallel: rank {} of {} ({backend}, store {}:{}, timeout {} s)",
        rdv.rank,
        rdv.world_size,
        rdv.master_addr,
        rdv.master_port,
        rdv.timeout.as_secs_f64()
    ));
    Ok((Arc::new(group), device))
}

/// What must be equal on every rank: the resolved config and the plugins' digests.
fn digest(checked: &Checked) -> u64 {
    // SipHash with fixed keys: the same on every rank running this build.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    checked.config.to_toml_string().hash(&mut h);
    json!(checked.registries.plugins.infos())
        .to_string()
        .hash(&mut h);
    h.finish()
}

/// Whether some table of the config has `type = name`.
fn names_type(value: &serde_json::Value, name: &str) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            map.get("type").and_then(|t| t.as_str()) == Some(name)
                || map.values().any(|v| names_type(v, name))
        }
        serde_json::Value::Array(items) => items.iter().any(|v| names_type(v, name)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::names_type;
    use serde_json::json;

    #[test]
    fn a_type_is_found_at_any_depth_and_only_as_a_type() {
        let model = json!({ "model": { "backbone": { "norm_cfg": { "type": "SyncBN" } } } });
        assert!(names_type(&model, "SyncBN"));
        let listed = json!({ "custom_hooks": [{ "type": "A" }, { "type": "SyncBN" }] });
        assert!(names_type(&listed, "SyncBN"));
        assert!(!names_type(&json!({ "note": "SyncBN" }), "SyncBN"));
    }
}
