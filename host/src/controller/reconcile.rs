//! One reconcile of one ECSCluster: caches -> plugins -> apply/prune -> status -> Events.

use super::apply::{self, ApplyError, SyncError, Writes};
use super::ownership::ClusterId;
use super::status::{self, Outcome};
use super::{Context, FINALIZER, LEGACY_FINALIZER, SKIP_ZOOKEEPER_CLEANUP, zookeeper_tree};
use crate::crd::ECSCluster;
use crate::pipeline::{self, Directives, RenderError, Rendered, load};
use crate::plugins::PluginSet;
use crate::{rollout, scaledown};
use ecs_plugin_sdk::spec::ScaleDownStatus;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Why a reconcile must be retried (with backoff).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Api(#[from] ApplyError),
    #[error("{0}")]
    Plugin(String),
    #[error("the render task failed: {0}")]
    Join(String),
    #[error("{0}")]
    Ownership(String),
    /// A deleted cluster's cleanup could not finish (ZooKeeper unreachable, plugins failing).
    #[error("{0}")]
    Cleanup(String),
}

/// Even with nothing to do, look again this often (cache reads only; no API request).
const RESYNC: Duration = Duration::from_secs(600);

pub async fn reconcile(cr: Arc<ECSCluster>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let span =
        tracing::info_span!("reconcile", cluster = %cr.name_any(), namespace = %cr.namespace().unwrap_or_default());
    async move {
        let started = Instant::now();
        let clusters = ctx.clusters.state();
        ctx.metrics.clusters.set(clusters.len() as i64);
        let not_ready = clusters.iter().filter(|c| !status::is_ready(c.status.as_ref())).count();
        ctx.metrics.clusters_not_ready.set(not_ready as i64);
        if !ctx.is_leader() {
            ctx.metrics.reconciled("standby", started.elapsed());
            return Ok(Action::await_change());
        }
        if !ctx.health.is_ready() {
            ctx.metrics.reconciled("caches_syncing", started.elapsed());
            return Ok(Action::requeue(Duration::from_millis(100)));
        }
        let result =
            if cr.meta().deletion_timestamp.is_some() { finalize(&cr, &ctx).await } else { sync(&cr, &ctx).await };
        let label = match &result {
            Ok((label, _)) => *label,
            Err(ReconcileError::Api(_)) => "api_error",
            Err(ReconcileError::Ownership(_)) => "ownership_conflict",
            Err(ReconcileError::Cleanup(_)) => "cleanup_failed",
            Err(_) => "plugin_fault",
        };
        ctx.metrics.reconciled(label, started.elapsed());
        tracing::debug!(result = label, elapsed_us = started.elapsed().as_micros() as u64, "reconciled");
        if result.is_ok() {
            ctx.forget_failures(&cr);
        }
        if matches!(label, "applied" | "unchanged") {
            zookeeper_tree::mark_in_background(&ctx, &cr);
        }
        result.map(|(_, action)| action)
    }
    .instrument(span)
    .await
}

/// Backoff after a failure: 1 s, 2 s, 4 s ... up to 5 minutes, per cluster; a deleted cluster's
/// cleanup retries at least every 30 s, so that it finishes soon after ZooKeeper is back.
pub fn error_policy(cr: Arc<ECSCluster>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    let failures = ctx.count_failure(&cr);
    let cap = if matches!(error, ReconcileError::Cleanup(_)) { 30 } else { 300 };
    let delay = Duration::from_secs(1u64 << failures.min(9)).min(Duration::from_secs(cap));
    tracing::warn!(cluster = %cr.name_any(), namespace = %cr.namespace().unwrap_or_default(), %error, retry_in_s = delay.as_secs(), "reconcile failed");
    Action::requeue(delay)
}

/// The cluster's identity, which ties its objects to it.
pub fn cluster_id(cr: &ECSCluster) -> ClusterId {
    ClusterId { name: cr.name_any(), namespace: cr.namespace().unwrap_or_default(), uid: cr.uid().unwrap_or_default() }
}

