//! MMAction2's `TSMOptimizerConstructor` as a plugin: seven parameter groups (the first
//! convolution's weights and biases, the other convolutions' and linear layers' weights and
//! biases, normalisation layers, and with `fc_lr5` the last linear layer at 5x/10x lr),
//! biases at twice the lr without weight decay.

use serde::Deserialize;
use weft_guest::constructor::{
    Constructor, ModuleInfo, ParamGroup, ParamInfo, register_constructor,
};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Paramwise {
    #[serde(default)]
    fc_lr5: bool,
}

#[derive(Deserialize)]
struct Optimizer {
    lr: f64,
    weight_decay: Option<f64>,
    #[serde(default)]
    paramwise_cfg: Option<Paramwise>,
}

struct Tsm;

fn is_conv(kind: &str) -> bool {
    kind.starts_with("Conv") && kind.ends_with('d')
}

fn is_norm(kind: &str) -> bool {
    kind.starts_with("BatchNorm") || kind.starts_with("SyncBatchNorm") || kind == "GroupNorm"
}

fn is_leaf(modules: &[ModuleInfo], m: usize) -> bool {
    let path = &modules[m].path;
    !modules.iter().enumerate().any(|(j, other)| {
        j != m && (path.is_empty() || other.path.starts_with(&format!("{path}.")))
    })
}

fn group(params: Vec<u32>, lr: f64, wd: f64) -> ParamGroup {
    ParamGroup {
        params,
        options: vec![("lr".into(), lr), ("weight_decay".into(), wd)],
    }
}

impl Constructor for Tsm {
    const TYPE_NAME: &'static str = "TSMPluginConstructor";

    fn build(
        optimizer: serde_json::Value,
        modules: &[ModuleInfo],
        params: &[ParamInfo],
    ) -> Result<Vec<ParamGroup>, String> {
        let opt: Optimizer = weft_guest::config(optimizer)?;
        let fc_lr5 = opt.paramwise_cfg.unwrap_or_default().fc_lr5;
        let (lr, wd) = (opt.lr, opt.weight_decay.unwrap_or(0.0));
        // A shared parameter counts as its first entry, as `model.parameters()` yields it.
        let tensor = |i: usize| params[i].alias_of.unwrap_or(i as u32);
        let (mut first_w, mut first_b, mut normal_w, mut normal_b, mut bn) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut convs = 0;
        for (m, module) in modules.iter().enumerate() {
            let own: Vec<usize> = (0..params.len())
                .filter(|i| params[*i].module as usize == m)
                .collect();
            if is_conv(&module.kind) {
                convs += 1;
                let (w, b) = if convs == 1 {
                    (&mut first_w, &mut first_b)
                } else {
                    (&mut normal_w, &mut normal_b)
                };
                w.extend(own.first().map(|i| tensor(*i)));
                b.extend(own.get(1).map(|i| tensor(*i)));
            } else if module.kind == "Linear" {
                normal_w.extend(own.first().map(|i| tensor(*i)));
                normal_b.extend(own.get(1).map(|i| tensor(*i)));
            } else if is_norm(&module.kind) {
                bn.extend(
                    own.iter()
                        .filter(|i| params[**i].requires_grad)
                        .map(|i| tensor(*i)),
                );
            } else if !own.is_empty() && is_leaf(modules, m) {
                return Err(format!(
                    "new atomic module type {}; it needs a learning policy",
                    module.kind
                ));
            }
        }
        let last_w = normal_w
            .pop()
            .ok_or("the model has no Linear or convolution layer")?;
        let last_b = normal_b.pop();
        let (mut lr5_w, mut lr10_b) = (Vec::new(), Vec::new());
        if fc_lr5 {
            lr5_w.push(last_w);
            lr10_b.extend(last_b);
        } else {
            normal_w.push(last_w);
            normal_b.extend(last_b);
        }
        Ok(vec![
            group(first_w, lr, wd),
            group(first_b, lr * 2.0, 0.0),
            group(normal_w, lr, wd),
            group(normal_b, lr * 2.0, 0.0),
            group(bn, lr, 0.0),
            group(lr5_w, lr * 5.0, wd),
            group(lr10_b, lr * 10.0, 0.0),
        ])
    }
}

register_constructor!(Tsm);
