//! The fused SGD, Adam and AdamW kernels of libtorch (what `torch.optim` runs with
//! `fused=True`), called through `csrc/fused.cpp`: one call per group instead of several
//! tensor operations per parameter.
#![allow(
    unsafe_code,
    reason = "FFI into the C++ shim over libtorch's fused kernels"
)]

use std::ffi::{c_char, c_int};

use tch::{Device, Kind, TchError, Tensor};
use torch_sys::C_tensor;

use crate::shim::check;

unsafe extern "C" {
    fn weft_fused_sgd(
        params: *const *mut C_tensor,
        grads: *const *mut C_tensor,
        bufs: *const *mut C_tensor,
        n: i64,
        weight_decay: f64,
        momentum: f64,
        lr: f64,
        dampening: f64,
        nesterov: c_int,
        maximize: c_int,
        first_step: c_int,
    ) -> *mut c_char;
    fn weft_run_program(
        program: *const weft_core::plugin::Instr,
        len: i64,
        operands: *const *mut C_tensor,
        slots: i64,
        n: i64,
    ) -> *mut c_char;
    fn weft_fused_adam(
        params: *const *mut C_tensor,
        grads: *const *mut C_tensor,
        exp_avgs: *const *mut C_tensor,
        exp_avg_sqs: *const *mut C_tensor,
        max_exp_avg_sqs: *const *mut C_tensor,
        steps: *const *mut C_tensor,
        n: i64,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        amsgrad: c_int,
        maximize: c_int,
        decoupled: c_int,
    ) -> *mut c_char;
}

/// Pointers to tensors, kept alive by the handles in `owned`.
struct Ptrs {
    owned: Vec<Tensor>,
    ptrs: Vec<*mut C_tensor>,
}

impl Ptrs {
    fn new(tensors: &[Tensor]) -> Ptrs {
        let mut owned: Vec<Tensor> = tensors.iter().map(Tensor::shallow_clone).collect();
        let ptrs = owned.iter_mut().map(Tensor::as_mut_ptr).collect();
        Ptrs { owned, ptrs }
    }

    fn as_ptr(&self) -> *const *mut C_tensor {
        debug_assert_eq!(self.owned.len(), self.ptrs.len());
        self.ptrs.as_ptr()
    }
}

/// Whether the fused kernels accept these tensors: one device, one floating dtype.
pub fn supported(tensors: &[&Tensor]) -> bool {
    let Some(first) = tensors.first() else {
        return false;
    };
    let (device, kind) = (first.device(), first.kind());
    matches!(
        kind,
        Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
    ) && matches!(device, Device::Cpu | Device::Cuda(_))
        && tensors
            .iter()
            .all(|t| t.device() == device && t.kind() == kind)
}

/// SGD hyperparameters for one fused call.
pub struct Sgd {
    /// Weight decay.
    pub weight_decay: f64,
    /// Momentum.
    pub momentum: f64,
    /// Learning rate.
    pub lr: f64,
    /// Dampening.
    pub dampening: f64,
    /// Nesterov.
    pub nesterov: bool,
    /// Maximize.
    pub maximize: bool,
}

/// `torch._fused_sgd_`; `first_step` means the buffers are fresh (they take the gradient).
pub fn sgd(
    params: &[Tensor],
    grads: &[Tensor],
    bufs: &[Tensor],
    h: &Sgd,
    first_step: bool,
) -> Result<(), TchError> {
    let (p, g, b) = (Ptrs::new(params), Ptrs::new(grads), Ptrs::new(bufs));
    // SAFETY: every pointer refers to a live tensor held by the Ptrs above for the call.
    check(unsafe {
        weft_fused_sgd(
            p.as_ptr(),
            g.as_ptr(),
            b.as_ptr(),
            params.len() as i64,
            h.weight_decay,
            h.momentum,
            h.lr,
            h.dampening,
            h.nesterov.into(),
            h.maximize.into(),
            first_step.into(),
        )
    })
}

/// Adam hyperparameters for one fused call.
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    /// `betas`.
    pub betas: (f64, f64),
    /// Weight decay.
    pub weight_decay: f64,
    /// Epsilon.
    pub eps: f64,
    /// AMSGrad.
    pub amsgrad: bool,
    /// Maximize.
    pub maximize: bool,
    /// AdamW's decoupled weight decay.
    pub decoupled: bool,
}

/// Buffers of the parameters of one fused Adam call.
pub struct AdamState<'a> {
    /// First moments.
    pub exp_avgs: &'a [Tensor],
    /// Second moments.
    pub exp_avg_sqs: &'a [Tensor],
    /// Maxima of second moments (AMSGrad; empty otherwise).
    pub max_exp_avg_sqs: &'a [Tensor],
    /// Step counts after this step, one scalar tensor per parameter.
    pub steps: &'a [Tensor],
}

/// `torch._fused_adam_` / `torch._fused_adamw_`.
pub fn adam(
    params: &[Tensor],
    grads: &[Tensor],
    s: &AdamState<'_>,
    h: &Adam,
) -> Result<(), TchError> {
    let (p, g) = (Ptrs::new(params), Ptrs::new(grads));
    let (m, v, vmax, steps) = (
        Ptrs::new(s.exp_avgs),
        Ptrs::new(s.exp_avg_sqs),
        Ptrs::new(s.max_exp_avg_sqs),
        Ptrs::new(s.steps),
    );
    // SAFETY: every pointer refers to a live tensor held by the Ptrs above for the call.
    check(unsafe {
        weft_fused_adam(
            p.as_ptr(),
            g.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            vmax.as_ptr(),
            steps.as_ptr(),
            params.len() as i64,
            h.lr,
            h.betas.0,
            h.betas.1,
            h.weight_decay,
            h.eps,
            h.amsgrad.into(),
            h.maximize.into(),
            h.decoupled.into(),
        )
    })
}

/// Runs a checked elementwise program (`weft_core::plugin::check_program`) over operand
/// lists of equal length, in one pass per tensor index (`csrc/program.cpp`).
pub fn run_program(
    program: &[weft_core::plugin::Instr],
    operands: &[Vec<Tensor>],
) -> Result<(), TchError> {
    let n = operands.first().map_or(0, Vec::len);
    if operands.iter().any(|o| o.len() != n) {
        return Err(TchError::Torch("operand lists of different lengths".into()));
    }
    let flat: Vec<Tensor> = operands
        .iter()
        .flatten()
        .map(Tensor::shallow_clone)
        .collect();
    let ptrs = Ptrs::new(&flat);
    // SAFETY: the program was checked (indices in range); every pointer refers to a live
    // tensor held by `ptrs` for the call; the evaluator only touches those tensors.
    check(unsafe {
        weft_run_program(
            program.as_ptr(),
            program.len() as i64,
            ptrs.as_ptr(),
            operands.len() as i64,
            n as i64,
        )
    })
}