/// The other clusters of the cluster's namespace: the names they own are not this one's to take.
fn siblings(ctx: &Context, cr: &ECSCluster) -> Vec<String> {
    let namespace = cr.namespace();
    let mut names: Vec<String> = ctx
        .clusters
        .state()
        .iter()
        .filter(|c| c.namespace() == namespace && c.name_any() != cr.name_any())
        .map(|c| c.name_any())
        .collect();
    names.sort();
    names
}

/// Renders the cluster from `observed` (its managed objects and pods, read once from the caches)
/// and hands `observed` back for the apply decisions.
pub(super) async fn render(
    ctx: &Context,
    plugins: &Arc<PluginSet>,
    cr: &ECSCluster,
    observed: Vec<Value>,
    directives: Directives,
) -> Result<(Result<Rendered, RenderError>, Vec<Value>), ReconcileError> {
    let cluster = load::plugin_cluster(cr);
    let plugins = plugins.clone();
    let siblings = siblings(ctx, cr);
    // Plugin calls are synchronous wasm execution (bounded by their deadline): off the async workers.
    tokio::task::spawn_blocking(move || {
        (pipeline::render_among(&plugins, &cluster, &observed, &directives, &siblings), observed)
    })
    .await
    .map_err(|e| ReconcileError::Join(e.to_string()))
}

