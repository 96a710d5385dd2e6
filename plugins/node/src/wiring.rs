//! The Tier-2 provider's volumes and mounts, typed and checked before they go into the pod template: a
//! malformed one should fail here with its name, not as an opaque API server rejection.

use ecs_plugin_sdk::{PluginError, Tier2Wiring};
use k8s_openapi::api::core::v1::{Volume, VolumeMount};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Name of the node's own cache volume (its volumeClaimTemplate).
pub const CACHE_VOLUME: &str = "cache";
/// Where the cache volume is mounted.
pub const CACHE_PATH: &str = "/tmp/ecs/cache";

/// The provider's pod volumes and container mounts, in the provider's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodWiring {
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
}

impl PodWiring {
    pub fn decode(tier2: &Tier2Wiring) -> Result<Self, PluginError> {
        let volumes: Vec<Volume> = decode_all(&tier2.volumes, "volume")?;
        let mounts: Vec<VolumeMount> = decode_all(&tier2.mounts, "volume mount")?;

        // k8s-openapi reads a missing required field as empty, so the checks below stand in for them.
        let mut names: Vec<&str> = vec![CACHE_VOLUME];
        for (volume, document) in volumes.iter().zip(&tier2.volumes) {
            if volume.name.is_empty() {
                return Err(PluginError::Failed(format!("a Tier-2 volume has no name: {document}")));
            }
            if names.contains(&volume.name.as_str()) {
                return Err(PluginError::Failed(format!(
                    "Tier-2 volume {:?} clashes with another volume of the node pods",
                    volume.name
                )));
            }
            // Kubernetes would make a volume without a source an emptyDir: Tier-2 data on scratch space.
            if document.as_object().is_none_or(|o| o.keys().all(|k| k == "name")) {
                return Err(PluginError::Failed(format!("Tier-2 volume {:?} has no volume source", volume.name)));
            }
            names.push(&volume.name);
        }
        let mut paths: Vec<&str> = vec![CACHE_PATH];
        for mount in &mounts {
            if !volumes.iter().any(|v| v.name == mount.name) {
                return Err(PluginError::Failed(format!(
                    "Tier-2 volume mount {:?} refers to no Tier-2 volume",
                    mount.name
                )));
            }
            if !mount.mount_path.starts_with('/') {
                return Err(PluginError::Failed(format!(
                    "Tier-2 volume mount {:?} needs an absolute mountPath, not {:?}",
                    mount.name, mount.mount_path
                )));
            }
            if paths.contains(&mount.mount_path.as_str()) {
                return Err(PluginError::Failed(format!(
                    "Tier-2 volume mount {:?} at {} clashes with another mount of the node container",
                    mount.name, mount.mount_path
                )));
            }
            paths.push(&mount.mount_path);
        }
        Ok(PodWiring { volumes, mounts })
    }
}

fn decode_all<T: DeserializeOwned>(documents: &[Value], what: &str) -> Result<Vec<T>, PluginError> {
    documents
        .iter()
        .enumerate()
        .map(|(i, document)| {
            serde_json::from_value(document.clone()).map_err(|e| {
                let name = document.get("name").and_then(Value::as_str).map(|n| format!(" {n:?}")).unwrap_or_default();
                PluginError::Failed(format!("Tier-2 {what} #{i}{name} is not a valid Kubernetes {what}: {e}"))
            })
        })
        .collect()
}
