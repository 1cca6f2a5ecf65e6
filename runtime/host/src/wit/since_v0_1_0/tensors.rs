//! The `tensors` and `steps` interfaces of `weft:plugin@0.1.0`, over the host's tensor
//! handles (`crate::tensors`).

use wasmtime::component::Resource;
use weft_core::plugin::{GroupOperand, Instr, OpCode, TensorRef, check_program};

use super::optimizer_world::weft::plugin::{steps, tensors};
use crate::state::HostState;
use crate::tensors::{Handle, StepHandle};

fn instr(i: &tensors::Instr) -> Instr {
    use tensors::Op;
    let op = match i.op {
        Op::Load => OpCode::Load,
        Op::Store => OpCode::Store,
        Op::Constant => OpCode::Const,
        Op::Add => OpCode::Add,
        Op::Sub => OpCode::Sub,
        Op::Mul => OpCode::Mul,
        Op::Div => OpCode::Div,
        Op::MulAdd => OpCode::MulAdd,
        Op::Neg => OpCode::Neg,
        Op::Abs => OpCode::Abs,
        Op::Sqrt => OpCode::Sqrt,
        Op::Max => OpCode::Max,
        Op::Min => OpCode::Min,
        Op::Sign => OpCode::Sign,
    };
    Instr {
        op,
        dst: i.dst,
        a: i.a,
        b: i.b,
        c: i.c,
        imm: i.imm,
    }
}

/// State names become checkpoint keys (`optimizer.<param>.<name>`).
fn check_state_name(name: &str) -> wasmtime::Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        wasmtime::bail!("state name {name:?} must be 1-64 ASCII letters, digits or `_`");
    }
    Ok(())
}

/// The norms the host computes: p > 0, or +infinity (the largest absolute value). torch's
/// p = 0 (a count of non-zeros) and p = -infinity (the smallest absolute value) are not norms
/// an update rule needs, and NaN or a negative p mean nothing.
fn check_p(p: f64) -> Result<(), String> {
    if p > 0.0 {
        Ok(())
    } else {
        Err(format!("p must be positive or infinity, got {p}"))
    }
}

fn engine_err<T>(r: Result<T, weft_core::EngineError>) -> wasmtime::Result<T> {
    r.map_err(|e| wasmtime::format_err!("{}", e.message))
}

impl tensors::HostTensor for HostState {
    fn numel(&mut self, h: Handle) -> wasmtime::Result<u64> {
        Ok(self.tensor(&h)?.numel())
    }

    fn shape(&mut self, h: Handle) -> wasmtime::Result<Vec<u64>> {
        Ok(self.tensor(&h)?.shape())
    }

    fn zeros_like(&mut self, h: Handle) -> wasmtime::Result<Handle> {
        let t = engine_err(self.tensor(&h)?.zeros_like())?;
        self.push_tensor(t)
    }

    fn copy(&mut self, h: Handle) -> wasmtime::Result<Handle> {
        let t = engine_err(self.tensor(&h)?.copy())?;
        self.push_tensor(t)
    }

    fn norm(&mut self, h: Handle, p: f64) -> wasmtime::Result<f64> {
        // 0.1's `norm` has no error result: an invalid p fails the call.
        if let Err(m) = check_p(p) {
            wasmtime::bail!("norm: {m}");
        }
        engine_err(self.tensor(&h)?.norm(p))
    }

    fn head(&mut self, h: Handle, n: u32) -> wasmtime::Result<Vec<f64>> {
        engine_err(self.tensor(&h)?.head(n.min(64) as usize))
    }

    fn drop(&mut self, h: Handle) -> wasmtime::Result<()> {
        self.drop_tensor(h)
    }
}

impl tensors::Host for HostState {
    fn add(
        &mut self,
        ts: Vec<Handle>,
        xs: Vec<Handle>,
        alpha: f64,
    ) -> wasmtime::Result<Result<(), String>> {
        self.zip_op(&ts, &xs, |t, x| t.add_(x, alpha))
    }

    fn mul_scalar(&mut self, ts: Vec<Handle>, s: f64) -> wasmtime::Result<Result<(), String>> {
        for t in &ts {
            if let Err(e) = self.tensor(t)?.mul_scalar_(s) {
                return Ok(Err(e.message));
            }
        }
        Ok(Ok(()))
    }

    fn addcmul(
        &mut self,
        ts: Vec<Handle>,
        a: Vec<Handle>,
        b: Vec<Handle>,
        value: f64,
    ) -> wasmtime::Result<Result<(), String>> {
        self.zip3_op(&ts, &a, &b, |t, a, b| t.addcmul_(a, b, value))
    }

    fn addcdiv(
        &mut self,
        ts: Vec<Handle>,
        a: Vec<Handle>,
        b: Vec<Handle>,
        value: f64,
    ) -> wasmtime::Result<Result<(), String>> {
        self.zip3_op(&ts, &a, &b, |t, a, b| t.addcdiv_(a, b, value))
    }

    fn lerp(
        &mut self,
        ts: Vec<Handle>,
        ends: Vec<Handle>,
        w: f64,
    ) -> wasmtime::Result<Result<(), String>> {
        self.zip_op(&ts, &ends, |t, e| t.lerp_(e, w))
    }

    fn copy_from(
        &mut self,
        ts: Vec<Handle>,
        srcs: Vec<Handle>,
    ) -> wasmtime::Result<Result<(), String>> {
        self.zip_op(&ts, &srcs, |t, s| t.copy_from_(s))
    }

