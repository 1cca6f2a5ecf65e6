//! The seed's `MyOptimizer(a, b, c)`: SGD with momentum, Nesterov and weight decay, the way
//! `torch.optim.SGD` computes it:
//!
//! ```text
//! d = grad + weight_decay * p
//! buf = d                                  (first step)
//! buf = momentum * buf + (1 - dampening) * d
//! d = d + momentum * buf  (nesterov)  or  d = buf
//! p = p - lr * d
//! ```
//!
//! The rule is an elementwise program that the host runs over every parameter of a group in
//! one pass, reading and writing each tensor about once, as a fused kernel does: a step is
//! three host calls per group (its options, whether the buffers exist, the program), and no
//! tensor handle crosses into the component. The momentum buffers are host tensors, kept in
//! checkpoints.

use serde::Deserialize;
use weft_guest::optimizer::{
    GroupOperand, Optimizer, Program, StepContext, option, register_optimizer,
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

/// Operand lists of the update program.
const GRADS: u8 = 0;
const PARAMS: u8 = 1;
const BUFS: u8 = 2;

/// One group's hyperparameters, as scheduled for this step.
struct Hyper {
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
}

/// The update of one parameter element, as a program; `fresh` buffers take the direction.
fn update(h: &Hyper, fresh: bool) -> Program {
    let mut p = Program::new();
    let g = p.load(GRADS);
    let w = p.load(PARAMS);
    let d = if h.weight_decay != 0.0 {
        let wd = p.constant(h.weight_decay);
        p.mul_add(w, wd, g)
    } else {
        g
    };
    let direction = if h.momentum != 0.0 {
        let buf = if fresh {
            d
        } else {
            let b = p.load(BUFS);
            let m = p.constant(h.momentum);
            let scaled = if h.dampening != 0.0 {
                let keep = p.constant(1.0 - h.dampening);
                p.mul(d, keep)
            } else {
                d
            };
            p.mul_add(b, m, scaled)
        };
        p.store(BUFS, buf);
        if h.nesterov {
            let m = p.constant(h.momentum);
            p.mul_add(buf, m, d)
        } else {
            buf
        }
    } else {
        d
    };
    let step = p.constant(-h.lr);
    let w2 = p.mul_add(direction, step, w);
    p.store(PARAMS, w2);
    p
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
            let h = Hyper {
                lr: get("lr"),
                momentum: get("momentum"),
                dampening: get("dampening"),
                weight_decay: get("weight_decay"),
                nesterov: self.cfg.nesterov,
            };
            let operands = [
                GroupOperand::Grads,
                GroupOperand::Params,
                GroupOperand::State("momentum_buffer".into()),
            ];
            if h.momentum != 0.0 {
                let fresh = !ctx.has_state(g, "momentum_buffer");
                update(&h, fresh).run_group(ctx, g, &operands)?;
            } else {
                update(&h, false).run_group(ctx, g, &operands[..2])?;
            }
        }
        Ok(())
    }
}

register_optimizer!(MyOptimizer);
