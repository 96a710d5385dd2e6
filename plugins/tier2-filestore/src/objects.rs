//! The PersistentVolume for the Filestore share and the claim bound to it.

use crate::COMPONENT;
use ecs_plugin_sdk::spec::FilestoreSpec;
use ecs_plugin_sdk::{Cluster, PluginError, k8s};
use k8s_openapi::api::core::v1::{
    NFSVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use std::collections::BTreeMap;

/// Every node mounts the share at once.
const ACCESS_MODE: &str = "ReadWriteMany";

/// The PersistentVolume's name. PersistentVolumes are cluster-scoped, so the namespace is part of the
/// name: two clusters called `<n>` in different namespaces must not share (or fight over) one volume.
pub fn volume_name(cluster: &Cluster) -> String {
    format!("{}-{}-tier2", cluster.name, cluster.namespace)
}

/// The claim's name, in the cluster's namespace.
pub fn claim_name(cluster: &str) -> String {
    format!("{cluster}-tier2")
}

fn storage(capacity: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([("storage".to_string(), Quantity(capacity.to_string()))])
}

pub fn persistent_volume(cluster: &Cluster, spec: &FilestoreSpec) -> PersistentVolume {
    PersistentVolume {
        // No namespace: the object is cluster-scoped.
        metadata: ObjectMeta {
            name: Some(volume_name(cluster)),
            labels: Some(k8s::labels(&cluster.name, COMPONENT)),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            capacity: Some(storage(&spec.capacity)),
            access_modes: Some(vec![ACCESS_MODE.to_string()]),
            nfs: Some(NFSVolumeSource { server: spec.server.clone(), path: spec.path.clone(), read_only: None }),
            // Tier-2 holds the cluster's long-term data: deleting the claim must never wipe it.
            persistent_volume_reclaim_policy: Some("Retain".to_string()),
            // Empty, not unset: unset would let a default StorageClass provision a different volume.
            storage_class_name: Some(String::new()),
            // Reserves the volume for our claim, so that no other claim can bind it first.
            claim_ref: Some(ObjectReference {
                namespace: Some(cluster.namespace.clone()),
                name: Some(claim_name(&cluster.name)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    }
}

pub fn persistent_volume_claim(cluster: &Cluster, spec: &FilestoreSpec) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: k8s::meta(cluster, claim_name(&cluster.name), COMPONENT),
        spec: Some(PersistentVolumeClaimSpec {
            storage_class_name: Some(String::new()),
            access_modes: Some(vec![ACCESS_MODE.to_string()]),
            resources: Some(VolumeResourceRequirements { requests: Some(storage(&spec.capacity)), limits: None }),
            // Binds to our volume only, never to a dynamically provisioned one.
            volume_name: Some(volume_name(cluster)),
            ..Default::default()
        }),
        status: None,
    }
}

/// The provider's objects: the volume, then the claim that binds it.
pub fn objects(cluster: &Cluster, spec: &FilestoreSpec) -> Result<Vec<Value>, PluginError> {
    Ok(vec![k8s::document(&persistent_volume(cluster, spec))?, k8s::document(&persistent_volume_claim(cluster, spec))?])
}
