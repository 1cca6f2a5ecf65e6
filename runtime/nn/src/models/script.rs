//! `model = { type = "TorchScript", path = "model.pt", input = "NCHW", num_classes = 10 }`:
//! a scripted or traced PyTorch module trained as a weft model. The module's own parameters
//! and buffers are the model's (under PyTorch's names, shared, so weft's optimizer steps the
//! module in place and checkpoints hold its batch-norm statistics), its module tree with each
//! module's class is what `paramwise_cfg` and the optimizer constructors see, train and eval
//! mode switch as MMCV switches them, and the trained module can be saved back
//! ([`Script::save`], `weft export`).
//!
//! Two kinds of module are trained. With `returns = "scores"` (the default), `forward(x)`
//! gives class scores `[N, num_classes]` and weft's loss (`model.loss`) applies. With
//! `returns = "losses"`, the module computes its own loss as MMAction2's recognizers do:
//! `forward(x, label)` gives a dict of tensors, and as in MMCV's `_parse_losses` the loss is
//! the sum of the entries whose name contains `loss` (each logged under its name), while
//! evaluation calls `test_method` (default `forward_test`) for the scores.
#![allow(
    unsafe_code,
    reason = "FFI into the C++ shim over libtorch's TorchScript module"
)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::Path;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::{Map, json};
use tch::{Device, TchError, Tensor};
use torch_sys::C_tensor;

use super::Network;
use crate::shim::check;
use crate::store::ParamStore;

#[repr(C)]
struct WeftScript {
    _private: [u8; 0],
}

type ModuleCb = extern "C" fn(*mut c_void, *const c_char, *const c_char, i64, i64);
type TensorCb = extern "C" fn(*mut c_void, *const c_char, *mut C_tensor, c_int);
type EntryCb = extern "C" fn(*mut c_void, *const c_char, *mut C_tensor);

unsafe extern "C" {
    fn weft_script_load(
        path: *const c_char,
        device_type: c_int,
        device_index: c_int,
        out: *mut *mut WeftScript,
    ) -> *mut c_char;
    fn weft_script_free(s: *mut WeftScript);
    fn weft_script_walk(
        s: *mut WeftScript,
        on_module: ModuleCb,
        on_tensor: TensorCb,
        ctx: *mut c_void,
    ) -> *mut c_char;
    fn weft_script_train(s: *mut WeftScript, on: c_int) -> *mut c_char;
    fn weft_script_save(s: *mut WeftScript, path: *const c_char) -> *mut c_char;
    fn weft_script_call(
        s: *mut WeftScript,
        method: *const c_char,
        inputs: *const *mut C_tensor,
        n: i64,
        out: *mut *mut C_tensor,
        on_entry: EntryCb,
        ctx: *mut c_void,
    ) -> *mut c_char;
}

/// The config of a TorchScript model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptArgs {
    /// The `.pt` file (`torch.jit.save` of a scripted or traced module).
    path: String,
    /// The layout the module takes: `NCHW` (images, 2D recognizers), `NCTHW` (clips, 3D
    /// recognizers), `NC`, or `any`.
    #[serde(default = "any")]
    input: String,
    /// Classes the scores must cover.
    num_classes: i64,
    /// `scores` (forward gives class scores) or `losses` (forward(x, label) gives a dict of
    /// losses; `test_method` gives scores).
    #[serde(default = "scores")]
    returns: String,
    /// The method that gives scores when `returns = "losses"`.
    #[serde(default = "forward_test")]
    test_method: String,
}

fn scores() -> String {
    "scores".into()
}

fn forward_test() -> String {
    "forward_test".into()
}

fn any() -> String {
    "any".into()
}

/// A loaded TorchScript module.
pub struct Script {
    raw: *mut WeftScript,
    /// The mode last set, so that each forward switches only when it changes.
    training: Mutex<Option<bool>>,
    rank: Option<usize>,
    num_classes: i64,
    /// The method that gives scores: `forward`, or `test_method` for a module of losses.
    scores_method: CString,
    /// Whether `forward(x, label)` gives the losses.
    losses: bool,
}

// SAFETY: the module is used from one thread at a time (the engine's), and the mutex on the
// mode serialises forward calls; libtorch modules may move between threads.
unsafe impl Send for Script {}

impl Drop for Script {
    fn drop(&mut self) {
        // SAFETY: `raw` came from weft_script_load and is freed once.
        unsafe { weft_script_free(self.raw) };
    }
}

struct Walk<'a> {
    store: &'a mut ParamStore,
    error: Option<String>,
}

