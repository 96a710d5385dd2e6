//! Writing to the API server: server-side apply of desired objects, pruning of objects no longer
//! desired, and the status subresource. Every write is counted in the metrics.

use super::diff::{self, up_to_date};
use super::metrics::Metrics;
use super::ownership::{self, ClusterId};
use crate::crd::ECSCluster;
use crate::kinds::{self, Wave};
use ecs_plugin_sdk::spec::ECSClusterStatus;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Api, Client};
use serde_json::{Value, json};

pub const FIELD_MANAGER: &str = "ecs-operator";

/// What a reconcile wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Writes {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub pruned: Vec<String>,
}

impl Writes {
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.updated.is_empty() && self.pruned.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{verb} {object}: {source}")]
pub struct ApplyError {
    pub verb: &'static str,
    pub object: String,
    #[source]
    pub source: kube::Error,
}

fn key(o: &Value) -> (String, String, String) {
    let s = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
    (s("/kind"), s("/metadata/namespace"), s("/metadata/name"))
}

fn describe(o: &Value) -> String {
    let (kind, _, name) = key(o);
    format!("{kind}/{name}")
}

/// The dynamic API of an object (every kind the output policy allows is known here).
fn api_for(client: &Client, object: &Value) -> Api<DynamicObject> {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let (kind, namespace, _) = key(object);
    dynamic_api(client, api_version, &kind, Some(namespace.as_str()).filter(|ns| !ns.is_empty()))
}

/// The dynamic API of a kind, in `namespace` or cluster-wide.
pub fn dynamic_api(client: &Client, api_version: &str, kind: &str, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = match kinds::find(kind) {
        Some(managed) => managed.api_resource(),
        // Pods, which `record` reads and the rollout deletes.
        None => {
            let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
            let gvk = GroupVersionKind::gvk(group, version, kind);
            ApiResource::from_gvk_with_plural(&gvk, &format!("{}s", kind.to_lowercase()))
        }
    };
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// An object the plan wants that exists and belongs to someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub object: String,
    pub owner: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApplyError),
    #[error(
        "refused to write {}: {}; nothing was written",
        if .0.len() == 1 { "an object that belongs to another owner" } else { "objects that belong to other owners" },
        .0.iter().map(|c| format!("{} belongs to {}", c.object, c.owner)).collect::<Vec<_>>().join(", ")
    )]
    Ownership(Vec<Conflict>),
}

/// Applies each desired object that differs from its live counterpart (in `live`: the cluster's
/// own objects), in order; then deletes the cluster's objects no longer desired (never
/// PersistentVolumeClaims: they hold data).
///
/// An object the cluster does not own yet is looked up first: if it exists and belongs to another
/// owner (another cluster, or nobody), nothing at all is written.
pub async fn sync(
    client: &Client,
    metrics: &Metrics,
    cluster: &ClusterId,
    desired: Vec<Value>,
    live: &[Value],
) -> Result<Writes, SyncError> {
    let mut writes = Writes::default();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut wanted = std::collections::BTreeSet::new();
    // (object, whether it exists) for each object that differs from its live counterpart.
    let mut stale = Vec::new();
    for object in desired {
        let object = diff::with_applied_hash(object);
        let k = key(&object);
        wanted.insert(k.clone());
        let current = live.iter().find(|l| key(l) == k);
        // A Job's pod template is immutable: a Job runs as first planned, never updated.
        if k.0 == "Job" && current.is_some() {
            continue;
        }
        if !current.is_some_and(|c| up_to_date(&object, c)) {
            stale.push((object, current.is_some()));
        }
    }
    check_ownership(client, cluster, &mut stale).await?;
    // Two waves of concurrent applies: what workloads refer to (volumes, claims, ConfigMaps,
    // Services, PDBs), then the workloads, so that their pods start with everything in place.
    let (workloads, base): (Vec<_>, Vec<_>) =
        stale.into_iter().partition(|(o, _)| kinds::of(o).is_some_and(|k| k.wave == Wave::Workload));
    for wave in [base, workloads] {
        let applies = wave.iter().map(|(object, _)| {
            tracing::debug!(object = %describe(object), "applying");
            let api = api_for(client, object);
            let (name, params) = (key(object).2, &params);
            async move { api.patch(&name, params, &Patch::Apply(object)).await }
        });
        let results = futures::future::join_all(applies).await;
        for ((object, exists), result) in wave.iter().zip(results) {
            result.map_err(|source| ApplyError { verb: "apply", object: describe(object), source })?;
            metrics.wrote(&key(object).0, "apply");
            if *exists { &mut writes.updated } else { &mut writes.created }.push(describe(object));
        }
    }
    for object in live {
        let k = key(object);
        let prunable = kinds::find(&k.0).is_some() && k.0 != "PersistentVolumeClaim";
        if wanted.contains(&k) || !prunable || !ownership::belongs_to(object, cluster) {
            continue;
        }
        let uid = object.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_string);
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions { uid, resource_version: None }),
            ..DeleteParams::default()
        };
        match api_for(client, object).delete(&k.2, &params).await {
            Ok(_) => {}
            // Already gone, or replaced by a newer object of the same name: nothing to prune.
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(source) => return Err(ApplyError { verb: "delete", object: describe(object), source }.into()),
        }
        metrics.wrote(&k.0, "delete");
        writes.pruned.push(describe(object));
    }
    Ok(writes)
}

