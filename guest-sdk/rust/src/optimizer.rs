//! Custom optimizers: the update rule in the plugin, the tensors and their arithmetic in the
//! host (on the model's device). Each operation takes lists, so a step is a few calls per
//! group whatever the number of parameters.

use std::cell::RefCell;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.1.0",
        world: "custom-optimizer",
        default_bindings_module: "weft_guest::optimizer::bindings",
        // The plugin crate exports (through `register_optimizer!`), so that a build with
        // several of this crate's features on still yields a component of one world.
        pub_export_macro: true,
        export_macro_name: "export_optimizer_world",
    });
}

pub use bindings::log;
pub use bindings::weft::plugin::steps::{GroupOperand, StepContext};
pub use bindings::weft::plugin::tensors::{
    Instr, Op, Tensor, add, addcdiv, addcmul, copies, copy_from, lerp, maximum, mul_scalar, norms,
    run_program, sqrt_add,
};
pub use bindings::weft::plugin::types::LogLevel;

/// Reads an option from a group's options (as [`StepContext::options`] returns them).
pub fn option(options: &[(String, f64)], name: &str) -> Option<f64> {
    options.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

/// Borrows every tensor of a list, the form the operations take.
pub fn refs(ts: &[Tensor]) -> Vec<&Tensor> {
    ts.iter().collect()
}

/// A register of a [`Program`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reg(u8);

/// An elementwise program, built instruction by instruction and run by the host over whole
/// tensor lists in one pass ([`run_program`]): the way to write an update rule that runs as
/// fast as a fused kernel.
///
/// Every operation takes a fresh register; [`Program::release`] returns one for reuse (there
/// are 16).
///
/// ```ignore
/// // p <- p - lr * g, over every parameter of a group
/// let mut prog = Program::new();
/// let (g, p) = (prog.load(0), prog.load(1));
/// let step = prog.constant(-lr);
/// let p2 = prog.mul_add(g, step, p);
/// prog.store(1, p2);
/// prog.run(&[&grads, &params])?;
/// ```
#[derive(Debug, Default, Clone)]
pub struct Program {
    instrs: Vec<Instr>,
    free: Vec<u8>,
    next: u8,
    overflow: bool,
}

impl Program {
    /// An empty program.
    pub fn new() -> Program {
        Program::default()
    }

    fn reg(&mut self) -> u8 {
        if let Some(r) = self.free.pop() {
            return r;
        }
        if self.next >= 16 {
            self.overflow = true;
            return 15;
        }
        self.next += 1;
        self.next - 1
    }

    fn push(&mut self, op: Op, a: u8, b: u8, c: u8, imm: f64) -> Reg {
        let dst = self.reg();
        self.instrs.push(Instr {
            op,
            dst,
            a,
            b,
            c,
            imm,
        });
        Reg(dst)
    }

    /// Lets a later operation reuse `r`'s register.
    pub fn release(&mut self, r: Reg) {
        if !self.free.contains(&r.0) {
            self.free.push(r.0);
        }
    }

    /// The current element of operand list `operand`.
    pub fn load(&mut self, operand: u8) -> Reg {
        self.push(Op::Load, operand, 0, 0, 0.0)
    }
    /// Writes `r` to operand list `operand`.
    pub fn store(&mut self, operand: u8, r: Reg) {
        self.instrs.push(Instr {
            op: Op::Store,
            dst: 0,
            a: operand,
            b: r.0,
            c: 0,
            imm: 0.0,
        });
    }
    /// A constant.
    pub fn constant(&mut self, v: f64) -> Reg {
        self.push(Op::Constant, 0, 0, 0, v)
    }
    /// `a + b`.
    pub fn add(&mut self, a: Reg, b: Reg) -> Reg {
        self.push(Op::Add, a.0, b.0, 0, 0.0)
    }
    /// `a - b`.
    pub fn sub(&mut self, a: Reg, b: Reg) -> Reg {
        self.push(Op::Sub, a.0, b.0, 0, 0.0)
    }
    /// `a * b`.
    pub fn mul(&mut self, a: Reg, b: Reg) -> Reg {
        self.push(Op::Mul, a.0, b.0, 0, 0.0)
    }
    /// `a / b`.
    pub fn div(&mut self, a: Reg, b: Reg) -> Reg {
        self.push(Op::Div, a.0, b.0, 0, 0.0)
    }
    /// `a * b + c`.
    pub fn mul_add(&mut self, a: Reg, b: Reg, c: Reg) -> Reg {
        self.push(Op::MulAdd, a.0, b.0, c.0, 0.0)
    }
    /// `-a`.
    pub fn neg(&mut self, a: Reg) -> Reg {
        self.push(Op::Neg, a.0, 0, 0, 0.0)
    }
    /// `|a|`.
    pub fn abs(&mut self, a: Reg) -> Reg {
        self.push(Op::Abs, a.0, 0, 0, 0.0)
    }
    /// `sqrt(a)`.
    pub fn sqrt(&mut self, a: Reg) -> Reg {
        self.push(Op::Sqrt, a.0, 0, 0, 0.0)
    }
    /// `max(a, b)`.
    pub fn max(&mut self, a: Reg, b: Reg) -> Reg {
        self.push(Op::Max, a.0, b.0, 0, 0.0)
    }
    /// `min(a, b)`.
    pub fn min(&mut self, a: Reg, b: Reg) -> Reg {
        self.push(Op::Min, a.0, b.0, 0, 0.0)
    }
    /// `sign(a)`.
    pub fn sign(&mut self, a: Reg) -> Reg {
        self.push(Op::Sign, a.0, 0, 0, 0.0)
    }

    fn check(&self) -> Result<(), String> {
        if self.overflow {
            return Err(
                "the program needs more than 16 registers; release the ones it no longer needs"
                    .into(),
            );
        }
        Ok(())
    }

    /// Runs the program over operand lists of equal length (operand `i` is `operands[i]`).
    pub fn run(&self, operands: &[&[Tensor]]) -> Result<(), String> {
        self.check()?;
        let lists: Vec<Vec<&Tensor>> = operands.iter().map(|l| l.iter().collect()).collect();
        run_program(&self.instrs, &lists)
    }

    /// Runs the program over a group's tensors named by role (operand `i` is
    /// `operands[i]`): the fast path of a step, one host call per group and no handles.
    pub fn run_group(
        &self,
        ctx: &StepContext,
        group: u32,
        operands: &[GroupOperand],
    ) -> Result<(), String> {
        self.check()?;
        ctx.run(group, &self.instrs, operands)
    }
}

/// A custom optimizer.
pub trait Optimizer: Sized + 'static {
    /// The name configs use: `optimizer = { type = "MyOptimizer", ... }`.
    const TYPE_NAME: &'static str;

    /// Builds the optimizer from its config table (without `type`).
    fn new(config: serde_json::Value) -> Result<Self, String>;

    /// Every option with its value for groups that do not override it; `lr` must be among
    /// them, and `momentum` if a momentum schedule should drive it.
    fn defaults(&self) -> Vec<(String, f64)>;

    /// One update of every group.
    fn step(&mut self, ctx: &StepContext) -> Result<(), String>;
}

