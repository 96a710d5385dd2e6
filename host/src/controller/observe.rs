//! What the operator sees: one reflector cache per kind it manages, filled by label-selected watches.
//! Reconciles read these caches (never the API server) to build the plugins' observed state and to
//! decide what to apply or prune. The caches hold [`Cached`] objects (metadata typed, the rest as
//! JSON text); a reconcile turns its cluster's objects back into JSON.

use super::cached::Cached;
use super::ownership::{self, ClusterId};
use crate::crd::ECSCluster;
use crate::kinds::{self, ManagedKind};
use ecs_plugin_sdk::k8s::{APP, LABEL_APP, LABEL_CLUSTER, LABEL_MANAGED_BY, MANAGED_BY};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::core::ApiResource;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

/// Which namespaces the operator manages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Namespace(String),
}

impl Scope {
    pub fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match self {
            Scope::All => Api::all(client.clone()),
            Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
        }
    }

    /// The API of a kind known at run time; a cluster-scoped kind (`namespaced: false`) everywhere.
    fn dynamic_api(&self, client: &Client, resource: &ApiResource, namespaced: bool) -> Api<Cached> {
        match self {
            Scope::Namespace(ns) if namespaced => Api::namespaced_with(client.clone(), ns, resource),
            _ => Api::all_with(client.clone(), resource),
        }
    }

    pub fn contains(&self, namespace: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Namespace(ns) => ns == namespace,
        }
    }
}

/// Objects the operator applied carry this selector; pods carry the cluster label from their template.
pub fn managed_selector() -> String {
    format!("{LABEL_MANAGED_BY}={MANAGED_BY}")
}

fn pod_selector() -> String {
    format!("{LABEL_APP}={APP},{LABEL_CLUSTER}")
}

pub type Watch<K> = std::pin::Pin<Box<dyn Stream<Item = Result<K, watcher::Error>> + Send>>;

/// A label-selected watch feeding a cache; the returned stream must be polled (the controller does).
/// Managed fields are dropped on arrival: nothing reads them, and they are most of an object's size.
/// Deleted objects are passed on too (a deleted child must be recreated), except for the
/// controller's own `ECSCluster` stream (`deletions: false`).
pub fn reflect<K>(api: Api<K>, selector: Option<&str>, deletions: bool) -> (Store<K>, Watch<K>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone,
{
    reflect_with(api, Default::default(), selector, deletions)
}

/// [`reflect`] for a kind known at run time (`dyntype`).
pub fn reflect_with<K>(
    api: Api<K>,
    dyntype: K::DynamicType,
    selector: Option<&str>,
    deletions: bool,
) -> (Store<K>, Watch<K>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    let writer = reflector::store::Writer::new(dyntype.clone());
    let reader = writer.as_reader();
    let mut config = watcher::Config::default().any_semantic();
    if let Some(selector) = selector {
        config = config.labels(selector);
    }
    let kind = K::kind(&dyntype).to_string();
    let events =
        watcher(api, config).default_backoff().modify(|o: &mut K| o.meta_mut().managed_fields = None).reflect(writer);
    let objects = if deletions { events.touched_objects().boxed() } else { events.applied_objects().boxed() };
    let stream = objects
        // This watch retries with its own backoff; an error passed on would also pause every other
        // trigger of the controller (its backoff is shared), e.g. while RBAC rules propagate.
        .filter_map(move |event| {
            let event = match event {
                Ok(object) => Some(Ok(object)),
                Err(e) => {
                    tracing::warn!(kind = %kind, error = %e, "watch failed; retrying");
                    None
                }
            };
            std::future::ready(event)
        });
    (reader, Box::pin(stream))
}

/// A cache of one kind, and that kind.
#[derive(Clone)]
struct Cache {
    resource: ApiResource,
    store: Store<Cached>,
}

impl Cache {
    /// The objects in `namespace` (any, for `None`) labelled for `cluster`.
    fn labelled_for<'a>(
        &'a self,
        namespace: Option<&'a str>,
        cluster: &'a str,
    ) -> impl Iterator<Item = Arc<Cached>> + 'a {
        self.store.state().into_iter().filter(move |o| {
            namespace.is_none_or(|ns| o.metadata.namespace.as_deref() == Some(ns)) && labelled_for(o.as_ref(), cluster)
        })
    }
}

/// The caches: one per managed kind (from [`kinds::MANAGED`]), the pods, and the claims the
/// workloads' claim templates made.
#[derive(Clone)]
pub struct Stores {
    managed: Arc<Vec<(&'static ManagedKind, Cache)>>,
    pods: Cache,
    claims: Cache,
}

/// The watches behind [`Stores`], handed to the controller as triggers.
pub struct Watches {
    pub managed: Vec<(&'static ManagedKind, ApiResource, Watch<Cached>)>,
    /// The pods and the claims, which map to their cluster by its label.
    pub labelled: Vec<(ApiResource, Watch<Cached>)>,
}

impl Stores {
    pub fn start(client: &Client, scope: &Scope) -> (Stores, Watches) {
        let managed = managed_selector();
        let mut stores = Vec::new();
        let mut watches = Vec::new();
        for kind in kinds::MANAGED {
            let resource = kind.api_resource();
            // Cluster-scoped kinds (PersistentVolumes) are watched everywhere; only plugins granted
            // them create any.
            let api = scope.dynamic_api(client, &resource, kind.namespaced);
            let (store, watch) = reflect_with(api, resource.clone(), Some(&managed), true);
            stores.push((kind, Cache { resource: resource.clone(), store }));
            watches.push((kind, resource, watch));
        }
        let (pods, w_pods) = Self::labelled(client, scope, ApiResource::erase::<Pod>(&()));
        // StatefulSet claims carry their template's labels (the pods' selector), not an owner.
        let (claims, w_claims) = Self::labelled(client, scope, ApiResource::erase::<PersistentVolumeClaim>(&()));
        (
            Stores { managed: Arc::new(stores), pods, claims },
            Watches { managed: watches, labelled: vec![w_pods, w_claims] },
        )
    }