/// Looks up the objects the cluster's caches do not show as its own: one that exists must belong to
/// the cluster (a cache that lags behind a create), else every conflict is reported and nothing is
/// written. Marks the ones found as existing.
async fn check_ownership(client: &Client, cluster: &ClusterId, stale: &mut [(Value, bool)]) -> Result<(), SyncError> {
    let lookups = stale.iter().filter(|(_, exists)| !exists).map(|(object, _)| {
        let api = api_for(client, object);
        let name = key(object).2;
        async move { api.get_opt(&name).await }
    });
    let found = futures::future::join_all(lookups).await;
    let mut conflicts = Vec::new();
    let new = stale.iter_mut().filter(|(_, exists)| !exists);
    for ((object, exists), result) in new.zip(found) {
        let current = result.map_err(|source| ApplyError { verb: "read", object: describe(object), source })?;
        let Some(current) = current else { continue };
        let current = serde_json::to_value(&current).unwrap_or_default();
        if ownership::belongs_to(&current, cluster) {
            *exists = true;
        } else {
            conflicts.push(Conflict { object: describe(object), owner: ownership::owner_of(&current) });
        }
    }
    if conflicts.is_empty() { Ok(()) } else { Err(SyncError::Ownership(conflicts)) }
}

/// Writes `status` unless it is what the cluster already shows.
pub async fn status(
    client: &Client,
    metrics: &Metrics,
    cluster: &ECSCluster,
    status: &ECSClusterStatus,
) -> Result<bool, ApplyError> {
    if cluster.status.as_ref() == Some(status) {
        return Ok(false);
    }
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let namespace = cluster.metadata.namespace.clone().unwrap_or_default();
    let api: Api<ECSCluster> = Api::namespaced(client.clone(), &namespace);
    let body = json!({"apiVersion": crate::crd::API_VERSION, "kind": crate::crd::KIND, "status": status});
    api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body))
        .await
        .map_err(|source| ApplyError { verb: "update status of", object: format!("ECSCluster/{name}"), source })?;
    metrics.wrote("ECSCluster", "status");
    Ok(true)
}

/// Deletes a pod if it is still the one seen (`uid`); false when it is gone or replaced already.
pub async fn delete_pod(
    client: &Client,
    metrics: &Metrics,
    namespace: &str,
    name: &str,
    uid: &str,
) -> Result<bool, ApplyError> {
    delete_by_uid(client, metrics, ("v1", "Pod"), namespace, name, uid).await
}

/// Deletes an object of `(apiVersion, kind)` if it is still the one seen (`uid`): a destructive
/// step never acts on a name alone. False when it is gone or replaced already.
pub async fn delete_by_uid(
    client: &Client,
    metrics: &Metrics,
    (api_version, kind): (&str, &str),
    namespace: &str,
    name: &str,
    uid: &str,
) -> Result<bool, ApplyError> {
    let api = dynamic_api(client, api_version, kind, Some(namespace));
    // A Job's pods go with it.
    let propagation = (kind == "Job").then_some(PropagationPolicy::Background);
    let params = DeleteParams {
        propagation_policy: propagation,
        preconditions: Some(Preconditions { uid: Some(uid.to_string()), resource_version: None }),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => {
            metrics.wrote(kind, "delete");
            Ok(true)
        }
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(false),
        Err(source) => Err(ApplyError { verb: "delete", object: format!("{kind}/{name}"), source }),
    }
}

/// Deletes the cluster's workloads (StatefulSets, Deployments, Jobs), each by its UID, so that its
/// pods stop before its external state is removed; returns how many it deleted.
pub async fn delete_workloads(client: &Client, metrics: &Metrics, live: &[Value]) -> Result<usize, ApplyError> {
    let mut deleted = 0;
    let workloads = live.iter().filter(|o| kinds::of(o).is_some_and(|k| k.wave == Wave::Workload));
    for object in workloads.filter(|o| o.pointer("/metadata/deletionTimestamp").is_none()) {
        let (kind, _, name) = key(object);
        let uid = object.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_string);
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions { uid, resource_version: None }),
            ..DeleteParams::default()
        };
        match api_for(client, object).delete(&name, &params).await {
            Ok(_) => {
                deleted += 1;
                metrics.wrote(&kind, "delete");
            }
            // Gone already, or replaced by an object that is not this cluster's to delete.
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(source) => return Err(ApplyError { verb: "delete", object: describe(object), source }),
        }
    }
    Ok(deleted)
}

/// Deletes the cluster's PersistentVolumes (cluster-scoped, so not garbage-collected with it).
pub async fn delete_volumes(client: &Client, metrics: &Metrics, volumes: &[Value]) -> Result<usize, ApplyError> {
    let mut deleted = 0;
    for pv in volumes.iter().filter(|o| key(o).0 == "PersistentVolume") {
        match api_for(client, pv).delete(&key(pv).2, &DeleteParams::default()).await {
            Ok(_) => deleted += 1,
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => return Err(ApplyError { verb: "delete", object: describe(pv), source }),
        }
        metrics.wrote("PersistentVolume", "delete");
    }
    Ok(deleted)
}
