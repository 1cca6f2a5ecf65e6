//! Hooks: the [`Hook`] trait, the run state and the requests a hook can make.

use std::cell::RefCell;

// Hooks are built against `weft:plugin@0.3.0`: its hook exports take and return nothing (the
// cheapest call there is), the run state is read through free functions valid during a call,
// and a failure goes out through `runner.fail`. Constructors and optimizers stay on 0.1.0,
// which later versions left unchanged for them.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.3.0",
        world: "hook",
        default_bindings_module: "weft_guest::hook::bindings",
        // The plugin crate exports (through `register_hook!`), so that a build with
        // several of this crate's features on still yields a component of one world.
        pub_export_macro: true,
        export_macro_name: "export_hook_world",
    });
}

use bindings::weft::plugin::runner;
pub use bindings::weft::plugin::runner::{
    log, log_scalar, request_checkpoint, request_eval, request_stop, scale_grads, set_lr,
    set_momentum, skip_step,
};
pub use bindings::weft::plugin::types::{HookPoint, LogLevel, ParamStat, Phase};

/// The runner's state during one hook call: what a hook method is lent, valid until it
/// returns (the values are those at the moment the runner called the hook, MMCV's counters
/// at that stage). Only the SDK makes one, so a read can only happen during a call.
pub struct RunState {
    _during_a_call: (),
}

impl RunState {
    /// The hook point being called.
    pub fn point(&self) -> HookPoint {
        runner::point()
    }
    /// `Train`, `Val`, or `None` before the first phase.
    pub fn mode(&self) -> Phase {
        runner::mode()
    }
    /// 0-based epoch (MMCV's `runner.epoch`).
    pub fn epoch(&self) -> u64 {
        runner::epoch()
    }
    /// 0-based global train iteration (MMCV's `runner.iter`).
    pub fn iter(&self) -> u64 {
        runner::iter()
    }
    /// 0-based iteration inside the epoch or workflow phase.
    pub fn inner_iter(&self) -> u64 {
        runner::inner_iter()
    }
    /// Epochs to train (epoch-based runner), else `None`.
    pub fn max_epochs(&self) -> Option<u64> {
        runner::max_epochs()
    }
    /// Iterations to train.
    pub fn max_iters(&self) -> u64 {
        runner::max_iters()
    }
    /// Batches per epoch of the current phase's loader.
    pub fn data_loader_len(&self) -> u64 {
        runner::data_loader_len()
    }
    /// Number of optimizer parameter groups.
    pub fn num_groups(&self) -> u32 {
        runner::num_groups()
    }
    /// Learning rate of every group.
    pub fn lr(&self) -> Vec<f64> {
        runner::lr()
    }
    /// Momentum (or Adam's `betas[0]`; 0 without either) of every group.
    pub fn momentum(&self) -> Vec<f64> {
        runner::momentum()
    }
    /// A scalar output of the last train or val step (`loss`, `top1_acc`); waits for the
    /// device.
    pub fn output(&self, name: &str) -> Option<f64> {
        runner::output(name)
    }
    /// Every scalar output of the last step, in order.
    pub fn outputs(&self) -> Vec<(String, f64)> {
        runner::outputs()
    }
    /// A metric of the latest evaluation (`top1_acc`, `mean_class_accuracy`).
    pub fn metric(&self, name: &str) -> Option<f64> {
        runner::metric(name)
    }
    /// Every metric of the latest evaluation.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        runner::metrics()
    }
    /// The joint norm of all gradients (`norm_type` 2, 1, or infinity); only at
    /// `after_backward`, else `None`. Waits for the device.
    pub fn grad_norm(&self, norm_type: f64) -> Option<f64> {
        runner::grad_norm(norm_type)
    }
    /// Gradient statistics per parameter; only at `after_backward`, else empty.
    pub fn param_stats(&self) -> Vec<ParamStat> {
        runner::param_stats()
    }
}

/// This process's rank in a data-parallel run, 0 to `world_size() - 1` (0 in a run of one
/// process). Every rank runs its own instance of the hook; rank 0 writes the run's files.
pub fn rank() -> u32 {
    bindings::weft::plugin::ranks::rank()
}

/// The number of ranks (1 in a run of one process).
pub fn world_size() -> u32 {
    bindings::weft::plugin::ranks::world_size()
}

/// The rank among this machine's ranks (which GPU it trains on).
pub fn local_rank() -> u32 {
    bindings::weft::plugin::ranks::local_rank()
}

/// Logs at INFO under the plugin's name.
pub fn info(message: &str) {
    log(LogLevel::Info, message);
}

/// Logs at WARNING.
pub fn warn(message: &str) {
    log(LogLevel::Warning, message);
}

