//! The cluster's ZooKeeper tree `/ecs/<name>`. After an apply, the operator marks its root as the
//! cluster's (in the background: ZooKeeper being slow or away never holds up a reconcile); on
//! deletion, it removes the trees the plugins declare only if the root carries that mark, so that
//! a cluster of the same name elsewhere (another namespace, another tenant pointing at this
//! ZooKeeper) never loses its metadata to this one's deletion. See `crate::zookeeper::ownership`.

use super::Context;
use super::SKIP_ZOOKEEPER_CLEANUP;
use super::reconcile::{ReconcileError, cleanup_condition, cluster_id, publish, render};
use crate::crd::ECSCluster;
use crate::pipeline::Directives;
use crate::zookeeper::{self, Claimant, Cleaned, Ownership};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// How long one ZooKeeper connection attempt or request may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// A mark that could not be written (ZooKeeper unreachable) is tried again after this long.
const RETRY: Duration = Duration::from_secs(60);

/// Which clusters' trees are settled (marked as theirs, or known to be another's), per UID: each
/// is tried once per operator process, and again only if it failed or its ZooKeeper changed.
#[derive(Default)]
pub struct Marks(Mutex<HashMap<String, Mark>>);

struct Mark {
    address: String,
    settled: bool,
    tried: Instant,
}

impl Marks {
    /// Whether to try marking now; if so, records the attempt.
    fn due(&self, uid: &str, address: &str) -> bool {
        let mut marks = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let due = marks.get(uid).is_none_or(|m| m.address != address || (!m.settled && m.tried.elapsed() >= RETRY));
        if due {
            marks.insert(uid.to_string(), Mark { address: address.to_string(), settled: false, tried: Instant::now() });
        }
        due
    }

    fn settle(&self, uid: &str) {
        if let Some(m) = self.0.lock().unwrap_or_else(|p| p.into_inner()).get_mut(uid) {
            m.settled = true;
        }
    }

    pub fn forget(&self, uid: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(uid);
    }
}

/// The root every tree a cluster's plugins may declare lies in (the output policy's `cleanup` rule).
fn root(cr: &ECSCluster) -> String {
    ecs_plugin_sdk::zookeeper_cluster_tree(&cr.name_any())
}

/// Watched clusters of the same name on the same ZooKeeper, in other namespaces: they use the same
/// tree.
fn twins(ctx: &Context, cr: &ECSCluster) -> Vec<String> {
    let mut twins: Vec<String> = ctx
        .clusters
        .state()
        .iter()
        .filter(|c| c.name_any() == cr.name_any() && c.namespace() != cr.namespace())
        .filter(|c| c.spec.zookeeper_uri == cr.spec.zookeeper_uri && c.meta().deletion_timestamp.is_none())
        .map(|c| format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any()))
        .collect();
    twins.sort();
    twins
}

/// The cluster as a claimant of its tree: it may adopt an unmarked root made after it was created,
/// unless a twin it can see could have made it.
fn claimant(ctx: &Context, cr: &ECSCluster) -> Claimant {
    let created = cr.meta().creation_timestamp.as_ref().map(|t| t.0.as_millisecond());
    Claimant {
        uid: cr.uid().unwrap_or_default(),
        cluster: format!("{}/{}", cr.namespace().unwrap_or_default(), cr.name_any()),
        adopt_from_ms: created.filter(|_| twins(ctx, cr).is_empty()),
    }
}

