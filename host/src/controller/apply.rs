//! Writing to the API server: server-side apply of desired objects, pruning of objects no longer
//! desired, and the status subresource. Every write is counted in the metrics.

use super::diff::{self, up_to_date};
use super::metrics::Metrics;
use crate::crd::ECSCluster;
use crate::policy::APPLY_ORDER;
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
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let plural = match kind {
        "PersistentVolumeClaim" => "persistentvolumeclaims".to_string(),
        "PodDisruptionBudget" => "poddisruptionbudgets".to_string(),
        other => format!("{}s", other.to_lowercase()),
    };
    let resource = ApiResource::from_gvk_with_plural(&gvk, &plural);
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

/// Applies each desired object that differs from its live counterpart (in `live`), in order; then
/// deletes live objects no longer desired (never PersistentVolumeClaims: they hold data).
pub async fn sync(
    client: &Client,
    metrics: &Metrics,
    desired: Vec<Value>,
    live: &[Value],
) -> Result<Writes, ApplyError> {
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
        if !current.is_some_and(|c| up_to_date(&object, c)) {
            stale.push((object, current.is_some()));
        }
    }
    // Two waves of concurrent applies: what workloads refer to (volumes, claims, ConfigMaps,
    // Services, PDBs), then the workloads, so that their pods start with everything in place.
    let (workloads, base): (Vec<_>, Vec<_>) =
        stale.into_iter().partition(|(o, _)| matches!(o["kind"].as_str(), Some("StatefulSet" | "Deployment")));
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
        if wanted.contains(&k) || k.0 == "PersistentVolumeClaim" || !APPLY_ORDER.contains(&k.0.as_str()) {
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
            Err(source) => return Err(ApplyError { verb: "delete", object: describe(object), source }),
        }
        metrics.wrote(&k.0, "delete");
        writes.pruned.push(describe(object));
    }
    Ok(writes)
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