async fn sync(cr: &ECSCluster, ctx: &Context) -> Result<(&'static str, Action), ReconcileError> {
    let id = cluster_id(cr);
    let generation = cr.meta().generation.unwrap_or(0);
    let now = k8s_openapi::jiff::Timestamp::now().round(k8s_openapi::jiff::Unit::Second).unwrap_or_default();
    let observed = ctx.stores.observed(&id);
    // Where version changes stand decides the versions each component is rendered with.
    // One plugin set for the whole reconcile: a plugin swapped in meanwhile serves the next one.
    let plugins = ctx.plugins.current();
    let views = rollout::view::components(&observed, plugins.reconciler_components());
    let step = rollout::advance(cr.status.as_ref(), &cr.spec, &views, now);
    // Where a bookie scale-down stands decides how many bookies run, and which one is retired.
    let bookies = scaledown::Bookies::read(&id.name, &observed, &ctx.stores.claims(&id));
    let scale_ctx = scaledown::Context {
        spec: &cr.spec,
        upgrading: step.upgrade.as_ref().is_some_and(|u| u.phase.in_progress()),
        now: &now.to_string(),
    };
    let previous_scale = scale_down_record(ctx, cr, &bookies).await?;
    let scale = scaledown::advance(previous_scale.as_ref(), &bookies, &scale_ctx);
    let directives = Directives { versions: step.versions.clone(), bookie_scale_down: scale.directive };
    let (rendered, observed) = render(ctx, &plugins, cr, observed, directives).await?;
    let mut failure = None;
    let mut writes = Writes::default();
    let outcome = match &rendered {
        Ok(rendered) => {
            // Pods are observed, never applied or pruned.
            let live: Vec<Value> = observed.into_iter().filter(|o| o["kind"] != "Pod").collect();
            let result = async {
                // Before anything exists that the cleanup would have to remove.
                if !cr.finalizers().iter().any(|f| f == FINALIZER) {
                    add_finalizer(ctx, cr).await.map_err(SyncError::Api)?;
                }
                apply::sync(&ctx.client, &ctx.metrics, &id, rendered.objects.clone(), &live).await
            }
            .await;
            match result {
                Ok(w) => {
                    writes = w;
                    let day2 = async {
                        restart_next(ctx, &plugins, cr, &step, &views, rendered).await?;
                        delete_claims(ctx, cr, &scale).await
                    };
                    match day2.await {
                        Ok(()) => Outcome::Applied(rendered, &step, &scale),
                        Err(e) => {
                            let message = e.to_string();
                            failure = Some(ReconcileError::Api(e));
                            Outcome::ApplyFailed(message)
                        }
                    }
                }
                Err(SyncError::Api(e)) => {
                    let message = e.to_string();
                    failure = Some(ReconcileError::Api(e));
                    Outcome::ApplyFailed(message)
                }
                Err(e @ SyncError::Ownership(_)) => {
                    let message = e.to_string();
                    failure = Some(ReconcileError::Ownership(message.clone()));
                    Outcome::OwnershipConflict(message)
                }
            }
        }
        Err(RenderError::Invalid(errors)) => Outcome::Invalid(errors),
        Err(RenderError::Plugin(e)) => {
            ctx.metrics.plugin_fault(&e.plugin, e.fault.kind());
            failure = Some(ReconcileError::Plugin(e.to_string()));
            Outcome::PluginFault(e.to_string())
        }
        Err(RenderError::Policy(v)) => {
            ctx.metrics.plugin_fault(&v.plugin, "policy_violation");
            failure = Some(ReconcileError::Plugin(v.to_string()));
            Outcome::PolicyViolation(v.to_string())
        }
    };
    // A write that lost a race with another writer (409 Conflict, e.g. on the finalizers) is not
    // a failure: the cluster changed under this reconcile, which runs again on what is current.
    if let Some(ReconcileError::Api(e)) = &failure
        && is_conflict(e)
    {
        tracing::debug!(error = %e, "conflict; reconciling again");
        return Ok(("conflict", Action::requeue(Duration::from_millis(200))));
    }
    let mut new_status = status::compute(cr.status.as_ref(), generation, &outcome, &now.to_string());
    if !matches!(outcome, Outcome::Applied(..)) {
        // Nothing moved: the scale-down stands where it was last written (the cache may lag).
        new_status.scale_down = previous_scale;
    }
    publish_writes(ctx, cr, &writes, rendered.as_ref().ok()).await;
    if matches!(outcome, Outcome::Applied(..)) {
        for e in step.events.iter().chain(&scale.events) {
            let type_ = if e.warning { EventType::Warning } else { EventType::Normal };
            publish(ctx, cr, type_, e.reason, e.message.clone()).await;
        }
    }
    // Mid-upgrade every restarted pod flips Ready; its PodRestarted Event already says so.
    let upgrading = step.upgrade.as_ref().is_some_and(|u| u.phase.in_progress());
    for c in status::transitions(cr.status.as_ref(), &new_status) {
        let (type_, wanted) = match c.type_.as_str() {
            status::READY if c.status == "True" => (EventType::Normal, !upgrading),
            status::SPEC_VALID if c.status == "False" => (EventType::Warning, true),
            // An invalid spec already has its SpecValid event.
            status::DEGRADED if c.status == "True" && c.reason.as_deref() != Some("InvalidSpec") => {
                (EventType::Warning, true)
            }
            _ => (EventType::Normal, false),
        };
        if wanted {
            let reason = c.reason.clone().unwrap_or_else(|| c.type_.clone());
            publish(ctx, cr, type_, &reason, c.message.clone().unwrap_or_default()).await;
        }
    }
    apply::status(&ctx.client, &ctx.metrics, cr, &new_status).await?;
    match failure {
        Some(e) => Err(e),
        None if matches!(outcome, Outcome::Invalid(_)) => Ok(("invalid", Action::await_change())),
        None => {
            // A ready timeout fires even if no pod changes.
            let next = [step.recheck_after, scale.recheck_after].into_iter().flatten().fold(RESYNC, Duration::min);
            Ok((if writes.is_empty() { "unchanged" } else { "applied" }, Action::requeue(next)))
        }
    }
}