// @generated all-points: from wit/ by `make sdk-tables`; do not edit
/// Every hook point, in the order the WIT lists them.
pub const ALL_POINTS: [HookPoint; 15] = [
    HookPoint::BeforeRun,
    HookPoint::AfterRun,
    HookPoint::BeforeTrainEpoch,
    HookPoint::AfterTrainEpoch,
    HookPoint::BeforeValEpoch,
    HookPoint::AfterValEpoch,
    HookPoint::BeforeTrainIter,
    HookPoint::AfterTrainIter,
    HookPoint::BeforeValIter,
    HookPoint::AfterValIter,
    HookPoint::BeforeEpoch,
    HookPoint::AfterEpoch,
    HookPoint::AfterBackward,
    HookPoint::BeforeIter,
    HookPoint::AfterIter,
];
// @end all-points

/// A training hook, shaped like MMCV's: one method per hook point, each a no-op by default.
///
/// [`Hook::points`] lists the points the hook implements, specific ones (`after_train_iter`)
/// or MMCV's generic ones (`before_epoch`, `after_epoch`, `before_iter`, `after_iter`). weft
/// calls only those, and applies MMCV's fallback itself: a hook that lists `after_iter` but
/// not `after_train_iter` gets `after_iter` calls after every train and val iteration
/// ([`RunState::point`] says which). The methods never call each other.
pub trait Hook: Sized + 'static {
    /// The `type` configs use in `custom_hooks`.
    const TYPE_NAME: &'static str;

    /// Builds the hook from its config table (without `type` and `priority`); see
    /// [`crate::config`] for typed configs.
    fn new(config: serde_json::Value) -> Result<Self, String>;

    /// The points the host should call: those whose methods this hook implements. (Rust
    /// cannot see which methods a type overrides, so the list is written out.)
    fn points(&self) -> Vec<HookPoint>;

    // @generated hook-methods: from wit/ by `make sdk-tables`; do not edit
    /// Once, before anything else.
    fn before_run(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// Once, at the end (also after an early stop).
    fn after_run(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// Before a train epoch (epoch-based runner).
    fn before_train_epoch(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// After a train epoch (epoch-based runner).
    fn after_train_epoch(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// Before a val epoch (epoch-based runner).
    fn before_val_epoch(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// After a val epoch (epoch-based runner).
    fn after_val_epoch(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// Before a train iteration.
    fn before_train_iter(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// After a train iteration's forward pass (the optimizer steps here, at priority 40).
    fn after_train_iter(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// Before a val iteration.
    fn before_val_iter(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// After a val iteration.
    fn after_val_iter(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// Once after `before-run` in the iteration-based runner (as in MMCV); else the
    /// fallback of `before-train-epoch` and `before-val-epoch`.
    fn before_epoch(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// Once before `after-run` in the iteration-based runner; else the fallback of
    /// `after-train-epoch` and `after-val-epoch`.
    fn after_epoch(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// Gradients are ready; clipping and the optimizer step have not happened yet.
    fn after_backward(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// MMCV's generic iteration point: called before train and val iterations alike for a
    /// hook that does not list `before-train-iter` or `before-val-iter` itself.
    fn before_iter(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    /// The generic fallback of `after-train-iter` and `after-val-iter`.
    fn after_iter(&mut self, _s: &RunState) -> Result<(), String> {
        Ok(())
    }
    // @end hook-methods
    /// State to keep in checkpoints (any text; JSON is usual).
    fn save_state(&self) -> Result<Option<String>, String> {
        Ok(None)
    }
    /// Restores [`Hook::save_state`]'s result when a run resumes.
    fn load_state(&mut self, _state: &str) -> Result<(), String> {
        Ok(())
    }
}

/// The object-safe part of [`Hook`] the exported functions dispatch to.
#[doc(hidden)]
pub trait DynHook {
    fn call(&mut self, point: HookPoint, s: &RunState) -> Result<(), String>;
    fn points(&self) -> Vec<HookPoint>;
    fn save_state(&self) -> Result<Option<String>, String>;
    fn load_state(&mut self, state: &str) -> Result<(), String>;
}

impl<H: Hook> DynHook for H {
    fn call(&mut self, point: HookPoint, s: &RunState) -> Result<(), String> {
        match point {
            // @generated dispatch: from wit/ by `make sdk-tables`; do not edit
            HookPoint::BeforeRun => self.before_run(s),
            HookPoint::AfterRun => self.after_run(s),
            HookPoint::BeforeTrainEpoch => self.before_train_epoch(s),
            HookPoint::AfterTrainEpoch => self.after_train_epoch(s),
            HookPoint::BeforeValEpoch => self.before_val_epoch(s),
            HookPoint::AfterValEpoch => self.after_val_epoch(s),
            HookPoint::BeforeTrainIter => self.before_train_iter(s),
            HookPoint::AfterTrainIter => self.after_train_iter(s),
            HookPoint::BeforeValIter => self.before_val_iter(s),
            HookPoint::AfterValIter => self.after_val_iter(s),
            HookPoint::BeforeEpoch => self.before_epoch(s),
            HookPoint::AfterEpoch => self.after_epoch(s),
            HookPoint::AfterBackward => self.after_backward(s),
            HookPoint::BeforeIter => self.before_iter(s),
            HookPoint::AfterIter => self.after_iter(s),
            // @end dispatch
        }
    }
    fn points(&self) -> Vec<HookPoint> {
        Hook::points(self)
    }
    fn save_state(&self) -> Result<Option<String>, String> {
        Hook::save_state(self)
    }
    fn load_state(&mut self, state: &str) -> Result<(), String> {
        Hook::load_state(self, state)
    }
}

/// What `register_hook!` provides: the type name and a constructor.
#[doc(hidden)]
pub struct Registration {
    pub type_name: &'static str,
    pub new: fn(serde_json::Value) -> Result<Box<dyn DynHook>, String>,
}

unsafe extern "Rust" {
    // Defined by `register_hook!` in the plugin crate.
    safe fn __weft_guest_hook_registration() -> Registration;
}

thread_local! {
    static HOOK: RefCell<Option<Box<dyn DynHook>>> = const { RefCell::new(None) };
}

#[doc(hidden)]
pub struct Component;

fn with_hook<T>(f: impl FnOnce(&mut dyn DynHook) -> Result<T, String>) -> Result<T, String> {
    HOOK.with(|h| match h.borrow_mut().as_deref_mut() {
        Some(hook) => f(hook),
        None => Err("the hook was called before init".into()),
    })
}

/// Calls the hook's method for `point`; an error ends the call through `runner.fail`, which
/// does not return.
fn call(point: HookPoint) {
    let state = RunState { _during_a_call: () };
    if let Err(message) = with_hook(|h| h.call(point, &state)) {
        runner::fail(&message);
        unreachable!("runner.fail returned");
    }
}

macro_rules! points {
    ($($fn:ident => $point:ident),* $(,)?) => {
        $(fn $fn() {
            call(HookPoint::$point)
        })*
    };
}

impl bindings::exports::weft::plugin::hooks::Guest for Component {
    fn type_name() -> String {
        __weft_guest_hook_registration().type_name.to_string()
    }

    fn init(config_json: String) -> Result<Vec<HookPoint>, String> {
        let config: serde_json::Value =
            serde_json::from_str(&config_json).map_err(|e| format!("bad config JSON: {e}"))?;
        let hook = (__weft_guest_hook_registration().new)(config)?;
        let points = hook.points();
        HOOK.with(|h| *h.borrow_mut() = Some(hook));
        Ok(points)
    }

    points! {
        // @generated exports: from wit/ by `make sdk-tables`; do not edit
        before_run => BeforeRun,
        after_run => AfterRun,
        before_train_epoch => BeforeTrainEpoch,
        after_train_epoch => AfterTrainEpoch,
        before_val_epoch => BeforeValEpoch,
        after_val_epoch => AfterValEpoch,
        before_train_iter => BeforeTrainIter,
        after_train_iter => AfterTrainIter,
        before_val_iter => BeforeValIter,
        after_val_iter => AfterValIter,
        before_epoch => BeforeEpoch,
        after_epoch => AfterEpoch,
        after_backward => AfterBackward,
        before_iter => BeforeIter,
        after_iter => AfterIter,
        // @end exports
    }

    fn save_state() -> Result<Option<String>, String> {
        with_hook(|h| h.save_state())
    }

    fn load_state(state: String) -> Result<(), String> {
        with_hook(|h| h.load_state(&state))
    }
}

/// Exports a [`Hook`] type as the component's hook.
#[macro_export]
macro_rules! register_hook {
    ($t:ty) => {
        #[unsafe(no_mangle)]
        fn __weft_guest_hook_registration() -> $crate::hook::Registration {
            $crate::hook::Registration {
                type_name: <$t as $crate::hook::Hook>::TYPE_NAME,
                new: |config| {
                    <$t as $crate::hook::Hook>::new(config).map(|h| Box::new(h) as Box<dyn $crate::hook::DynHook>)
                },
            }
        }
        use $crate::hook::Component as __WeftHookComponent;
        $crate::hook::bindings::export_hook_world!(__WeftHookComponent with_types_in $crate::hook::bindings);
    };
}
pub use register_hook;
