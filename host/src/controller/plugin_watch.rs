//! Plugin files swapped in while the operator runs. Every few seconds the plugin directory (and the
//! pinning manifest) is looked at again on the blocking pool: new and changed files are compiled
//! and checked there, off the reconciles, and the new set is swapped in whole. Reconciles already
//! running finish with the set they started with; the clusters that use a changed plugin are
//! reconciled again. A file that fails to load leaves the version it replaced in service, and says
//! why: a log line, the `plugin_load_failures` metric, and a Warning Event on the clusters it
//! concerns.

use super::Context;
use super::reconcile::publish;
use crate::crd::ECSCluster;
use crate::plugins::{FileFailure, PluginSet, RECONCILERS};
use futures::channel::mpsc::UnboundedSender;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub struct PluginWatch {
    ctx: Arc<Context>,
    reconcile: UnboundedSender<ObjectRef<ECSCluster>>,
    /// Failures found before the caches could say whom they concern: reported once they can.
    pending: Vec<FileFailure>,
    /// What the last look failed on: a manifest or directory that stays unreadable fails every
    /// look, and is reported once, not every few seconds.
    last_failures: BTreeSet<(PathBuf, String)>,
}

/// The metric label of a plugin file: its name within the plugin directory.
pub fn file_label(file: &Path) -> String {
    file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| file.display().to_string())
}

impl PluginWatch {
    pub fn new(
        ctx: Arc<Context>,
        reconcile: UnboundedSender<ObjectRef<ECSCluster>>,
        pending: Vec<FileFailure>,
    ) -> Self {
        PluginWatch { ctx, reconcile, pending, last_failures: BTreeSet::new() }
    }

    pub async fn run(mut self, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if !self.pending.is_empty() && self.ctx.health.is_ready() {
                let current = self.ctx.plugins.current();
                for failure in std::mem::take(&mut self.pending) {
                    self.report_failure(&current, &failure).await;
                }
            }
            let current = self.ctx.plugins.current();
            let reload = match tokio::task::spawn_blocking(move || current.reload()).await {
                Ok(reload) => reload,
                Err(e) => {
                    tracing::error!(error = %e, "looking at the plugin directory failed");
                    continue;
                }
            };
            if let Some(set) = reload.set {
                self.swap(set, &reload.changed).await;
            }
            let current = self.ctx.plugins.current();
            let seen = std::mem::replace(
                &mut self.last_failures,
                reload.failures.iter().map(|f| (f.file.clone(), f.error.clone())).collect(),
            );
            for failure in reload.failures {
                if seen.contains(&(failure.file.clone(), failure.error.clone())) {
                    continue;
                }
                self.ctx.metrics.plugin_load_failed(&file_label(&failure.file));
                if self.ctx.health.is_ready() {
                    self.report_failure(&current, &failure).await;
                } else {
                    self.pending.push(failure);
                }
            }
        }
    }

    async fn swap(&self, set: PluginSet, changed: &BTreeSet<String>) {
        let described: Vec<String> = changed
            .iter()
            .map(|name| match set.get(name) {
                Some(p) => format!("{name} {} (sha256 {}, {})", p.info.version, short(&p.sha256), p.source),
                None => format!("{name} (removed)"),
            })
            .collect();
        // The previous set lives on in the reconciles that started with it.
        drop(self.ctx.plugins.swap(set));
        if changed.is_empty() {
            // Only what is known of the files changed (e.g. a version that failed to load).
            return;
        }
        self.ctx.metrics.plugins_reloaded();
        tracing::info!(changed = %described.join("; "), "plugins swapped in");
        for cr in self.concerned(changed) {
            if self.ctx.is_leader() {
                let note = format!("plugins in service now: {}", described.join("; "));
                publish(&self.ctx, &cr, EventType::Normal, "PluginsReloaded", note).await;
            }
            let _ = self.reconcile.unbounded_send(ObjectRef::from(&*cr));
        }
    }

    async fn report_failure(&self, current: &PluginSet, failure: &FileFailure) {
        let kept = match &failure.kept {
            Some(name) => format!("; {name} stays in service as loaded before"),
            None => String::new(),
        };
        tracing::warn!(file = %failure.file.display(), error = %failure.error, "{}", kept.trim_start_matches("; "));
        if !self.ctx.is_leader() {
            return;
        }
        // Whom it concerns: the clusters of the plugin the file provided, and those waiting for a
        // Tier-2 plugin that is not loaded (the file may have been meant to provide it).
        let mut names: BTreeSet<String> = failure.kept.iter().cloned().collect();
        for cr in self.ctx.clusters.state() {
            for selection in cr.spec.ecs.tier2.selections() {
                if current.get(&selection.plugin).is_none() {
                    names.insert(selection.plugin);
                }
            }
        }
        let note = format!("plugin file {} not loaded: {}{kept}", failure.file.display(), failure.error);
        for cr in self.concerned(&names) {
            publish(&self.ctx, &cr, EventType::Warning, "PluginLoadFailed", note.clone()).await;
        }
    }

    /// The clusters that use any of `names`: every cluster for a reconciler, else those whose Tier-2
    /// selection names it.
    fn concerned(&self, names: &BTreeSet<String>) -> Vec<Arc<ECSCluster>> {
        let all = names.iter().any(|n| RECONCILERS.contains(&n.as_str()));
        self.ctx
            .clusters
            .state()
            .into_iter()
            .filter(|cr| all || cr.spec.ecs.tier2.selections().iter().any(|s| names.contains(&s.plugin)))
            .collect()
    }
}

fn short(sha256: &str) -> &str {
    &sha256[..sha256.len().min(12)]
}