/// Deletes the one pod the rollout says is next (its workload recreates it on the new template),
/// with an Event saying why.
async fn restart_next(
    ctx: &Context,
    plugins: &PluginSet,
    cr: &ECSCluster,
    step: &rollout::Step,
    views: &std::collections::BTreeMap<String, rollout::ComponentView>,
    rendered: &Rendered,
) -> Result<(), ApplyError> {
    let desired = rollout::desired_hashes(&rendered.objects, plugins.reconciler_components());
    let Some(restart) = rollout::restarts(step, views, &desired) else { return Ok(()) };
    let namespace = cr.namespace().unwrap_or_default();
    if apply::delete_pod(&ctx.client, &ctx.metrics, &namespace, &restart.pod, &restart.uid).await? {
        tracing::info!(pod = %restart.pod, reason = %restart.reason, "restarted a pod");
        let pod = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(restart.pod.clone()),
            namespace: Some(namespace.clone()),
            uid: Some(restart.uid.clone()),
            ..ObjectReference::default()
        };
        let note = format!("restarted pod {}: {}", restart.pod, restart.reason);
        publish_related(ctx, cr, EventType::Normal, "PodRestarted", note, pod).await;
    }
    Ok(())
}

fn is_conflict(e: &ApplyError) -> bool {
    matches!(&e.source, kube::Error::Api(status) if status.code == 409)
}

/// Where a bookie scale-down stands, as last written. Read from the API server, not the cache,
/// while one may be in progress: a reconcile that ran on a cached status older than its own last
/// write would take a step back (start over at a bookie already stopped, or bring it back).
async fn scale_down_record(
    ctx: &Context,
    cr: &ECSCluster,
    bookies: &scaledown::Bookies,
) -> Result<Option<ScaleDownStatus>, ReconcileError> {
    let cached = cr.status.as_ref().and_then(|s| s.scale_down.clone());
    if cached.is_none() && !bookies.may_be_shrinking(cr.spec.bookkeeper.replicas) {
        return Ok(None);
    }
    let fresh = cluster_api(ctx, cr).get_status(&cr.name_any()).await.map_err(|source| ApplyError {
        verb: "read",
        object: format!("ECSCluster/{}", cr.name_any()),
        source,
    })?;
    Ok(fresh.status.and_then(|s| s.scale_down))
}

/// Deletes the claims of a decommissioned bookie, each only while it is the claim observed (its UID),
/// and a decommission Job left from an earlier removal.
async fn delete_claims(ctx: &Context, cr: &ECSCluster, scale: &scaledown::ScaleStep) -> Result<(), ApplyError> {
    let namespace = cr.namespace().unwrap_or_default();
    if let Some((job, uid)) = &scale.stale_job {
        tracing::info!(%job, "deleting a decommission Job left from an earlier removal");
        apply::delete_by_uid(&ctx.client, &ctx.metrics, ("batch/v1", "Job"), &namespace, job, uid).await?;
    }
    let deleted = delete_claims_by_uid(ctx, &namespace, &scale.delete_claims).await?;
    if !deleted.is_empty() {
        let bookie = scale.status.as_ref().map(|s| s.bookie.clone()).unwrap_or_default();
        tracing::info!(%bookie, claims = ?deleted, "deleted the claims of a decommissioned bookie");
        let note = format!("deleted the claims of decommissioned bookie {bookie}: {}", deleted.join(", "));
        publish(ctx, cr, EventType::Normal, "VolumesDeleted", note).await;
    }
    Ok(())
}

/// Deletes each claim while it is the one observed (its UID); the names of those it deleted.
async fn delete_claims_by_uid(
    ctx: &Context,
    namespace: &str,
    claims: &[scaledown::ClaimRef],
) -> Result<Vec<String>, ApplyError> {
    let mut deleted = Vec::new();
    for claim in claims {
        let kind = ("v1", "PersistentVolumeClaim");
        if apply::delete_by_uid(&ctx.client, &ctx.metrics, kind, namespace, &claim.name, &claim.uid).await? {
            deleted.push(claim.name.clone());
        }
    }
    Ok(deleted)
}