extern "C" fn on_module(
    ctx: *mut c_void,
    path: *const c_char,
    kind: *const c_char,
    inc: i64,
    groups: i64,
) {
    // SAFETY: ctx is the `Walk` passed to weft_script_walk below; the strings live for the call.
    let walk = unsafe { &mut *(ctx as *mut Walk) };
    let (path, kind) = unsafe { (CStr::from_ptr(path), CStr::from_ptr(kind)) };
    let mut attrs = Map::new();
    if inc >= 0 {
        attrs.insert("in_channels".into(), json!(inc));
    }
    if groups >= 0 {
        attrs.insert("groups".into(), json!(groups));
    }
    walk.store
        .module(&path.to_string_lossy(), &kind.to_string_lossy(), attrs);
}

extern "C" fn on_tensor(
    ctx: *mut c_void,
    name: *const c_char,
    tensor: *mut C_tensor,
    buffer: c_int,
) {
    // SAFETY: as in `on_module`; `tensor` is a new handle the shim gives away.
    let walk = unsafe { &mut *(ctx as *mut Walk) };
    let name = unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    let tensor = unsafe { Tensor::from_ptr(tensor) };
    let (module, local) = name.rsplit_once('.').unwrap_or(("", &name));
    let Some(index) = walk.store.modules().iter().position(|m| m.path == module) else {
        walk.error = Some(format!("{name} belongs to no module of the walk"));
        return;
    };
    if buffer != 0 {
        walk.store.adopt_buffer(index, local, tensor);
    } else {
        walk.store.adopt_param(index, local, tensor);
    }
}

impl Script {
    /// Loads `args.path` onto the store's device and registers its modules, parameters and
    /// buffers in `store`.
    pub fn load(store: &mut ParamStore, args: &ScriptArgs) -> Result<Script, String> {
        let path = Path::new(&args.path);
        if !path.is_file() {
            return Err(format!("{} does not exist", args.path));
        }
        let rank = match args.input.as_str() {
            "NCHW" => Some(4),
            "NCTHW" => Some(5),
            "NC" => Some(2),
            "any" => None,
            other => {
                return Err(format!(
                    "input must be \"NCHW\", \"NCTHW\", \"NC\" or \"any\", not {other:?}"
                ));
            }
        };
        if args.num_classes < 1 {
            return Err("num_classes must be at least 1".into());
        }
        let (device_type, device_index) = match store.device() {
            Device::Cpu => (0, -1),
            Device::Cuda(i) => (1, i as c_int),
            other => {
                return Err(format!(
                    "TorchScript models run on the CPU or CUDA, not {other:?}"
                ));
            }
        };
        let c_path = CString::new(args.path.as_str()).map_err(|_| "a path with a NUL byte")?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: the path is NUL-terminated; `raw` receives an owned module or stays null.
        check(unsafe { weft_script_load(c_path.as_ptr(), device_type, device_index, &mut raw) })
            .map_err(|e| format!("{} is not a TorchScript module: {e}", args.path))?;
        let losses = match args.returns.as_str() {
            "scores" => false,
            "losses" => true,
            other => {
                return Err(format!(
                    "returns must be \"scores\" or \"losses\", not {other:?}"
                ));
            }
        };
        let method = if losses {
            args.test_method.as_str()
        } else {
            "forward"
        };
        let script = Script {
            raw,
            training: Mutex::new(None),
            rank,
            num_classes: args.num_classes,
            scores_method: CString::new(method).map_err(|_| "a method name with a NUL byte")?,
            losses,
        };
        let mut walk = Walk { store, error: None };
        // SAFETY: the callbacks match the shim's signatures; `walk` outlives the call.
        check(unsafe {
            weft_script_walk(
                script.raw,
                on_module,
                on_tensor,
                &mut walk as *mut Walk as *mut c_void,
            )
        })
        .map_err(|e| format!("{}: {e}", args.path))?;
        if let Some(e) = walk.error {
            return Err(format!("{}: {e}", args.path));
        }
        Ok(script)
    }

    fn set_mode(&self, train: bool) -> Result<(), TchError> {
        let mut mode = self.training.lock().unwrap_or_else(|p| p.into_inner());
        if *mode != Some(train) {
            // SAFETY: `raw` is a live module.
            check(unsafe { weft_script_train(self.raw, train as c_int) })?;
            *mode = Some(train);
        }
        Ok(())
    }

    /// Saves the module (with its current weights) as TorchScript.
    pub fn save(&self, path: &Path) -> Result<(), TchError> {
        let c_path = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| TchError::FileFormat("a path with a NUL byte".into()))?;
        // The module is saved as it is now; eval mode is what a user loads for inference.
        self.set_mode(false)?;
        // SAFETY: `raw` is a live module; the path is NUL-terminated.
        check(unsafe { weft_script_save(self.raw, c_path.as_ptr()) })
    }
}

