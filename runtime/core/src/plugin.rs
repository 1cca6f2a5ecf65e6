//! What plugins may provide besides hooks: optimizer constructors and custom optimizers.
//!
//! Custom optimizers work on [`TensorRef`]s, abstract handles to tensors on the model's
//! device, so that neither this crate nor the WebAssembly host names libtorch: `weft-nn`
//! implements the handles, `weft-host` implements the optimizers by calling components.

use std::any::Any;
use std::collections::BTreeMap;

use crate::error::EngineError;
use crate::paramwise::{GroupSpec, ModelTable};

/// A tensor kept by the engine; operations run on its device.
pub trait TensorRef: Send {
    /// For implementations to recognise their own handles in binary operations.
    fn as_any(&self) -> &dyn Any;
    /// Number of elements.
    fn numel(&self) -> u64;
    /// Bytes of its elements (what a copy of it costs).
    fn size_bytes(&self) -> u64 {
        self.numel() * 4
    }
    /// Shape.
    fn shape(&self) -> Vec<u64>;
    /// A new zero tensor like this one.
    fn zeros_like(&self) -> Result<Box<dyn TensorRef>, EngineError>;
    /// A new tensor with a copy of the values.
    fn copy(&self) -> Result<Box<dyn TensorRef>, EngineError>;
    /// The p-norm over all elements (infinite p: largest absolute value); waits for the device.
    fn norm(&self, p: f64) -> Result<f64, EngineError>;
    /// The first `n` values (for inspection); waits for the device.
    fn head(&self, n: usize) -> Result<Vec<f64>, EngineError>;
    /// `self += alpha * x`.
    fn add_(&self, x: &dyn TensorRef, alpha: f64) -> Result<(), EngineError>;
    /// `self *= s`.
    fn mul_scalar_(&self, s: f64) -> Result<(), EngineError>;
    /// `self += value * a * b`.
    fn addcmul_(&self, a: &dyn TensorRef, b: &dyn TensorRef, value: f64)
    -> Result<(), EngineError>;
    /// `self += value * a / b`.
    fn addcdiv_(&self, a: &dyn TensorRef, b: &dyn TensorRef, value: f64)
    -> Result<(), EngineError>;
    /// `self += w * (end - self)`.
    fn lerp_(&self, end: &dyn TensorRef, w: f64) -> Result<(), EngineError>;
    /// `self = src`.
    fn copy_from_(&self, src: &dyn TensorRef) -> Result<(), EngineError>;
    /// A new tensor `sqrt(self) + eps`.
    fn sqrt_add(&self, eps: f64) -> Result<Box<dyn TensorRef>, EngineError>;
    /// `self = max(self, x)`.
    fn maximum_(&self, x: &dyn TensorRef) -> Result<(), EngineError>;
    /// Runs a checked elementwise program ([`check_program`]) over operand lists of equal
    /// length: for every index `j`, over every element of the tensors `operands[s][j]`, in
    /// one pass. `self` only selects the implementation (any tensor of the same engine).
    fn run_program(
        &self,
        program: &[Instr],
        operands: &[Vec<&dyn TensorRef>],
    ) -> Result<(), EngineError>;
}

/// An instruction of an elementwise program (see [`TensorRef::run_program`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// `dst <- operand[a]`.
    Load = 0,
    /// `operand[a] <- reg[b]`.
    Store = 1,
    /// `dst <- imm`.
    Const = 2,
    /// `dst <- a + b`.
    Add = 3,
    /// `dst <- a - b`.
    Sub = 4,
    /// `dst <- a * b`.
    Mul = 5,
    /// `dst <- a / b`.
    Div = 6,
    /// `dst <- a * b + c` (rounded after the product and after the sum).
    MulAdd = 7,
    /// `dst <- -a`.
    Neg = 8,
    /// `dst <- |a|`.
    Abs = 9,
    /// `dst <- sqrt(a)`.
    Sqrt = 10,
    /// `dst <- max(a, b)`; NaN if either is NaN.
    Max = 11,
    /// `dst <- min(a, b)`; NaN if either is NaN.
    Min = 12,
    /// `dst <- sign(a)`: -1, 0 or 1 (NaN stays NaN).
    Sign = 13,
}

/// One instruction: an op on registers `a`, `b`, `c` into `dst` (for `Load`/`Store`, `a` is
/// an operand index). The layout is shared with the C++ evaluator.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
pub struct Instr {
    /// The operation.
    pub op: OpCode,
    /// Destination register.
    pub dst: u8,
    /// First source register, or the operand of `Load`/`Store`.
    pub a: u8,
    /// Second source register (the stored register of `Store`).
    pub b: u8,
    /// Third source register (`MulAdd`).
    pub c: u8,
    /// The value of `Const`.
    pub imm: f64,
}

/// Registers of an elementwise program.
pub const PROGRAM_REGISTERS: u8 = 16;
/// Longest elementwise program.
pub const PROGRAM_MAX_LEN: usize = 256;
/// Most operands of an elementwise program.
pub const PROGRAM_MAX_OPERANDS: usize = 16;

