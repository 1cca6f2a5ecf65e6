//! {{type}}: a weft hook. Build it with `./build.sh`, then list `{{name}}.wasm` in a config's
//! `custom_imports` and `{ type = "{{type}}" }` in its `custom_hooks`.

use serde::Deserialize;
use weft_guest::hook::{Hook, HookPoint, RunState, info, register_hook};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct {{type}} {
    /// Report the loss every `interval` training iterations.
    #[serde(default = "default_interval")]
    interval: u64,
}

fn default_interval() -> u64 {
    50
}

impl Hook for {{type}} {
    const TYPE_NAME: &'static str = "{{type}}";

    fn new(config: serde_json::Value) -> Result<Self, String> {
        let hook: {{type}} = weft_guest::config(config)?;
        if hook.interval == 0 {
            return Err("interval must be at least 1".into());
        }
        Ok(hook)
    }

    // weft calls only the points listed here.
    fn points(&self) -> Vec<HookPoint> {
        vec![HookPoint::BeforeRun, HookPoint::AfterTrainIter]
    }

    fn before_run(&mut self, s: &RunState) -> Result<(), String> {
        info(&format!("{{type}} ready: {} iterations planned", s.max_iters()));
        Ok(())
    }

    fn after_train_iter(&mut self, s: &RunState) -> Result<(), String> {
        if (s.iter() + 1) % self.interval == 0
            && let Some(loss) = s.output("loss")
        {
            info(&format!("iteration {}: loss {loss:.4}", s.iter() + 1));
        }
        Ok(())
    }
}

register_hook!({{type}});