/// Events for what was written, and the plugins' own events, which describe that change.
async fn publish_writes(ctx: &Context, cr: &ECSCluster, writes: &Writes, rendered: Option<&Rendered>) {
    if writes.is_empty() {
        return;
    }
    let list = |v: &[String]| {
        if v.len() > 8 { format!("{} and {} more", v[..8].join(", "), v.len() - 8) } else { v.join(", ") }
    };
    if !writes.created.is_empty() {
        publish(ctx, cr, EventType::Normal, "Created", format!("created {}", list(&writes.created))).await;
    }
    if !writes.updated.is_empty() {
        publish(ctx, cr, EventType::Normal, "Updated", format!("updated {}", list(&writes.updated))).await;
    }
    if !writes.pruned.is_empty() {
        publish(ctx, cr, EventType::Normal, "Pruned", format!("deleted {}", list(&writes.pruned))).await;
    }
    for e in rendered.map(|r| r.events.as_slice()).unwrap_or_default() {
        let type_ = match e.event.type_ {
            ecs_plugin_sdk::EventType::Normal => EventType::Normal,
            ecs_plugin_sdk::EventType::Warning => EventType::Warning,
        };
        publish(ctx, cr, type_, &e.event.reason, format!("{}: {}", e.plugin, e.event.message)).await;
    }
}

pub(super) async fn publish(ctx: &Context, cr: &ECSCluster, type_: EventType, reason: &str, note: String) {
    // The recorder folds Events with the same reason and references into one series and keeps
    // the first note: naming the cluster's revision as the related object keeps what happened to
    // different revisions apart (a second upgrade must not show the first one's note), while
    // repeats for one revision (a failure retried with backoff) still fold.
    let revision = ObjectReference { resource_version: cr.resource_version(), ..cr.object_ref(&()) };
    publish_related(ctx, cr, type_, reason, note, revision).await;
}

/// [`publish`] with another object involved (e.g. the pod restarted).
async fn publish_related(
    ctx: &Context,
    cr: &ECSCluster,
    type_: EventType,
    reason: &str,
    note: String,
    related: ObjectReference,
) {
    let mut note = note;
    if note.len() > 1000 {
        let mut cut = 997;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
        note.push_str("...");
    }
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: Some(related),
    };
    match ctx.recorder.publish(&event, &cr.object_ref(&())).await {
        Ok(()) => ctx.metrics.wrote("Event", "event"),
        Err(e) => tracing::warn!(error = %e, reason, "could not publish an event"),
    }
}

fn cluster_api(ctx: &Context, cr: &ECSCluster) -> Api<ECSCluster> {
    Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default())
}

async fn add_finalizer(ctx: &Context, cr: &ECSCluster) -> Result<(), ApplyError> {
    let mut finalizers = cr.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    set_finalizers(ctx, cr, finalizers).await
}

