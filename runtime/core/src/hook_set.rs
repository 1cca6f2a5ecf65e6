//! Hooks in priority order, registered as MMCV's `register_hook` does.

use crate::hook::Hook;
use crate::hook::builtin::{Role, Sealed};
use crate::priority::Priority;
use crate::stage::{Dispatch, Stage, StageSet};

/// Which built-in protocol a registered hook takes part in (see [`Hook::role`]), read once
/// at registration so that the loop does not ask at every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Plain,
    Logger,
    Optimizer,
    Eval,
}

/// One registered hook.
pub struct HookEntry {
    /// The hook.
    pub hook: Box<dyn Hook>,
    /// Its priority.
    pub priority: Priority,
    /// The points it declared when registered.
    pub points: StageSet,
    /// Which of its points serves each runner stage.
    pub dispatch: Dispatch,
    pub(crate) kind: Kind,
}

/// Hooks sorted by priority; equal priorities keep registration order.
#[derive(Default)]
pub struct HookSet {
    entries: Vec<HookEntry>,
}

impl HookSet {
    /// Inserts after the last hook whose priority is not greater (MMCV's scan from the end),
    /// so a later registration with an equal priority runs later.
    pub fn register(&mut self, mut hook: Box<dyn Hook>, priority: Priority) {
        let points = hook.points();
        let kind = match hook.role(Sealed(())) {
            Role::Plain => Kind::Plain,
            Role::Logger(_) => Kind::Logger,
            Role::Optimizer(_) => Kind::Optimizer,
            Role::Eval(_) => Kind::Eval,
        };
        let at = self
            .entries
            .iter()
            .rposition(|e| e.priority <= priority)
            .map_or(0, |i| i + 1);
        self.entries.insert(
            at,
            HookEntry {
                hook,
                priority,
                points,
                dispatch: Dispatch::of(points),
                kind,
            },
        );
    }

    /// The hooks, in order.
    pub fn entries(&self) -> &[HookEntry] {
        &self.entries
    }

    /// The hooks, mutably.
    pub fn entries_mut(&mut self) -> &mut [HookEntry] {
        &mut self.entries
    }

    /// Removes the hook at `index` (a disabled plugin).
    pub fn remove(&mut self, index: usize) -> HookEntry {
        self.entries.remove(index)
    }

    /// Number of hooks.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Names of the hooks that act on `stage`, in order.
    pub fn hooks_for(&self, stage: Stage) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.dispatch.get(stage).is_some())
            .map(|e| e.hook.name())
            .collect()
    }

    /// MMCV's `get_hook_info()` text: for each of the ten MMCV stages, the hooks that act on
    /// it as `(PRIORITY    ) Name`.
    pub fn hook_info(&self) -> String {
        let mut blocks = Vec::new();
        for stage in Stage::MMCV {
            let lines: Vec<String> = self
                .entries
                .iter()
                .filter(|e| e.dispatch.get(stage).is_some())
                .map(|e| format!("({:<12}) {:<35}", e.priority.to_string(), e.hook.name()))
                .collect();
            if !lines.is_empty() {
                blocks.push(format!(
                    "{}:\n{}\n -------------------- ",
                    stage.name(),
                    lines.join("\n")
                ));
            }
        }
        blocks.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str, StageSet);
    impl Hook for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn points(&self) -> StageSet {
            self.1
        }
    }

    #[test]
    fn equal_priorities_keep_registration_order() {
        let mut set = HookSet::default();
        for (name, p) in [
            ("a", Priority::NORMAL),
            ("b", Priority::HIGH),
            ("c", Priority::NORMAL),
            ("d", Priority::HIGHEST),
            ("e", Priority::LOWEST),
        ] {
            set.register(Box::new(Named(name, StageSet::all())), p);
        }
        let names: Vec<_> = set.entries().iter().map(|e| e.hook.name()).collect();
        assert_eq!(names, ["d", "b", "a", "c", "e"]);
    }

    #[test]
    fn hook_info_lists_generic_points_under_the_stages_they_serve() {
        let mut set = HookSet::default();
        let generic = StageSet::EMPTY.with(Stage::AfterIter);
        set.register(Box::new(Named("G", generic)), Priority::LOW);
        let info = set.hook_info();
        assert!(
            info.contains("after_train_iter:\n(LOW         ) G"),
            "{info}"
        );
        assert!(info.contains("after_val_iter:\n(LOW         ) G"), "{info}");
        assert!(!info.contains("before_train_iter"), "{info}");
        assert_eq!(set.hooks_for(Stage::AfterIter), Vec::<&str>::new());
    }
}
