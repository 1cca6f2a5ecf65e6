//! The `tensors` and `steps` interfaces: tensor handles in the store's resource table, backed
//! by the engine's tensors, and the step context a custom optimizer reads.
//!
//! Operations take lists so that a step costs a few calls per group, not per parameter.
//! A handle the guest holds is only a reference: dropping it never frees a parameter or an
//! optimizer state tensor, which the engine keeps.

use wasmtime::component::{Resource, ResourceTable};
use weft_core::plugin::TensorRef;

use crate::state::HostState;

/// Live tensor handles one instance may hold; more means the guest leaks them.
pub const MAX_HANDLES: usize = 1 << 16;

/// The `tensor` resource: a tensor and the bytes it holds (counted against the plugin's
/// budget of host tensor memory while the handle lives).
pub struct TensorHandle(pub Box<dyn TensorRef>, u64);

/// Host tensor memory a custom optimizer's handles may hold: this many times the model's
/// parameters (room for several state and scratch copies), plus a fixed margin.
pub const TENSOR_BUDGET_FACTOR: u64 = 4;
/// The fixed margin of [`TENSOR_BUDGET_FACTOR`].
pub const TENSOR_BUDGET_MARGIN: u64 = 64 << 20;

/// The `step-context` resource: a marker; the step's data lives in [`HostState::step`].
pub struct StepHandle;

/// A guest's handle to a host tensor.
pub type Handle = Resource<TensorHandle>;

impl HostState {
    /// The tensor behind a handle. Every list operation looks its handles up here, so this
    /// is also where a long host call notices that its deadline passed (epoch interruption
    /// only reaches guest code).
    pub(crate) fn tensor(&self, h: &Handle) -> wasmtime::Result<&dyn TensorRef> {
        self.check_deadline()?;
        Ok(self.table.get(h)?.0.as_ref())
    }

    pub(crate) fn push_tensor(&mut self, t: Box<dyn TensorRef>) -> wasmtime::Result<Handle> {
        if self.handles >= MAX_HANDLES {
            wasmtime::bail!(
                "the plugin holds {MAX_HANDLES} tensor handles: it keeps handles it no longer needs"
            );
        }
        let bytes = t.size_bytes();
        if let Some(limit) = self.tensor_limit
            && self.tensor_bytes + bytes > limit
        {
            wasmtime::bail!(
                "the plugin's tensor handles would hold more than {} MiB ({TENSOR_BUDGET_FACTOR} x the model's parameters + {} MiB): it keeps copies it no longer needs",
                limit >> 20,
                TENSOR_BUDGET_MARGIN >> 20
            );
        }
        self.handles += 1;
        self.tensor_bytes += bytes;
        Ok(self.table.push(TensorHandle(t, bytes))?)
    }

    /// Forgets a handle the guest dropped (never the tensor behind it, which the engine may
    /// still hold).
    pub(crate) fn drop_tensor(&mut self, h: Handle) -> wasmtime::Result<()> {
        let TensorHandle(_, bytes) = self.table.delete(h)?;
        self.handles -= 1;
        self.tensor_bytes -= bytes;
        Ok(())
    }

    pub(crate) fn push_all(
        &mut self,
        ts: Vec<Box<dyn TensorRef>>,
    ) -> wasmtime::Result<Vec<Handle>> {
        ts.into_iter().map(|t| self.push_tensor(t)).collect()
    }

    /// Applies `op` to each `(t, x)` pair, checking that the lists have equal lengths.
    pub(crate) fn zip_op(
        &self,
        ts: &[Handle],
        xs: &[Handle],
        op: impl Fn(&dyn TensorRef, &dyn TensorRef) -> Result<(), weft_core::EngineError>,
    ) -> wasmtime::Result<Result<(), String>> {
        if ts.len() != xs.len() {
            return Ok(Err(format!(
                "lists of {} and {} tensors",
                ts.len(),
                xs.len()
            )));
        }
        for (t, x) in ts.iter().zip(xs) {
            if let Err(e) = op(self.tensor(t)?, self.tensor(x)?) {
                return Ok(Err(e.message));
            }
        }
        Ok(Ok(()))
    }

    pub(crate) fn zip3_op(
        &self,
        ts: &[Handle],
        a: &[Handle],
        b: &[Handle],
        op: impl Fn(
            &dyn TensorRef,
            &dyn TensorRef,
            &dyn TensorRef,
        ) -> Result<(), weft_core::EngineError>,
    ) -> wasmtime::Result<Result<(), String>> {
        if ts.len() != a.len() || ts.len() != b.len() {
            return Ok(Err(format!(
                "lists of {}, {} and {} tensors",
                ts.len(),
                a.len(),
                b.len()
            )));
        }
        for ((t, a), b) in ts.iter().zip(a).zip(b) {
            if let Err(e) = op(self.tensor(t)?, self.tensor(a)?, self.tensor(b)?) {
                return Ok(Err(e.message));
            }
        }
        Ok(Ok(()))
    }

    pub(crate) fn step_view(&mut self) -> wasmtime::Result<&mut dyn weft_core::plugin::StepView> {
        match self.step.as_deref_mut() {
            Some(v) => Ok(v),
            None => wasmtime::bail!("the step context was used outside `step`"),
        }
    }

    pub(crate) fn group(&mut self, group: u32) -> wasmtime::Result<usize> {
        let n = self.step_view()?.num_groups();
        if (group as usize) < n {
            Ok(group as usize)
        } else {
            wasmtime::bail!("group {group} does not exist (the optimizer has {n})")
        }
    }
}

/// Creates the instance's single step-context resource (borrowed by every `step` call).
pub fn step_resource(table: &mut ResourceTable) -> wasmtime::Result<Resource<StepHandle>> {
    Ok(table.push(StepHandle)?)
}