async fn set_finalizers(ctx: &Context, cr: &ECSCluster, finalizers: Vec<String>) -> Result<(), ApplyError> {
    // The resourceVersion makes this a compare-and-swap: a concurrent edit of the list is retried.
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": cr.resource_version()}});
    cluster_api(ctx, cr).patch(&cr.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(
        |source| ApplyError { verb: "update finalizers of", object: format!("ECSCluster/{}", cr.name_any()), source },
    )?;
    ctx.metrics.wrote("ECSCluster", "finalizer");
    Ok(())
}

/// On deletion, in order: stop the cluster's pods (delete its workloads), wait until they are gone,
/// remove the ZooKeeper trees its plugins declared if the tree is marked as the cluster's (unless an
/// admin set the skip annotation) and then the bookies' claims, delete
/// its PersistentVolumes, and only then remove the finalizer. Each step is retried until it
/// succeeds; the `CleaningUp` condition and Events say what it waits for.
async fn finalize(cr: &ECSCluster, ctx: &Context) -> Result<(&'static str, Action), ReconcileError> {
    let ours = |f: &String| f == FINALIZER || f == LEGACY_FINALIZER;
    if !cr.finalizers().iter().any(ours) {
        return Ok(("deleted", Action::await_change()));
    }
    let id = cluster_id(cr);
    let live = ctx.stores.managed(&id);
    let stopped = apply::delete_workloads(&ctx.client, &ctx.metrics, &live).await?;
    if stopped > 0 {
        publish(
            ctx,
            cr,
            EventType::Normal,
            "Stopping",
            format!("deleting the cluster: stopping its {stopped} workloads"),
        )
        .await;
    }
    let pods = ctx.stores.labelled_pods(&id);
    if !pods.is_empty() {
        let shown: Vec<&str> = pods.iter().take(5).map(String::as_str).collect();
        let more = if pods.len() > 5 { format!(" and {} more", pods.len() - 5) } else { String::new() };
        let message = format!("waiting for {} pods to stop: {}{more}", pods.len(), shown.join(", "));
        cleanup_condition(ctx, cr, "WaitingForPods", message).await?;
        return Ok(("deleting", Action::requeue(Duration::from_secs(2))));
    }
    let skip = cr.annotations().get(SKIP_ZOOKEEPER_CLEANUP).is_some_and(|v| v == "true");
    if skip {
        let note = format!(
            "{SKIP_ZOOKEEPER_CLEANUP} is set: the cluster's ZooKeeper tree is left as it is ({})",
            ecs_plugin_sdk::zookeeper_cluster_tree(&id.name)
        );
        publish(ctx, cr, EventType::Warning, "ZooKeeperCleanupSkipped", note).await;
    } else if zookeeper_tree::clean(cr, ctx).await? {
        delete_bookie_claims(ctx, cr).await?;
    }
    let deleted = apply::delete_volumes(&ctx.client, &ctx.metrics, &live).await?;
    if deleted > 0 {
        tracing::info!(deleted, "deleted the cluster's PersistentVolumes");
    }
    let rest: Vec<String> = cr.finalizers().iter().filter(|f| !ours(f)).cloned().collect();
    set_finalizers(ctx, cr, rest).await?;
    ctx.zookeeper_marks.forget(&id.uid);
    Ok(("deleted", Action::await_change()))
}

/// With its ZooKeeper tree gone, the bookies' data is unreadable (the ledgers' metadata and the
/// cookies went with it), and a cluster created again under the same name would find the old
/// claims, with data but no cookie, and crash-loop: they go too (each by its UID).
async fn delete_bookie_claims(ctx: &Context, cr: &ECSCluster) -> Result<(), ApplyError> {
    let id = cluster_id(cr);
    let claims: Vec<scaledown::ClaimRef> =
        ctx.stores.claims(&id).iter().filter_map(scaledown::view::bookie_claim).collect();
    let deleted = delete_claims_by_uid(ctx, &id.namespace, &claims).await?;
    if !deleted.is_empty() {
        let note = format!(
            "deleted the bookies' claims, whose ledgers' metadata went with the ZooKeeper tree: {}",
            deleted.join(", ")
        );
        publish(ctx, cr, EventType::Normal, "VolumesDeleted", note).await;
    }
    Ok(())
}

/// Writes the `CleaningUp` condition of a deleted cluster (unchanged text writes nothing).
pub(super) async fn cleanup_condition(
    ctx: &Context,
    cr: &ECSCluster,
    reason: &str,
    message: String,
) -> Result<(), ApplyError> {
    let now = k8s_openapi::jiff::Timestamp::now().round(k8s_openapi::jiff::Unit::Second).unwrap_or_default();
    let new_status = status::cleaning_up(cr.status.as_ref(), reason, message, &now.to_string());
    apply::status(&ctx.client, &ctx.metrics, cr, &new_status).await.map(drop)
}
