//! What the operator sees: one reflector cache per kind it manages, filled by label-selected watches.
//! Reconciles read these caches (never the API server) to build the plugins' observed state and to
//! decide what to apply or prune.

use super::ownership::{self, ClusterId};
use crate::crd::ECSCluster;
use ecs_plugin_sdk::k8s::{APP, LABEL_APP, LABEL_CLUSTER, LABEL_MANAGED_BY, MANAGED_BY};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Debug;
use std::hash::Hash;

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
    let (reader, writer) = reflector::store();
    let mut config = watcher::Config::default().any_semantic();
    if let Some(selector) = selector {
        config = config.labels(selector);
    }
    let kind = K::kind(&Default::default()).to_string();
    let events =
        watcher(api, config).default_backoff().modify(|o: &mut K| o.managed_fields_mut().clear()).reflect(writer);
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

/// The caches, one per kind.
#[derive(Clone)]
pub struct Stores {
    pub stateful_sets: Store<StatefulSet>,
    pub deployments: Store<Deployment>,
    pub services: Store<Service>,
    pub config_maps: Store<ConfigMap>,
    pub pdbs: Store<PodDisruptionBudget>,
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
    pub pods: Store<Pod>,
}

/// The watches behind [`Stores`], handed to the controller as triggers.
pub struct Watches {
    pub stateful_sets: Watch<StatefulSet>,
    pub deployments: Watch<Deployment>,
    pub services: Watch<Service>,
    pub config_maps: Watch<ConfigMap>,
    pub pdbs: Watch<PodDisruptionBudget>,
    pub claims: Watch<PersistentVolumeClaim>,
    pub volumes: Watch<PersistentVolume>,
    pub pods: Watch<Pod>,
}

impl Stores {
    pub fn start(client: &Client, scope: &Scope) -> (Stores, Watches) {
        let managed = managed_selector();
        let (stateful_sets, w_sts) = reflect(scope.api(client), Some(&managed), true);
        let (deployments, w_deploy) = reflect(scope.api(client), Some(&managed), true);
        let (services, w_svc) = reflect(scope.api(client), Some(&managed), true);
        let (config_maps, w_cm) = reflect(scope.api(client), Some(&managed), true);
        let (pdbs, w_pdb) = reflect(scope.api(client), Some(&managed), true);
        let (claims, w_pvc) = reflect(scope.api(client), Some(&managed), true);
        // PersistentVolumes are cluster-scoped; only Tier-2 providers granted them create any.
        let (volumes, w_pv) = reflect(Api::all(client.clone()), Some(&managed), true);
        let (pods, w_pods) = reflect(scope.api(client), Some(&pod_selector()), true);
        let stores = Stores { stateful_sets, deployments, services, config_maps, pdbs, claims, volumes, pods };
        let watches = Watches {
            stateful_sets: w_sts,
            deployments: w_deploy,
            services: w_svc,
            config_maps: w_cm,
            pdbs: w_pdb,
            claims: w_pvc,
            volumes: w_pv,
            pods: w_pods,
        };
        (stores, watches)
    }

    /// Waits until every cache holds its first full listing.
    pub async fn ready(&self) -> Result<(), reflector::store::WriterDropped> {
        async fn one<K>(kind: &str, store: &Store<K>) -> Result<(), reflector::store::WriterDropped>
        where
            K: Resource + Clone + 'static,
            K::DynamicType: Eq + Hash + Clone,
        {
            store.wait_until_ready().await?;
            tracing::debug!(kind, "cache synced");
            Ok(())
        }
        futures::try_join!(
            one("StatefulSet", &self.stateful_sets),
            one("Deployment", &self.deployments),
            one("Service", &self.services),
            one("ConfigMap", &self.config_maps),
            one("PodDisruptionBudget", &self.pdbs),
            one("PersistentVolumeClaim", &self.claims),
            one("PersistentVolume", &self.volumes),
            one("Pod", &self.pods),
        )?;
        Ok(())
    }

    /// Every managed object of the cluster (not pods), as JSON, for apply and prune decisions: the
    /// objects labelled for it that also belong to it ([`ownership::belongs_to`]).
    pub fn managed(&self, cluster: &ClusterId) -> Vec<Value> {
        let mut out = Vec::new();
        collect(&self.stateful_sets, cluster, &mut out);
        collect(&self.deployments, cluster, &mut out);
        collect(&self.services, cluster, &mut out);
        collect(&self.config_maps, cluster, &mut out);
        collect(&self.pdbs, cluster, &mut out);
        collect(&self.claims, cluster, &mut out);
        let mut volumes: Vec<Value> = self
            .volumes
            .state()
            .iter()
            .filter(|pv| labelled_for(pv.as_ref(), &cluster.name))
            .map(|pv| to_json(pv.as_ref()))
            .filter(|pv| ownership::belongs_to(pv, cluster))
            .collect();
        volumes.sort_by(|a, b| a["metadata"]["name"].as_str().cmp(&b["metadata"]["name"].as_str()));
        out.extend(volumes);
        out
    }

    /// What the plugins observe: the managed objects and the pods of the cluster's workloads.
    pub fn observed(&self, cluster: &ClusterId) -> Vec<Value> {
        let mut out = self.managed(cluster);
        let mut pods: Vec<Value> = self
            .pods
            .state()
            .iter()
            .filter(|p| p.meta().namespace.as_deref() == Some(cluster.namespace.as_str()))
            .filter(|p| labelled_for(p.as_ref(), &cluster.name))
            .map(|p| to_json(p.as_ref()))
            .filter(|p| ownership::pod_belongs_to(p, &out))
            .collect();
        pods.sort_by(|a, b| a["metadata"]["name"].as_str().cmp(&b["metadata"]["name"].as_str()));
        out.extend(pods);
        out
    }
}

fn labelled_for<K: Resource>(object: &K, cluster: &str) -> bool {
    object.labels().get(LABEL_CLUSTER).map(String::as_str) == Some(cluster)
}

fn to_json<K: Serialize>(object: &K) -> Value {
    serde_json::to_value(object).expect("API objects always serialize")
}

/// The cluster's objects of one cache: labelled for it (the cheap filter) and belonging to it.
fn collect<K>(store: &Store<K>, cluster: &ClusterId, out: &mut Vec<Value>)
where
    K: Resource + Clone + Serialize + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    let mut objects: Vec<_> = store
        .state()
        .into_iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(cluster.namespace.as_str()))
        .filter(|o| labelled_for(o.as_ref(), &cluster.name))
        .collect();
    objects.sort_by(|a, b| a.meta().name.cmp(&b.meta().name));
    out.extend(objects.iter().map(|o| to_json(o.as_ref())).filter(|o| ownership::belongs_to(o, cluster)));
}

/// The ECSCluster an object belongs to, from its cluster label (pods and volumes carry no owner
/// reference to it).
pub fn cluster_of<K: Resource>(object: &K) -> Option<ObjectRef<ECSCluster>> {
    let cluster = object.labels().get(LABEL_CLUSTER)?;
    let namespace = object.meta().namespace.clone()?;
    Some(ObjectRef::new(cluster).within(&namespace))
}

/// The ECSCluster a PersistentVolume belongs to: its label, and the namespace of the claim it reserves.
pub fn cluster_of_volume(pv: &PersistentVolume) -> Option<ObjectRef<ECSCluster>> {
    let cluster = pv.labels().get(LABEL_CLUSTER)?;
    let namespace = pv.spec.as_ref()?.claim_ref.as_ref()?.namespace.clone()?;
    Some(ObjectRef::new(cluster).within(&namespace))
}
