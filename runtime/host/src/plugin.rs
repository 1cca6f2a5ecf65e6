//! A plugin file, loaded and linked once: its facts, its limits, and the pre-linked instance
//! that every config entry of its type is created from (each in a store of its own).

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::Linker;
use wasmtime::{Store, Trap};
use weft_core::RunLog;

use crate::budget::{MESSAGE_MAX, clip};
use crate::component::{Loaded, World};
use crate::limits::{Limits, OnError};
use crate::sandbox::{self, Capabilities};
use crate::state::HostState;
use crate::trace::Trace;
use crate::watchdog::{self, CallGuard};
use crate::wit::{ConstructorPre, HookPre, OptimizerPre};

/// What a plugin is, for logs, checkpoints and `weft plugin inspect`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PluginInfo {
    /// The type name it provides.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The file, as the config names it.
    pub path: String,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The world (`hook`, `optimizer-constructor`, `custom-optimizer`).
    pub world: String,
    /// The `weft:plugin` version it was built against.
    pub version: String,
    /// What it imports.
    pub imports: Vec<String>,
}

/// The world-specific pre-linked instance, at the version the component was built against.
pub(crate) enum Linked {
    Hook(Box<HookPre>),
    Constructor(ConstructorPre),
    Optimizer(OptimizerPre),
}

/// A loaded, linked plugin file.
pub struct Plugin {
    /// Its facts.
    pub info: PluginInfo,
    /// Its world.
    pub world: World,
    /// Limits of every call.
    pub limits: Limits,
    /// What a failure does.
    pub on_error: OnError,
    /// What it may touch.
    pub caps: Capabilities,
    /// Its trace file (`trace`), if any.
    pub(crate) trace: Option<Arc<Trace>>,
    pub(crate) log: RunLog,
    pub(crate) linked: Linked,
    pub(crate) engine: wasmtime::Engine,
}

impl Plugin {
    /// Links a loaded component for its world and asks it for its type name.
    pub fn link(
        loaded: Loaded,
        limits: Limits,
        on_error: OnError,
        caps: Capabilities,
        log: RunLog,
    ) -> Result<Plugin, String> {
        let shown = loaded.path.display().to_string();
        let unlinkable = |e: wasmtime::Error| {
            format!(
                "plugin {shown}: it needs imports this weft does not provide: {} (a plugin may \
                 import only WASI 0.2 and the `weft:plugin` interfaces of its world)",
                crate::component::root_message(&e)
            )
        };
        let mut linker: Linker<HostState> =
            sandbox::linker(&loaded.engine).map_err(|e| e.to_string())?;
        // The served version whose module links it (checked when the file was read).
        let version = crate::component::check_version(&loaded.version)?;
        let linked = match loaded.world {
            World::Hook => Linked::Hook(Box::new(
                HookPre::link(version, &mut linker, &loaded.component).map_err(unlinkable)?,
            )),
            World::OptimizerConstructor => Linked::Constructor(
                ConstructorPre::link(version, &mut linker, &loaded.component)
                    .map_err(unlinkable)?,
            ),
            World::CustomOptimizer => Linked::Optimizer(
                OptimizerPre::link(version, &mut linker, &loaded.component).map_err(unlinkable)?,
            ),
        };
        let mut plugin = Plugin {
            info: PluginInfo {
                type_name: String::new(),
                path: shown,
                sha256: loaded.sha256,
                size: loaded.size,
                world: loaded.world.wit_name().to_string(),
                version: loaded.version,
                imports: loaded.imports,
            },
            world: loaded.world,
            limits,
            on_error,
            caps,
            trace: None,
            log,
            linked,
            engine: loaded.engine.clone(),
        };
        plugin.info.type_name = plugin.ask_type_name()?;
        Ok(plugin)
    }

    /// A fresh store for one instance.
    pub(crate) fn store(&self) -> Result<Store<HostState>, String> {
        let name: Arc<str> = if self.info.type_name.is_empty() {
            Arc::from(self.info.path.as_str())
        } else {
            Arc::from(self.info.type_name.as_str())
        };
        sandbox::store(
            &self.engine,
            name,
            self.log.clone(),
            &self.limits,
            &self.caps,
            self.trace.clone(),
        )
        .map_err(|e| self.fault("creating its sandbox", &e, ""))
    }

