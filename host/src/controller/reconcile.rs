//! One reconcile of one ECSCluster: caches -> plugins -> apply/prune -> status -> Events.

use super::apply::{self, ApplyError, SyncError, Writes};
use super::ownership::ClusterId;
use super::status::{self, Outcome};
use super::{Context, FINALIZER};
use crate::crd::ECSCluster;
use crate::pipeline::{self, RenderError, Rendered, load};
use crate::rollout;
use ecs_plugin_sdk::Versions;
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
}

/// Even with nothing to do, look again this often (cache reads only; no API request).
const RESYNC: Duration = Duration::from_secs(600);

pub async fn reconcile(cr: Arc<ECSCluster>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let span =
        tracing::info_span!("reconcile", cluster = %cr.name_any(), namespace = %cr.namespace().unwrap_or_default());
    async move {
        let started = Instant::now();
        ctx.metrics.clusters.set(ctx.clusters.state().len() as i64);
        if !ctx.is_leader() {
            ctx.metrics.reconciled("standby", started.elapsed());
            return Ok(Action::await_change());
        }
        if !ctx.health.is_ready() {
            ctx.metrics.reconciled("caches_syncing", started.elapsed());
            return Ok(Action::requeue(Duration::from_millis(100)));
        }
        let result = if cr.meta().deletion_timestamp.is_some() {
            finalize(&cr, &ctx).await.map(|()| ("deleted", Action::await_change()))
        } else {
            sync(&cr, &ctx).await
        };
        let label = match &result {
            Ok((label, _)) => *label,
            Err(ReconcileError::Api(_)) => "api_error",
            Err(ReconcileError::Ownership(_)) => "ownership_conflict",
            Err(_) => "plugin_fault",
        };
        ctx.metrics.reconciled(label, started.elapsed());
        tracing::debug!(result = label, elapsed_us = started.elapsed().as_micros() as u64, "reconciled");
        if result.is_ok() {
            ctx.forget_failures(&cr);
        }
        result.map(|(_, action)| action)
    }
    .instrument(span)
    .await
}

/// Backoff after a failure: 1 s, 2 s, 4 s ... up to 5 minutes, per cluster.
pub fn error_policy(cr: Arc<ECSCluster>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    let failures = ctx.count_failure(&cr);
    let delay = Duration::from_secs(1u64 << failures.min(9)).min(Duration::from_secs(300));
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
async fn render(
    ctx: &Context,
    cr: &ECSCluster,
    observed: Vec<Value>,
    versions: Versions,
) -> Result<(Result<Rendered, RenderError>, Vec<Value>), ReconcileError> {
    let cluster = load::plugin_cluster(cr);
    let plugins = ctx.plugins.clone();
    let siblings = siblings(ctx, cr);
    // Plugin calls are synchronous wasm execution (bounded by their deadline): off the async workers.
    tokio::task::spawn_blocking(move || {
        (pipeline::render_among(&plugins, &cluster, &observed, &versions, &siblings), observed)
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
    let views = rollout::view::components(&observed, ctx.plugins.reconciler_components());
    let step = rollout::advance(cr.status.as_ref(), &cr.spec, &views, now);
    let (rendered, observed) = render(ctx, cr, observed, step.versions.clone()).await?;
    let mut failure = None;
    let mut writes = Writes::default();
    let outcome = match &rendered {
        Ok(rendered) => {
            // Pods are observed, never applied or pruned.
            let live: Vec<Value> = observed.into_iter().filter(|o| o["kind"] != "Pod").collect();
            let needs_finalizer = rendered.objects.iter().any(|o| o["kind"] == "PersistentVolume");
            let result = async {
                if needs_finalizer && !cr.finalizers().iter().any(|f| f == FINALIZER) {
                    add_finalizer(ctx, cr).await.map_err(SyncError::Api)?;
                }
                apply::sync(&ctx.client, &ctx.metrics, &id, rendered.objects.clone(), &live).await
            }
            .await;
            match result {
                Ok(w) => {
                    writes = w;
                    match restart_next(ctx, cr, &step, &views, rendered).await {
                        Ok(()) => Outcome::Applied(rendered, &step),
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
    let new_status = status::compute(cr.status.as_ref(), generation, &outcome, &now.to_string());
    publish_writes(ctx, cr, &writes, rendered.as_ref().ok()).await;
    if matches!(outcome, Outcome::Applied(..)) {
        for e in &step.events {
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
            let next = step.recheck_after.map_or(RESYNC, |d| d.min(RESYNC));
            Ok((if writes.is_empty() { "unchanged" } else { "applied" }, Action::requeue(next)))
        }
    }
}

/// Deletes the one pod the rollout says is next (its workload recreates it on the new template),
/// with an Event saying why.
async fn restart_next(
    ctx: &Context,
    cr: &ECSCluster,
    step: &rollout::Step,
    views: &std::collections::BTreeMap<String, rollout::ComponentView>,
    rendered: &Rendered,
) -> Result<(), ApplyError> {
    let desired = rollout::desired_hashes(&rendered.objects, ctx.plugins.reconciler_components());
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

async fn publish(ctx: &Context, cr: &ECSCluster, type_: EventType, reason: &str, note: String) {
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

async fn add_finalizer(ctx: &Context, cr: &ECSCluster) -> Result<(), ApplyError> {
    let api: Api<ECSCluster> = Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());
    let mut finalizers = cr.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    set_finalizers(ctx, &api, cr, finalizers).await
}

async fn set_finalizers(
    ctx: &Context,
    api: &Api<ECSCluster>,
    cr: &ECSCluster,
    finalizers: Vec<String>,
) -> Result<(), ApplyError> {
    // The resourceVersion makes this a compare-and-swap: a concurrent edit of the list is retried.
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": cr.resource_version()}});
    api.patch(&cr.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|source| ApplyError {
        verb: "update finalizers of",
        object: format!("ECSCluster/{}", cr.name_any()),
        source,
    })?;
    ctx.metrics.wrote("ECSCluster", "finalizer");
    Ok(())
}

/// On deletion: remove what garbage collection cannot (cluster-scoped PersistentVolumes; Retain
/// keeps the data on the share), then let the ECSCluster go.
async fn finalize(cr: &ECSCluster, ctx: &Context) -> Result<(), ReconcileError> {
    if !cr.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(());
    }
    let live = ctx.stores.managed(&cluster_id(cr));
    let deleted = apply::delete_volumes(&ctx.client, &ctx.metrics, &live).await?;
    tracing::info!(deleted, "deleted the cluster's PersistentVolumes");
    let api: Api<ECSCluster> = Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());
    let rest: Vec<String> = cr.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    set_finalizers(ctx, &api, cr, rest).await?;
    Ok(())
}