    /// A cache of the objects of a namespaced kind that carry the pods' labels.
    fn labelled(client: &Client, scope: &Scope, resource: ApiResource) -> (Cache, (ApiResource, Watch<Cached>)) {
        let api = scope.dynamic_api(client, &resource, true);
        let (store, watch) = reflect_with(api, resource.clone(), Some(&pod_selector()), true);
        (Cache { resource: resource.clone(), store }, (resource, watch))
    }

    /// Waits until every cache holds its first full listing.
    pub async fn ready(&self) -> Result<(), reflector::store::WriterDropped> {
        for (kind, cache) in self.managed.iter() {
            cache.store.wait_until_ready().await?;
            tracing::debug!(kind = kind.kind, "cache synced");
        }
        self.pods.store.wait_until_ready().await?;
        tracing::debug!(kind = "Pod", "cache synced");
        self.claims.store.wait_until_ready().await?;
        tracing::debug!(kind = "PersistentVolumeClaim", "claims cache synced");
        Ok(())
    }

    /// Every managed object of the cluster (not pods), as JSON, in the table's order, for apply and
    /// prune decisions: the objects labelled for it that also belong to it
    /// ([`ownership::belongs_to`]).
    pub fn managed(&self, cluster: &ClusterId) -> Vec<Value> {
        let mut out = Vec::new();
        for (kind, cache) in self.managed.iter() {
            let namespace = kind.namespaced.then_some(cluster.namespace.as_str());
            let mut objects: Vec<Value> = cache
                .labelled_for(namespace, &cluster.name)
                .map(|o| o.to_json(&cache.resource))
                .filter(|o| ownership::belongs_to(o, cluster))
                .collect();
            objects.sort_by(|a, b| a["metadata"]["name"].as_str().cmp(&b["metadata"]["name"].as_str()));
            out.extend(objects);
        }
        out
    }

    /// What the plugins observe: the managed objects and the pods of the cluster's workloads.
    pub fn observed(&self, cluster: &ClusterId) -> Vec<Value> {
        let mut out = self.managed(cluster);
        let mut pods: Vec<Value> = self
            .pods
            .labelled_for(Some(&cluster.namespace), &cluster.name)
            .map(|p| p.to_json(&self.pods.resource))
            .filter(|p| ownership::pod_belongs_to(p, &out))
            .collect();
        pods.sort_by(|a, b| a["metadata"]["name"].as_str().cmp(&b["metadata"]["name"].as_str()));
        out.extend(pods);
        out
    }

    /// Names of every pod labelled for the cluster, whoever owns it (on deletion its workloads go
    /// first, and their pods outlive them for a while).
    pub fn labelled_pods(&self, cluster: &ClusterId) -> Vec<String> {
        let mut names: Vec<String> =
            self.pods.labelled_for(Some(&cluster.namespace), &cluster.name).map(|p| p.name_any()).collect();
        names.sort();
        names
    }

    /// The claims labelled for the cluster that its workloads' claim templates made (the ones the
    /// operator applied itself are among [`Stores::managed`]).
    pub fn claims(&self, cluster: &ClusterId) -> Vec<Value> {
        let mut claims: Vec<Value> = self
            .claims
            .labelled_for(Some(&cluster.namespace), &cluster.name)
            .filter(|c| !c.labels().contains_key(LABEL_MANAGED_BY))
            .map(|c| c.to_json(&self.claims.resource))
            .collect();
        claims.sort_by(|a, b| a["metadata"]["name"].as_str().cmp(&b["metadata"]["name"].as_str()));
        claims
    }
}

fn labelled_for<K: Resource>(object: &K, cluster: &str) -> bool {
    object.labels().get(LABEL_CLUSTER).map(String::as_str) == Some(cluster)
}

/// The ECSCluster an object belongs to, from its cluster label (pods and volumes carry no owner
/// reference to it).
pub fn cluster_of<K: Resource>(object: &K) -> Option<ObjectRef<ECSCluster>> {
    let cluster = object.labels().get(LABEL_CLUSTER)?;
    let namespace = object.meta().namespace.clone()?;
    Some(ObjectRef::new(cluster).within(&namespace))
}

/// The ECSCluster a cluster-scoped object (a PersistentVolume) belongs to: its cluster label, and
/// the namespace of the claim it reserves (it cannot carry an owner reference to a namespaced owner).
pub fn cluster_of_cluster_scoped(object: &Cached) -> Option<ObjectRef<ECSCluster>> {
    let cluster = object.labels().get(LABEL_CLUSTER)?;
    let namespace = object.pointer("/spec/claimRef/namespace")?;
    Some(ObjectRef::new(cluster).within(namespace.as_str()?))
}