    /// A fresh store and, in it, an instance made by `make` (one of the world's pre-linked
    /// `instantiate` calls), under the per-call limits; a failure names the plugin.
    pub(crate) fn instantiate<T>(
        &self,
        make: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<(Store<HostState>, T), String> {
        let mut store = self.store()?;
        let _call = self.arm(&mut store)?;
        let instance = make(&mut store)
            .map_err(|e| self.fault("instantiation", &e, &store.data_mut().flush_output()))?;
        Ok((store, instance))
    }

    /// Arms the per-call limits and budgets; the call lasts as long as the guard (which the
    /// watchdog needs to know: see `watchdog.rs`).
    pub(crate) fn arm(&self, store: &mut Store<HostState>) -> Result<CallGuard, String> {
        // One span in ticks for the guest's epoch deadline, the host calls' and the watchdog's
        // (no clock read per call).
        let ticks = sandbox::deadline_ticks(&self.limits);
        sandbox::arm(store, &self.limits, ticks).map_err(|e| e.to_string())?;
        let deadline = watchdog::deadline_tick(ticks);
        store
            .data_mut()
            .begin_call(deadline, self.limits.call_timeout_ms);
        Ok(watchdog::begin(deadline))
    }

    fn ask_type_name(&self) -> Result<String, String> {
        let mut store = self.store()?;
        let _call = self.arm(&mut store)?;
        let result = match &self.linked {
            Linked::Hook(pre) => pre
                .instantiate(&mut store)
                .and_then(|b| b.type_name(&mut store)),
            Linked::Constructor(pre) => pre
                .instantiate(&mut store)
                .and_then(|b| b.type_name(&mut store)),
            Linked::Optimizer(pre) => pre
                .instantiate(&mut store)
                .and_then(|b| b.type_name(&mut store)),
        };
        let stderr = store.data_mut().flush_output();
        let name = result.map_err(|e| self.fault("type-name", &e, &stderr))?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "plugin {}: type name {name:?} must be a non-empty identifier (letters, digits, `_`)",
                self.info.path
            ));
        }
        Ok(name)
    }

    /// A message for a failed call: the plugin, its file, what happened (in words, with the
    /// limit that stopped it) and the guest's stderr.
    pub(crate) fn fault(&self, during: &str, e: &wasmtime::Error, stderr: &str) -> String {
        if let Some(crate::requests::Failed(message)) = e.downcast_ref() {
            return self.failure(during, message, stderr);
        }
        let mut what = describe(e, &self.limits);
        if matches!(e.downcast_ref::<Trap>(), Some(Trap::UnreachableCodeReached)) {
            what += &trap_hint(Path::new(&self.info.path));
        }
        self.failure(during, &what, stderr)
    }

    /// Like [`Plugin::fault`], for an error the guest returned or a rejected request.
    pub(crate) fn failure(&self, during: &str, what: &str, stderr: &str) -> String {
        let name = if self.info.type_name.is_empty() {
            "?"
        } else {
            self.info.type_name.as_str()
        };
        // A plugin's text is escaped and bounded: it cannot forge lines or flood the log.
        let mut msg = format!(
            "plugin {name} ({}) failed in {during}: {}",
            self.info.path,
            clip(what, MESSAGE_MAX)
        );
        let stderr = stderr.trim_end();
        if !stderr.is_empty() {
            // The end of stderr holds the panic message or traceback.
            let tail: String = {
                let lines: Vec<&str> = stderr.lines().collect();
                let start = lines.len().saturating_sub(20);
                lines[start..]
                    .iter()
                    .map(|l| clip(l, 512))
                    .collect::<Vec<_>>()
                    .join("\n    ")
            };
            msg += &format!("\n  guest stderr:\n    {tail}");
        }
        msg
    }
}

/// What to do about a trap in a component built by an interpreter-embedding toolchain, where
/// the usual cause is an error the plugin let escape (those toolchains trap on it). The file
/// is read again only on this rare path, so loading stays as fast as it is.
fn trap_hint(path: &Path) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let has = |marker: &[u8]| bytes.windows(marker.len()).any(|w| w == marker);
    if has(b"StarlingMonkey") {
        " (a JavaScript plugin built with componentize-js traps when a throw leaves an export \
         that cannot return it: any throw from a hook point since weft:plugin 0.3.0, a throw \
         of anything but a string elsewhere; build it on guest-sdk/js/weft-plugin.js, whose \
         exportHook turns every throw into an error message)"
            .into()
    } else if has(b"componentize-py") {
        " (a Python plugin built with componentize-py traps when an exception leaves an export \
         that cannot return it: any exception from a hook point since weft:plugin 0.3.0, one \
         that is not componentize_py_types.Err elsewhere; build it on \
         guest-sdk/python/weft_plugin.py, whose export_hook turns every exception into an \
         error message with its traceback)"
            .into()
    } else {
        String::new()
    }
}

/// What stopped a call, in words.
pub fn describe(e: &wasmtime::Error, limits: &Limits) -> String {
    let root = crate::component::root_message(e);
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => format!(
            "stopped at its deadline of {} ms per call (limits.call_timeout_ms)",
            limits.call_timeout_ms
        ),
        Some(Trap::OutOfFuel) => format!(
            "ran out of fuel ({} units per call, limits.fuel)",
            limits.fuel.unwrap_or_default()
        ),
        Some(Trap::StackOverflow) => "stack overflow (unbounded recursion?)".into(),
        Some(Trap::MemoryOutOfBounds) => "out-of-bounds memory access (a wild pointer, or a stack \
             overflow in the guest's own linear-memory stack)"
            .into(),
        Some(Trap::UnreachableCodeReached) => {
            "the guest panicked or aborted (wasm trap: unreachable)".into()
        }
        Some(Trap::CannotEnterComponent) => {
            "the instance is unusable after an earlier failure".into()
        }
        Some(other) => format!("wasm trap: {other}"),
        None if root.contains("growing memory") || root.contains("memory minimum size") => format!(
            "exceeded its memory limit of {} MiB (limits.memory_mb): {root}",
            limits.memory_mb
        ),
        None => root,
    }
}
