//! `weft param-groups`: the optimizer's parameter groups as the constructor builds them.

use std::path::Path;

use anyhow::Result;
use weft_core::Momentum;

use crate::validate;

/// Prints the groups (JSON with `--json`, else a table); no data is read, nothing is trained.
pub fn run(config: &Path, options: &[String], json: bool) -> Result<()> {
    let log = weft_core::RunLog::warnings_to_stderr();
    let checked = validate::check(config, options, &log, None)?;
    let (_, setup) = validate::model_and_optimizer(&checked, weft_nn::Device::Cpu, 0)?;
    if json {
        println!("{}", weft_nn::optim::groups_json(&setup));
        return Ok(());
    }
    println!(
        "{} with {} parameter group(s)",
        setup.optimizer.name(),
        setup.groups.len()
    );
    println!(
        "{:>5}  {:>12}  {:>12}  {:>16}  params",
        "group", "lr", "weight_decay", "momentum/betas"
    );
    for (i, g) in setup.groups.iter().enumerate() {
        let m = match g.momentum {
            Momentum::Momentum(m) => format!("{m}"),
            Momentum::Betas(b1, b2) => format!("({b1}, {b2})"),
            Momentum::None => "-".into(),
        };
        let mut names = g.params.join(", ");
        if names.len() > 60 {
            names = format!(
                "{}... ({} params)",
                &names[..names.char_indices().nth(57).map_or(names.len(), |c| c.0)],
                g.params.len()
            );
        }
        let explicit = &g.explicit;
        let mark = if explicit.is_empty() {
            String::new()
        } else {
            format!("  [set: {}]", explicit.join(", "))
        };
        println!(
            "{i:>5}  {:>12.6e}  {:>12.6e}  {m:>16}  {names}{mark}",
            g.lr, g.weight_decay
        );
    }
    Ok(())
}
