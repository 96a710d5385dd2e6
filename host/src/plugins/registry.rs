//! The plugin set in service, swapped whole when the plugin directory changes. A reconcile takes the
//! set once, at its start, and keeps it to its end: it never mixes two versions of a plugin, and a
//! swap never waits for it.

use super::PluginSet;
use std::sync::{Arc, RwLock};

pub struct Registry {
    current: RwLock<Arc<PluginSet>>,
}

impl Registry {
    pub fn new(set: PluginSet) -> Self {
        Registry { current: RwLock::new(Arc::new(set)) }
    }

    /// The set in service now.
    pub fn current(&self) -> Arc<PluginSet> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `set` in service; the previous one lives on until its last reconcile is done with it.
    pub fn swap(&self, set: PluginSet) -> Arc<PluginSet> {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *current, Arc::new(set))
    }
}
