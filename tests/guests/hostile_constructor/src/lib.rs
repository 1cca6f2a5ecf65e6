//! `HostileConstructor`: returns groups a hostile or buggy constructor would, chosen by
//! `paramwise_cfg.mode`: a million empty groups, a parameter twice, an invented parameter, a
//! NaN lr, an option the optimizer does not have; `fine` puts everything in one group.

use serde::Deserialize;
use weft_guest::constructor::{
    Constructor, ModuleInfo, ParamGroup, ParamInfo, register_constructor,
};

#[derive(Deserialize)]
struct Paramwise {
    mode: String,
}

#[derive(Deserialize)]
struct Optimizer {
    paramwise_cfg: Paramwise,
}

struct Hostile;

impl Constructor for Hostile {
    const TYPE_NAME: &'static str = "HostileConstructor";

    fn build(
        optimizer: serde_json::Value,
        _modules: &[ModuleInfo],
        params: &[ParamInfo],
    ) -> Result<Vec<ParamGroup>, String> {
        let opt: Optimizer = serde_json::from_value(optimizer).map_err(|e| e.to_string())?;
        let all: Vec<u32> = (0..params.len() as u32)
            .filter(|i| params[*i as usize].alias_of.is_none())
            .collect();
        let one = |params: Vec<u32>, options: Vec<(String, f64)>| ParamGroup { params, options };
        Ok(match opt.paramwise_cfg.mode.as_str() {
            "fine" => vec![one(all, vec![])],
            "million_groups" => {
                let mut groups = vec![one(all, vec![])];
                groups.extend((0..1_000_000).map(|_| one(vec![], vec![])));
                groups
            }
            "twice" => vec![one(all.clone(), vec![]), one(vec![all[0]], vec![])],
            "invented" => vec![one(all, vec![]), one(vec![1_000_000], vec![])],
            "nan_lr" => vec![one(all, vec![("lr".into(), f64::NAN)])],
            "unknown_option" => vec![one(all, vec![("warp_factor".into(), 9.0)])],
            other => return Err(format!("unknown mode {other:?}")),
        })
    }
}

register_constructor!(Hostile);
