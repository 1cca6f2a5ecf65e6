//! The versions of the `weft:plugin` WIT package this host serves, one module each (as Zed's
//! extension host keeps `since_v0_1_0`, `since_v0_2_0`, ...): a component is linked through
//! the module of the version it was built against, so adding a version never touches the
//! code that serves the older ones. [`latest`] is the version new plugins are built against
//! (`weft plugin wit` writes it). The enums below are the one place that lists the versions:
//! the rest of the host drives a plugin through them without naming a version.

/// What every version module holds: the bindings of the three worlds of its WIT folder (named
/// once, in the invocation, with the host types its hook world's resources map to), the
/// package's files, and the `log` import of the two worlds that
/// declare it. Every import is trappable: a host function that cannot honour a call (an
/// unknown handle, an exhausted budget) traps the guest rather than make up a value.
macro_rules! wit_version {
    (
        bindgen: $bindgen:literal,
        files: $dir:literal,
        hook_with: { $($hook_with:tt)* },
        [$($file:literal),* $(,)?]
    ) => {
        /// The package's files, as `weft plugin wit` writes them.
        pub const FILES: &[(&str, &str)] = &[$(($file, include_str!(concat!($dir, $file)))),*];

        /// The `hook` world.
        pub mod hook_world {
            wasmtime::component::bindgen!({
                path: $bindgen,
                world: "hook",
                with: { $($hook_with)* },
                imports: { default: trappable },
            });
        }

        /// The `optimizer-constructor` world.
        pub mod constructor_world {
            wasmtime::component::bindgen!({
                path: $bindgen,
                world: "optimizer-constructor",
                with: { "weft:plugin/types": super::hook_world::weft::plugin::types },
                imports: { default: trappable },
            });
        }

        /// The `custom-optimizer` world.
        pub mod optimizer_world {
            wasmtime::component::bindgen!({
                path: $bindgen,
                world: "custom-optimizer",
                with: {
                    "weft:plugin/types": super::hook_world::weft::plugin::types,
                    "weft:plugin/tensors.tensor": crate::tensors::TensorHandle,
                    "weft:plugin/steps.step-context": crate::tensors::StepHandle,
                },
                imports: { default: trappable },
            });
        }

        pub use hook_world::weft;
        pub use hook_world::weft::plugin::types::{HookPoint, LogLevel, ModuleInfo, ParamInfo};

        impl constructor_world::OptimizerConstructorImports for crate::state::HostState {
            fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
                let (level, debug) = level_of(level);
                self.log_line(level, debug, &message);
                Ok(())
            }
        }

        impl optimizer_world::CustomOptimizerImports for crate::state::HostState {
            fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
                let (level, debug) = level_of(level);
                self.log_line(level, debug, &message);
                Ok(())
            }
        }
    };
}

#[macro_use]
mod runner;

pub mod since_v0_1_0;
pub mod since_v0_2_0;
pub mod since_v0_3_0;

pub use since_v0_1_0 as latest;

use wasmtime::Store;
use wasmtime::component::{InstancePre, Resource};
use weft_core::Stage;
use weft_core::paramwise::{GroupSpec, ModelTable};

use crate::state::{HostState, RunState};
use crate::tensors::StepHandle;

/// The versions a component may be built against, oldest first.
pub const SUPPORTED: &[&str] = &[
    since_v0_1_0::VERSION,
    since_v0_2_0::VERSION,
    since_v0_3_0::VERSION,
];

/// The WIT files of a served version.
pub fn files(version: &str) -> Option<&'static [(&'static str, &'static str)]> {
    match version {
        since_v0_1_0::VERSION => Some(since_v0_1_0::FILES),
        since_v0_2_0::VERSION => Some(since_v0_2_0::FILES),
        since_v0_3_0::VERSION => Some(since_v0_3_0::FILES),
        _ => None,
    }
}

/// Runs `$body` with `$b` bound to the bindings of whichever version `$value` holds and `$v`
/// naming that version's module.
macro_rules! each_version {
    ($value:expr, $v:ident, $b:ident => $body:expr) => {
        match $value {
            Self::V0_1($b) => {
                use since_v0_1_0 as $v;
                $body
            }
            Self::V0_2($b) => {
                use since_v0_2_0 as $v;
                $body
            }
            Self::V0_3($b) => {
                use since_v0_3_0 as $v;
                $body
            }
        }
    };
}

