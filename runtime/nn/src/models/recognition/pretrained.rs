//! A backbone's `pretrained` file, loaded as MMAction2 0.24's ResNet, ResNetTSM and ResNet3d
//! load theirs: torchvision's names (`conv1.weight`, `bn1.*`, `layer1.0.downsample.0.weight`)
//! or MMAction2's own (`conv1.conv.weight`, `conv1.bn.*`), found by looking at the file;
//! TSM's shift is added after loading, so the file's names are the unshifted ones; a 3D
//! backbone inflates 2D kernels over time (`pretrained2d`, each slice divided by the
//! temporal kernel size, as `_inflate_conv_params` does). Like MMCV's non-strict load, what
//! does not match is reported, not fatal, except a shape that cannot be loaded or a file with
//! nothing in common with the backbone.

use std::path::Path;

use tch::Tensor;

use crate::store::ParamStore;

/// What loading a `pretrained` file did, for the run's log.
pub struct Loaded {
    /// Backbone tensors that took values from the file.
    pub loaded: usize,
    /// Backbone tensors the file had nothing for (left as initialised).
    pub missing: Vec<String>,
    /// Whether names were torchvision's.
    pub torchvision: bool,
}

/// The name a backbone tensor has in an MMAction2 checkpoint of the backbone alone:
/// without the prefix and without TSM's `.net`.
fn mmaction_name(rel: &str) -> String {
    rel.replace(".conv.net.", ".conv.")
}

/// The same tensor's name in a torchvision ResNet.
fn torchvision_name(rel: &str) -> Option<String> {
    let rel = mmaction_name(rel);
    let (module, leaf) = rel.rsplit_once('.')?;
    let (path, part) = module.rsplit_once('.')?;
    let last = path.rsplit('.').next()?;
    Some(match (last, part) {
        ("downsample", "conv") => format!("{path}.0.{leaf}"),
        ("downsample", "bn") => format!("{path}.1.{leaf}"),
        (_, "conv") => format!("{path}.{leaf}"),
        (_, "bn") => {
            // conv1 -> bn1 (the stem and each block's convolutions).
            let (parent, conv) = match path.rsplit_once('.') {
                Some((p, c)) => (format!("{p}."), c),
                None => (String::new(), path),
            };
            format!("{parent}{}.{leaf}", conv.replacen("conv", "bn", 1))
        }
        _ => return None,
    })
}

/// Loads `file` into the tensors of `store` under `prefix.`.
pub fn load(store: &ParamStore, prefix: &str, file: &str, inflate: bool) -> Result<Loaded, String> {
    if file.contains("://") {
        return Err(format!(
            "pretrained = {file:?}: weft does not download; give a local .pth or .safetensors \
             file (for torchvision's weights: torchvision.models.resnet50(weights=...).state_dict() \
             saved with torch.save)"
        ));
    }
    let read = crate::checkpoint::read(Path::new(file))
        .map_err(|e| format!("pretrained = {file:?}: {e}"))?;
    let mut tensors = crate::checkpoint::revise_keys(read.tensors);
    // A whole recognizer's file: its backbone's part.
    let stripped: Vec<(String, Tensor)> = tensors
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("backbone.")
                .map(|rest| (rest.to_string(), v.shallow_clone()))
        })
        .collect();
    if !stripped.is_empty() {
        tensors = stripped.into_iter().collect();
    }
    let torchvision =
        !tensors.contains_key("conv1.conv.weight") && tensors.contains_key("conv1.weight");
    let lead = format!("{prefix}.");
    let mut out = Loaded {
        loaded: 0,
        missing: Vec::new(),
        torchvision,
    };
    for (name, dst) in store.state_dict() {
        let Some(rel) = name.strip_prefix(&lead) else {
            continue;
        };
        let source = if torchvision {
            torchvision_name(rel)
        } else {
            Some(mmaction_name(rel))
        };
        let Some(src) = source.and_then(|s| tensors.get(&s)) else {
            out.missing.push(rel.to_string());
            continue;
        };
        let (want, have) = (dst.size(), src.size());
        let value = if want == have {
            src.shallow_clone()
        } else if inflate
            && want.len() == 5
            && have.len() == 4
            && want[..2] == have[..2]
            && want[3..] == have[2..]
        {
            // A 2D kernel repeated over time, divided so a constant clip gives the 2D response.
            let t = want[2];
            src.unsqueeze(2).expand(want.as_slice(), false) / t as f64
        } else {
            return Err(format!(
                "pretrained = {file:?}: {rel} has shape {have:?} in the file and {want:?} in the \
                 backbone"
            ));
        };
        let mut dst = dst.shallow_clone();
        tch::no_grad(|| dst.f_copy_(&value.to_kind(dst.kind())))
            .map_err(|e| format!("pretrained = {file:?}: {rel}: {e}"))?;
        out.loaded += 1;
    }
    if out.loaded == 0 {
        return Err(format!(
            "pretrained = {file:?}: none of the file's names is one of the backbone's (a \
             checkpoint of another model?)"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_names_follow_mmaction2s_mapping() {
        let cases = [
            ("conv1.conv.weight", "conv1.weight"),
            ("conv1.bn.running_mean", "bn1.running_mean"),
            ("layer1.0.conv2.conv.weight", "layer1.0.conv2.weight"),
            ("layer1.0.conv2.bn.weight", "layer1.0.bn2.weight"),
            ("layer2.0.conv1.conv.net.weight", "layer2.0.conv1.weight"),
            (
                "layer2.0.downsample.conv.weight",
                "layer2.0.downsample.0.weight",
            ),
            (
                "layer2.0.downsample.bn.num_batches_tracked",
                "layer2.0.downsample.1.num_batches_tracked",
            ),
        ];
        for (ours, theirs) in cases {
            assert_eq!(torchvision_name(ours).as_deref(), Some(theirs), "{ours}");
        }
        assert_eq!(
            mmaction_name("layer1.0.conv1.conv.net.weight"),
            "layer1.0.conv1.conv.weight"
        );
    }
}