/// Puts `checkpoint`'s weights and buffers (every name of the module, nothing else) into
/// `model`'s TorchScript module and saves it to `out` in eval mode (`weft export`).
pub fn export(model: &super::Model, checkpoint: &Path, out: &Path) -> Result<(), String> {
    let Some(script) = model.net.script() else {
        return Err(format!(
            "the config's model is {}: only a TorchScript model exports to TorchScript \
             (`weft convert` writes any checkpoint as a .pth)",
            model.kind
        ));
    };
    let shown = checkpoint.display();
    let mut loaded =
        crate::checkpoint::read(checkpoint).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut missing = Vec::new();
    for (name, t) in model.store.state_dict() {
        let Some(src) = loaded.tensors.remove(name) else {
            missing.push(name.to_string());
            continue;
        };
        if src.size() != t.size() {
            return Err(format!(
                "{shown}: {name} is {:?} there and {:?} in the module",
                src.size(),
                t.size()
            ));
        }
        let mut dst = t.shallow_clone();
        tch::no_grad(|| dst.f_copy_(&src)).map_err(|e| format!("{name}: {e}"))?;
    }
    let extra: Vec<&String> = loaded
        .tensors
        .keys()
        .filter(|k| !k.starts_with(crate::checkpoint::OPTIMIZER_PREFIX))
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(format!(
            "{shown} is not a checkpoint of this module: missing {missing:?}, not in the \
             module {extra:?}"
        ));
    }
    script
        .save(out)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// What a method call gave.
enum Called {
    Tensor(Tensor),
    Dict(Vec<(String, Tensor)>),
}

extern "C" fn on_entry(ctx: *mut c_void, key: *const c_char, tensor: *mut C_tensor) {
    // SAFETY: ctx is the vector passed by `Script::call`; `tensor` is a new handle given away.
    let entries = unsafe { &mut *(ctx as *mut Vec<(String, Tensor)>) };
    let key = unsafe { CStr::from_ptr(key) }
        .to_string_lossy()
        .into_owned();
    entries.push((key, unsafe { Tensor::from_ptr(tensor) }));
}

impl Script {
    fn call(&self, method: &CStr, inputs: &[&Tensor]) -> Result<Called, TchError> {
        let mut owned: Vec<Tensor> = inputs.iter().map(|t| t.shallow_clone()).collect();
        let ptrs: Vec<*mut C_tensor> = owned.iter_mut().map(Tensor::as_mut_ptr).collect();
        let mut out = std::ptr::null_mut();
        let mut entries: Vec<(String, Tensor)> = Vec::new();
        // SAFETY: `raw` is live; the inputs outlive the call; results are new handles.
        check(unsafe {
            weft_script_call(
                self.raw,
                method.as_ptr(),
                ptrs.as_ptr(),
                ptrs.len() as i64,
                &mut out,
                on_entry,
                &mut entries as *mut Vec<(String, Tensor)> as *mut c_void,
            )
        })?;
        if out.is_null() {
            Ok(Called::Dict(entries))
        } else {
            // SAFETY: a tensor result is a new handle.
            Ok(Called::Tensor(unsafe { Tensor::from_ptr(out) }))
        }
    }
}

impl Network for Script {
    fn script(&self) -> Option<&Script> {
        Some(self)
    }

    fn losses(
        &self,
        x: &Tensor,
        labels: &Tensor,
        train: bool,
    ) -> Option<Result<Vec<(String, Tensor)>, TchError>> {
        if !self.losses {
            return None;
        }
        let run = || {
            self.set_mode(train)?;
            match self.call(c"forward", &[x, labels])? {
                Called::Dict(entries) if !entries.is_empty() => Ok(entries),
                _ => Err(TchError::Shape(
                    "forward(x, label) must return a dict of losses (returns = \"losses\")".into(),
                )),
            }
        };
        Some(run())
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, TchError> {
        if let Some(rank) = self.rank
            && x.dim() != rank
        {
            return Err(TchError::Shape(format!(
                "the model takes {rank}-dimensional input (`input`), the data gives {:?}",
                x.size()
            )));
        }
        self.set_mode(train)?;
        let scores = match self.call(&self.scores_method, &[x])? {
            Called::Tensor(t) => t,
            Called::Dict(entries) => {
                return Err(TchError::Shape(format!(
                    "`{}` returned a dict ({}), not class scores: set returns = \"losses\" \
                     and test_method for a module that computes its loss",
                    self.scores_method.to_string_lossy(),
                    entries
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        let size = scores.size();
        if size.len() != 2 || size[0] != x.size()[0] || size[1] != self.num_classes {
            return Err(TchError::Shape(format!(
                "the module returned scores of shape {size:?} for {} samples; num_classes is {}",
                x.size()[0],
                self.num_classes
            )));
        }
        Ok(scores)
    }
}