/// Defines a pre-linked world and its instance over every served version.
macro_rules! versioned_world {
    ($pre:ident, $instance:ident, $module:ident, $world:ident, $world_pre:ident) => {
        /// The pre-linked component of a world, at the version it was built against.
        pub enum $pre {
            /// `weft:plugin@0.1.x`.
            V0_1(since_v0_1_0::$module::$world_pre<HostState>),
            /// `weft:plugin@0.2.x`.
            V0_2(since_v0_2_0::$module::$world_pre<HostState>),
            /// `weft:plugin@0.3.x`.
            V0_3(since_v0_3_0::$module::$world_pre<HostState>),
        }

        /// An instance of a world, at the version it was built against.
        pub enum $instance {
            /// `weft:plugin@0.1.x`.
            V0_1(since_v0_1_0::$module::$world),
            /// `weft:plugin@0.2.x`.
            V0_2(since_v0_2_0::$module::$world),
            /// `weft:plugin@0.3.x`.
            V0_3(since_v0_3_0::$module::$world),
        }

        impl $pre {
            /// Links `pre` (a component instantiable in a linker holding WASI) for `version`,
            /// adding the version's imports to `linker` first.
            pub fn link(
                version: &str,
                linker: &mut wasmtime::component::Linker<HostState>,
                component: &wasmtime::component::Component,
            ) -> wasmtime::Result<$pre> {
                use wasmtime::component::HasSelf;
                Ok(match version {
                    since_v0_3_0::VERSION => {
                        since_v0_3_0::$module::$world::add_to_linker::<
                            HostState,
                            HasSelf<HostState>,
                        >(linker, |s| s)?;
                        let pre: InstancePre<HostState> = linker.instantiate_pre(component)?;
                        $pre::V0_3(since_v0_3_0::$module::$world_pre::new(pre)?)
                    }
                    since_v0_2_0::VERSION => {
                        since_v0_2_0::$module::$world::add_to_linker::<
                            HostState,
                            HasSelf<HostState>,
                        >(linker, |s| s)?;
                        let pre: InstancePre<HostState> = linker.instantiate_pre(component)?;
                        $pre::V0_2(since_v0_2_0::$module::$world_pre::new(pre)?)
                    }
                    _ => {
                        since_v0_1_0::$module::$world::add_to_linker::<
                            HostState,
                            HasSelf<HostState>,
                        >(linker, |s| s)?;
                        let pre: InstancePre<HostState> = linker.instantiate_pre(component)?;
                        $pre::V0_1(since_v0_1_0::$module::$world_pre::new(pre)?)
                    }
                })
            }

            /// A new instance in `store`.
            pub fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<$instance> {
                Ok(match self {
                    $pre::V0_1(p) => $instance::V0_1(p.instantiate(store)?),
                    $pre::V0_2(p) => $instance::V0_2(p.instantiate(store)?),
                    $pre::V0_3(p) => $instance::V0_3(p.instantiate(store)?),
                })
            }
        }
    };
}

versioned_world!(HookPre, HookInstance, hook_world, Hook, HookPre);
versioned_world!(
    ConstructorPre,
    ConstructorInstance,
    constructor_world,
    OptimizerConstructor,
    OptimizerConstructorPre
);
versioned_world!(
    OptimizerPre,
    OptimizerInstance,
    optimizer_world,
    CustomOptimizer,
    CustomOptimizerPre
);

type Outcome<T> = wasmtime::Result<Result<T, String>>;

impl HookInstance {
    /// `type-name`.
    pub fn type_name(&self, store: &mut Store<HostState>) -> wasmtime::Result<String> {
        each_version!(self, v, b => v::exports::hook_type_name(b, store))
    }

    /// `init`: the stages the hook implements.
    pub fn init(&self, store: &mut Store<HostState>, config: &str) -> Outcome<Vec<Stage>> {
        each_version!(self, v, b => v::exports::hook_init(b, store, config))
    }

    /// The hook's function for `stage` (lent `s` up to 0.2; from 0.3 the hook reads the call's
    /// state through `runner`'s functions).
    pub fn call(
        &self,
        store: &mut Store<HostState>,
        stage: Stage,
        s: Resource<RunState>,
    ) -> Outcome<()> {
        each_version!(self, v, b => v::hook_call::hook_call(b, store, stage, s))
    }

    /// `save-state`.
    pub fn save_state(&self, store: &mut Store<HostState>) -> Outcome<Option<String>> {
        each_version!(self, v, b => v::exports::hook_save_state(b, store))
    }

    /// `load-state`.
    pub fn load_state(&self, store: &mut Store<HostState>, text: &str) -> Outcome<()> {
        each_version!(self, v, b => v::exports::hook_load_state(b, store, text))
    }
}

impl ConstructorInstance {
    /// `type-name`.
    pub fn type_name(&self, store: &mut Store<HostState>) -> wasmtime::Result<String> {
        each_version!(self, v, b => v::exports::constructor_type_name(b, store))
    }

    /// `build` over the model's table.
    pub fn build(
        &self,
        store: &mut Store<HostState>,
        optimizer: &str,
        table: &ModelTable,
    ) -> Outcome<Vec<GroupSpec>> {
        each_version!(self, v, b => v::exports::constructor_build(b, store, optimizer, table))
    }
}

impl OptimizerInstance {
    /// `type-name`.
    pub fn type_name(&self, store: &mut Store<HostState>) -> wasmtime::Result<String> {
        each_version!(self, v, b => v::exports::optimizer_type_name(b, store))
    }

    /// `init`: the optimizer's defaults.
    pub fn init(&self, store: &mut Store<HostState>, config: &str) -> Outcome<Vec<(String, f64)>> {
        each_version!(self, v, b => v::exports::optimizer_init(b, store, config))
    }

    /// `step`.
    pub fn step(&self, store: &mut Store<HostState>, step: Resource<StepHandle>) -> Outcome<()> {
        each_version!(self, v, b => v::exports::optimizer_step(b, store, step))
    }
}