/// Marks the cluster's tree as its own, once, in the background. A tree that is another's gets a
/// Warning Event: the two clusters would share their metadata, and deleting this one leaves it.
pub fn mark_in_background(ctx: &Arc<Context>, cr: &Arc<ECSCluster>) {
    let address = cr.spec.zookeeper_uri.clone();
    let who = claimant(ctx, cr);
    if who.uid.is_empty() || !ctx.zookeeper_marks.due(&who.uid, &address) {
        return;
    }
    let (ctx, cr) = (ctx.clone(), cr.clone());
    let span = tracing::info_span!("mark_zookeeper_tree", cluster = %cr.name_any(), namespace = %cr.namespace().unwrap_or_default());
    tokio::spawn(
        async move {
            let root = root(&cr);
            match zookeeper::claim(&address, &root, &who, TIMEOUT).await {
                Ok(Ownership::Ours) => {
                    ctx.zookeeper_marks.settle(&who.uid);
                    tracing::info!(%root, %address, "marked the cluster's ZooKeeper tree as its own");
                }
                // Deleted between the create and the read: try again later.
                Ok(Ownership::Absent) => {}
                Ok(other) => {
                    ctx.zookeeper_marks.settle(&who.uid);
                    let note = format!(
                        "{root} on {address} {other}: this cluster would share it with another cluster, and deleting \
                         this cluster will leave it in place; give the cluster another name or ZooKeeper (or chroot)"
                    );
                    tracing::warn!(%note, "the cluster's ZooKeeper tree is not its own");
                    publish(&ctx, &cr, EventType::Warning, "ZooKeeperTreeNotOwned", note).await;
                }
                Err(e) => tracing::debug!(error = %e, "could not mark the cluster's ZooKeeper tree; trying later"),
            }
        }
        .instrument(span),
    );
}

/// Removes the ZooKeeper trees the plugins declare for this cluster (rendered again: plugins are
/// pure, and the policy keeps every path inside `/ecs/<cluster>`), if the tree is the cluster's.
/// `Ok(false)`: left in place on purpose (another cluster's, or shared), with a Warning Event.
pub async fn clean(cr: &ECSCluster, ctx: &Context) -> Result<bool, ReconcileError> {
    let root = root(cr);
    let address = cr.spec.zookeeper_uri.clone();
    let twins = twins(ctx, cr);
    if !twins.is_empty() {
        let note = format!(
            "left {root} on {address} in place, and the bookies' claims: cluster {} of the same name uses it",
            twins.join(", ")
        );
        publish(ctx, cr, EventType::Warning, "ZooKeeperTreeShared", note).await;
        return Ok(false);
    }
    let id = cluster_id(cr);
    let observed = ctx.stores.observed(&id);
    let versions = ecs_plugin_sdk::Versions::targets(&cr.spec);
    let (rendered, _) = render(ctx, &ctx.plugins.current(), cr, observed, Directives::of(&versions)).await?;
    let trees: Vec<String> = match rendered {
        Ok(r) => r.cleanup.into_iter().map(|ecs_plugin_sdk::Cleanup::ZookeeperTree(p)| p).collect(),
        // A spec edited into something the plugins refuse still had a tree: the cluster's own.
        Err(e) => {
            tracing::warn!(error = %e, "the plugins cannot render the deleted cluster; removing its whole tree");
            vec![root.clone()]
        }
    };
    if trees.is_empty() {
        return Ok(true);
    }
    match zookeeper::remove_if_ours(&address, &root, &claimant(ctx, cr), &trees, TIMEOUT).await {
        Ok(Cleaned::Removed(removed)) => {
            let summary: Vec<String> = removed.trees.iter().map(|(p, n)| format!("{p} ({n} znodes)")).collect();
            tracing::info!(trees = ?summary, "removed the cluster's ZooKeeper trees");
            let note = format!("removed the cluster's ZooKeeper tree from {address}: {}", summary.join(", "));
            publish(ctx, cr, EventType::Normal, "ZooKeeperCleaned", note).await;
            Ok(true)
        }
        Ok(Cleaned::NotOurs(ownership)) => {
            let note = format!(
                "left {root} on {address} in place, and the bookies' claims: it {ownership}; remove it by hand \
                 once no cluster uses it"
            );
            tracing::warn!(%note, "the deleted cluster's ZooKeeper tree is not its own");
            publish(ctx, cr, EventType::Warning, "ZooKeeperTreeNotOwned", note).await;
            Ok(false)
        }
        Err(e) => {
            let message = format!("could not remove {}: {e}", trees.join(", "));
            tracing::warn!(%message, "cleanup of a deleted cluster failed; retrying");
            cleanup_condition(ctx, cr, "ZooKeeperUnreachable", message.clone()).await?;
            let hint = format!("{message}; retrying (set the annotation {SKIP_ZOOKEEPER_CLEANUP}: \"true\" to skip)");
            publish(ctx, cr, EventType::Warning, "ZooKeeperCleanupFailed", hint).await;
            Err(ReconcileError::Cleanup(message))
        }
    }
}