    fn sqrt_add(
        &mut self,
        ts: Vec<Handle>,
        eps: f64,
    ) -> wasmtime::Result<Result<Vec<Handle>, String>> {
        let mut out = Vec::with_capacity(ts.len());
        for t in &ts {
            match self.tensor(t)?.sqrt_add(eps) {
                Ok(n) => out.push(n),
                Err(e) => return Ok(Err(e.message)),
            }
        }
        Ok(Ok(self.push_all(out)?))
    }

    fn copies(&mut self, ts: Vec<Handle>) -> wasmtime::Result<Result<Vec<Handle>, String>> {
        let mut out = Vec::with_capacity(ts.len());
        for t in &ts {
            match self.tensor(t)?.copy() {
                Ok(n) => out.push(n),
                Err(e) => return Ok(Err(e.message)),
            }
        }
        Ok(Ok(self.push_all(out)?))
    }

    fn run_program(
        &mut self,
        program: Vec<tensors::Instr>,
        operands: Vec<Vec<Handle>>,
    ) -> wasmtime::Result<Result<(), String>> {
        let program: Vec<Instr> = program.iter().map(instr).collect();
        if let Err(m) = check_program(&program, operands.len()) {
            return Ok(Err(m));
        }
        let n = operands[0].len();
        if let Some(bad) = operands.iter().position(|o| o.len() != n) {
            return Ok(Err(format!(
                "operand {bad} holds {} tensors, operand 0 holds {n}",
                operands[bad].len()
            )));
        }
        if n == 0 {
            return Ok(Ok(()));
        }
        let lists = operands
            .iter()
            .map(|list| list.iter().map(|h| self.tensor(h)).collect())
            .collect::<wasmtime::Result<Vec<Vec<&dyn TensorRef>>>>()?;
        Ok(lists[0][0]
            .run_program(&program, &lists)
            .map_err(|e| e.message))
    }

    fn maximum(
        &mut self,
        ts: Vec<Handle>,
        xs: Vec<Handle>,
    ) -> wasmtime::Result<Result<(), String>> {
        self.zip_op(&ts, &xs, |t, x| t.maximum_(x))
    }

    fn norms(&mut self, ts: Vec<Handle>, p: f64) -> wasmtime::Result<Result<Vec<f64>, String>> {
        if let Err(m) = check_p(p) {
            return Ok(Err(format!("norms: {m}")));
        }
        let mut out = Vec::with_capacity(ts.len());
        for t in &ts {
            match self.tensor(t)?.norm(p) {
                Ok(n) => out.push(n),
                Err(e) => return Ok(Err(e.message)),
            }
        }
        Ok(Ok(out))
    }
}

impl steps::HostStepContext for HostState {
    fn num_groups(&mut self, _: Resource<StepHandle>) -> wasmtime::Result<u32> {
        Ok(self.step_view()?.num_groups() as u32)
    }

    fn options(
        &mut self,
        _: Resource<StepHandle>,
        group: u32,
    ) -> wasmtime::Result<Vec<(String, f64)>> {
        let g = self.group(group)?;
        Ok(self.step_view()?.options(g))
    }

    fn params(&mut self, _: Resource<StepHandle>, group: u32) -> wasmtime::Result<Vec<Handle>> {
        let g = self.group(group)?;
        let ts = self.step_view()?.params(g);
        self.push_all(ts)
    }

    fn grads(&mut self, _: Resource<StepHandle>, group: u32) -> wasmtime::Result<Vec<Handle>> {
        let g = self.group(group)?;
        let ts = self.step_view()?.grads(g);
        self.push_all(ts)
    }

    fn state(
        &mut self,
        _: Resource<StepHandle>,
        group: u32,
        name: String,
    ) -> wasmtime::Result<(Vec<Handle>, bool)> {
        let g = self.group(group)?;
        check_state_name(&name)?;
        let (ts, fresh) = engine_err(self.step_view()?.state(g, &name))?;
        Ok((self.push_all(ts)?, fresh))
    }

    fn has_state(
        &mut self,
        _: Resource<StepHandle>,
        group: u32,
        name: String,
    ) -> wasmtime::Result<bool> {
        let g = self.group(group)?;
        Ok(self.step_view()?.has_state(g, &name))
    }

    fn run(
        &mut self,
        _: Resource<StepHandle>,
        group: u32,
        program: Vec<tensors::Instr>,
        operands: Vec<steps::GroupOperand>,
    ) -> wasmtime::Result<Result<(), String>> {
        let g = self.group(group)?;
        let program: Vec<Instr> = program.iter().map(instr).collect();
        if let Err(m) = check_program(&program, operands.len()) {
            return Ok(Err(m));
        }
        let mut named = Vec::with_capacity(operands.len());
        for o in operands {
            named.push(match o {
                steps::GroupOperand::Params => GroupOperand::Params,
                steps::GroupOperand::Grads => GroupOperand::Grads,
                steps::GroupOperand::State(name) => {
                    check_state_name(&name)?;
                    GroupOperand::State(name)
                }
            });
        }
        Ok(self
            .step_view()?
            .run_program(g, &program, &named)
            .map_err(|e| e.message))
    }

    fn drop(&mut self, _: Resource<StepHandle>) -> wasmtime::Result<()> {
        // The step context is the host's, created once per instance; a guest never owns it.
        Ok(())
    }
}

impl steps::Host for HostState {}