#[doc(hidden)]
pub trait DynOptimizer {
    fn defaults(&self) -> Vec<(String, f64)>;
    fn step(&mut self, ctx: &StepContext) -> Result<(), String>;
}

impl<O: Optimizer> DynOptimizer for O {
    fn defaults(&self) -> Vec<(String, f64)> {
        Optimizer::defaults(self)
    }
    fn step(&mut self, ctx: &StepContext) -> Result<(), String> {
        Optimizer::step(self, ctx)
    }
}

#[doc(hidden)]
pub struct Registration {
    pub type_name: &'static str,
    pub new: fn(serde_json::Value) -> Result<Box<dyn DynOptimizer>, String>,
}

unsafe extern "Rust" {
    // Defined by `register_optimizer!` in the plugin crate.
    safe fn __weft_guest_optimizer_registration() -> Registration;
}

thread_local! {
    static OPTIMIZER: RefCell<Option<Box<dyn DynOptimizer>>> = const { RefCell::new(None) };
}

#[doc(hidden)]
pub struct Component;

impl bindings::exports::weft::plugin::optimizer::Guest for Component {
    fn type_name() -> String {
        __weft_guest_optimizer_registration().type_name.to_string()
    }

    fn init(config_json: String) -> Result<Vec<(String, f64)>, String> {
        let config =
            serde_json::from_str(&config_json).map_err(|e| format!("bad config JSON: {e}"))?;
        let opt = (__weft_guest_optimizer_registration().new)(config)?;
        let defaults = opt.defaults();
        OPTIMIZER.with(|o| *o.borrow_mut() = Some(opt));
        Ok(defaults)
    }

    fn step(ctx: &StepContext) -> Result<(), String> {
        OPTIMIZER.with(|o| match o.borrow_mut().as_deref_mut() {
            Some(opt) => opt.step(ctx),
            None => Err("step was called before init".into()),
        })
    }
}

/// Exports an [`Optimizer`] type as the component's optimizer.
#[macro_export]
macro_rules! register_optimizer {
    ($t:ty) => {
        #[unsafe(no_mangle)]
        fn __weft_guest_optimizer_registration() -> $crate::optimizer::Registration {
            $crate::optimizer::Registration {
                type_name: <$t as $crate::optimizer::Optimizer>::TYPE_NAME,
                new: |config| {
                    <$t as $crate::optimizer::Optimizer>::new(config)
                        .map(|o| Box::new(o) as Box<dyn $crate::optimizer::DynOptimizer>)
                },
            }
        }
        use $crate::optimizer::Component as __WeftOptimizerComponent;
        $crate::optimizer::bindings::export_optimizer_world!(__WeftOptimizerComponent with_types_in $crate::optimizer::bindings);
    };
}
pub use register_optimizer;
