//! Hooks in priority order, registered as MMCV's `register_hook` does.

use crate::hook::Hook;
use crate::priority::Priority;
use crate::stage::{Stage, StageSet};

/// One registered hook.
pub struct HookEntry {
    /// The hook.
    pub hook: Box<dyn Hook>,
    /// Its priority.
    pub priority: Priority,
    /// The stages it declared when registered.
    pub stages: StageSet,
}

/// Hooks sorted by priority; equal priorities keep registration order.
#[derive(Default)]
pub struct HookSet {
    entries: Vec<HookEntry>,
}

impl HookSet {
    /// Inserts after the last hook whose priority is not greater (MMCV's scan from the end),
    /// so a later registration with an equal priority runs later.
    pub fn register(&mut self, hook: Box<dyn Hook>, priority: Priority) {
        let stages = hook.stages();
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
                stages,
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
            .filter(|e| e.stages.contains(stage))
            .map(|e| e.hook.name())
            .collect()
    }

    /// MMCV's `get_hook_info()` text: for each of the ten MMCV stages, the hooks that act on
    /// it as `(PRIORITY    ) Name`.
    pub fn hook_info(&self) -> String {
        let mut blocks = Vec::new();
        for stage in &Stage::ALL[..10] {
            let lines: Vec<String> = self
                .entries
                .iter()
                .filter(|e| e.stages.contains(*stage))
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

    struct Named(&'static str);
    impl Hook for Named {
        fn name(&self) -> &str {
            self.0
        }
    }

    #[test]
    fn equal_priorities_keep_registration_order() {
        let mut set = HookSet::default();
        set.register(Box::new(Named("a")), Priority::NORMAL);
        set.register(Box::new(Named("b")), Priority::HIGH);
        set.register(Box::new(Named("c")), Priority::NORMAL);
        set.register(Box::new(Named("d")), Priority::HIGHEST);
        set.register(Box::new(Named("e")), Priority::LOWEST);
        let names: Vec<_> = set.entries().iter().map(|e| e.hook.name()).collect();
        assert_eq!(names, ["d", "b", "a", "c", "e"]);
    }
}
