//! The seed's `MyOptimizer(a, b, c)`: SGD with momentum, Nesterov and weight decay written
//! against the host's tensor operations, the way `torch.optim.SGD` computes it:
//!
//! ```text
//! d = grad + weight_decay * p
//! buf = d                                  (first step)
//! buf = momentum * buf + (1 - dampening) * d
//! d = d + momentum * buf  (nesterov)  or  d = buf
//! p = p - lr * d
//! ```
//!
//! Each line is one host call per parameter group, whatever the number of parameters; the
//! momentum buffers are host tensors, kept in checkpoints.

use serde::Deserialize;
use weft_guest::optimizer::{
    Optimizer, StepContext, add, copies, copy_from, mul_scalar, option, refs, register_optimizer,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    lr: f64,
    #[serde(default)]
    momentum: f64,
    #[serde(default)]
    dampening: f64,
    #[serde(default)]
    weight_decay: f64,
    #[serde(default)]
    nesterov: bool,
    /// The seed's three constructor arguments; this optimizer only reports them.
    #[serde(default)]
    a: f64,
    #[serde(default)]
    b: f64,
    #[serde(default)]
    c: i64,
}

struct MyOptimizer {
    cfg: Config,
}

impl Optimizer for MyOptimizer {
    const TYPE_NAME: &'static str = "MyOptimizer";

    fn new(config: serde_json::Value) -> Result<Self, String> {
        let cfg: Config = weft_guest::config(config)?;
        if cfg.lr < 0.0 || cfg.momentum < 0.0 || cfg.weight_decay < 0.0 {
            return Err("lr, momentum and weight_decay must be >= 0".into());
        }
        if cfg.nesterov && (cfg.momentum <= 0.0 || cfg.dampening != 0.0) {
            return Err("Nesterov momentum requires a momentum and zero dampening".into());
        }
        weft_guest::optimizer::log(
            weft_guest::optimizer::LogLevel::Info,
            &format!("MyOptimizer(a={}, b={}, c={})", cfg.a, cfg.b, cfg.c),
        );
        Ok(MyOptimizer { cfg })
    }

    fn defaults(&self) -> Vec<(String, f64)> {
        vec![
            ("lr".into(), self.cfg.lr),
            ("momentum".into(), self.cfg.momentum),
            ("dampening".into(), self.cfg.dampening),
            ("weight_decay".into(), self.cfg.weight_decay),
        ]
    }

    fn step(&mut self, ctx: &StepContext) -> Result<(), String> {
        for g in 0..ctx.num_groups() {
            let opts = ctx.options(g);
            let get = |k: &str| option(&opts, k).unwrap_or(0.0);
            let (lr, momentum, dampening, wd) = (
                get("lr"),
                get("momentum"),
                get("dampening"),
                get("weight_decay"),
            );
            let params = ctx.params(g);
            if params.is_empty() {
                continue;
            }
            let grads = ctx.grads(g);
            // `d` is scratch when weight decay applies; else the gradients themselves.
            let decayed;
            let d = if wd != 0.0 {
                decayed = copies(&refs(&grads))?;
                add(&refs(&decayed), &refs(&params), wd)?;
                &decayed
            } else {
                &grads
            };
            let step = if momentum != 0.0 {
                let (bufs, fresh) = ctx.state(g, "momentum_buffer");
                if fresh {
                    copy_from(&refs(&bufs), &refs(d))?;
                } else {
                    mul_scalar(&refs(&bufs), momentum)?;
                    add(&refs(&bufs), &refs(d), 1.0 - dampening)?;
                }
                if self.cfg.nesterov {
                    add(&refs(d), &refs(&bufs), momentum)?;
                    None
                } else {
                    Some(bufs)
                }
            } else {
                None
            };
            let direction = step.as_ref().unwrap_or(d);
            add(&refs(&params), &refs(direction), -lr)?;
        }
        Ok(())
    }
}

register_optimizer!(MyOptimizer);