/// Checks a program over `operands` operand lists: indices in range, every register written
/// before it is read, at least one store.
pub fn check_program(program: &[Instr], operands: usize) -> Result<(), String> {
    if program.is_empty() || program.len() > PROGRAM_MAX_LEN {
        return Err(format!(
            "a program has 1 to {PROGRAM_MAX_LEN} instructions, not {}",
            program.len()
        ));
    }
    if operands == 0 || operands > PROGRAM_MAX_OPERANDS {
        return Err(format!(
            "a program has 1 to {PROGRAM_MAX_OPERANDS} operands, not {operands}"
        ));
    }
    let mut written = [false; PROGRAM_REGISTERS as usize];
    let mut stores = 0;
    for (i, ins) in program.iter().enumerate() {
        let reg = |r: u8| -> Result<usize, String> {
            if r < PROGRAM_REGISTERS {
                Ok(r as usize)
            } else {
                Err(format!(
                    "instruction {i}: register {r} (there are {PROGRAM_REGISTERS})"
                ))
            }
        };
        let read = |r: u8, written: &[bool]| -> Result<(), String> {
            if written[reg(r)?] {
                Ok(())
            } else {
                Err(format!(
                    "instruction {i} ({:?}) reads register {r} before any write",
                    ins.op
                ))
            }
        };
        let operand = |s: u8| -> Result<(), String> {
            if (s as usize) < operands {
                Ok(())
            } else {
                Err(format!(
                    "instruction {i}: operand {s} (the program has {operands})"
                ))
            }
        };
        match ins.op {
            OpCode::Load => operand(ins.a)?,
            OpCode::Store => {
                operand(ins.a)?;
                read(ins.b, &written)?;
                stores += 1;
                continue;
            }
            OpCode::Const => {
                if !ins.imm.is_finite() {
                    return Err(format!(
                        "instruction {i}: constant {} is not finite",
                        ins.imm
                    ));
                }
            }
            OpCode::Add | OpCode::Sub | OpCode::Mul | OpCode::Div | OpCode::Max | OpCode::Min => {
                read(ins.a, &written)?;
                read(ins.b, &written)?;
            }
            OpCode::MulAdd => {
                read(ins.a, &written)?;
                read(ins.b, &written)?;
                read(ins.c, &written)?;
            }
            OpCode::Neg | OpCode::Abs | OpCode::Sqrt | OpCode::Sign => read(ins.a, &written)?,
        }
        written[reg(ins.dst)?] = true;
    }
    if stores == 0 {
        return Err("the program stores nothing".into());
    }
    Ok(())
}

/// Gradient statistics of one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamStat {
    /// Qualified name.
    pub name: String,
    /// Number of elements.
    pub numel: u64,
    /// L2 norm of the gradient (0 without one).
    pub norm: f64,
    /// Largest absolute gradient value.
    pub abs_max: f64,
    /// Whether every gradient value is finite.
    pub finite: bool,
}

/// The gradients of a moment (after backward), readable later without borrowing the engine.
pub trait GradView: Send {
    /// The joint p-norm of all gradients, if any exist; waits for the device.
    fn norm(&self, p: f64) -> Result<Option<f64>, EngineError>;
    /// Statistics per parameter; waits for the device.
    fn stats(&self) -> Result<Vec<ParamStat>, EngineError>;
}

/// One step of a custom optimizer as the engine presents it.
pub trait StepView: Send {
    /// Number of parameter groups.
    fn num_groups(&self) -> usize;
    /// The group's options as scheduled for this step (`lr`, `momentum`, `weight_decay`, and
    /// the optimizer's other options).
    fn options(&self, group: usize) -> Vec<(String, f64)>;
    /// The group's parameters that have a gradient.
    fn params(&self, group: usize) -> Vec<Box<dyn TensorRef>>;
    /// Their gradients, in the same order.
    fn grads(&self, group: usize) -> Vec<Box<dyn TensorRef>>;
    /// A state tensor per parameter of [`StepView::params`], created as zeros on first use
    /// (then `true`); kept by the engine and saved in checkpoints.
    fn state(
        &mut self,
        group: usize,
        name: &str,
    ) -> Result<(Vec<Box<dyn TensorRef>>, bool), EngineError>;
    /// Whether the group's state tensors of this name exist.
    fn has_state(&self, group: usize, name: &str) -> bool;
    /// Runs a checked elementwise program ([`check_program`]) over the group's tensors named
    /// by role; missing state tensors are created as zeros first.
    fn run_program(
        &mut self,
        group: usize,
        program: &[Instr],
        operands: &[GroupOperand],
    ) -> Result<(), EngineError>;
}

/// A group's tensors named by role, as an operand of [`StepView::run_program`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOperand {
    /// The parameters that have a gradient.
    Params,
    /// Their gradients.
    Grads,
    /// State tensors of this name.
    State(String),
}

/// An optimizer whose update rule lives elsewhere (a plugin).
pub trait ExternalOptimizer: Send {
    /// The type name.
    fn name(&self) -> &str;
    /// Option names with their defaults (`lr` among them).
    fn defaults(&self) -> &[(String, f64)];
    /// One update of every group.
    fn step(&mut self, view: Box<dyn StepView>) -> Result<(), String>;
}

/// An optimizer constructor whose rules live elsewhere (a plugin).
pub trait ExternalConstructor: Send {
    /// The type name.
    fn name(&self) -> &str;
    /// Parameter groups for the model; `optimizer` is the optimizer's config table (without
    /// `type` and `constructor`) as JSON. Group members are first-entry indices of `table`.
    fn build(
        &mut self,
        optimizer: &serde_json::Value,
        table: &ModelTable,
    ) -> Result<Vec<GroupSpec>, String>;
}

/// Creates a custom optimizer from its config table (as JSON).
pub type OptimizerFactory =
    Box<dyn Fn(&serde_json::Value) -> Result<Box<dyn ExternalOptimizer>, String> + Send + Sync>;

/// Creates an optimizer constructor.
pub type ConstructorFactory =
    Box<dyn Fn() -> Result<Box<dyn ExternalConstructor>, String> + Send + Sync>;

/// Optimizers and constructors provided by plugins, by type name.
#[derive(Default)]
pub struct Extensions {
    /// Custom optimizers.
    pub optimizers: BTreeMap<String, OptimizerFactory>,
    /// Optimizer constructors.
    pub constructors: BTreeMap<String, ConstructorFactory>,
}
