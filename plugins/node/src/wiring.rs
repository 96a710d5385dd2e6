//! The Tier-2 provider's volumes and mounts, checked before they go into the pod template: a malformed
//! one should fail here with its name, not as an opaque API server rejection.
//!
//! They stay JSON: the host has already held each one to its allowed shape (sources, field types), and
//! decoding them into k8s-openapi `Volume`s would cost the plugin the whole `Volume` deserializer
//! (~100 KiB of WebAssembly) for checks of names and paths.

use ecs_plugin_sdk::{PluginError, Tier2Wiring};
use serde_json::Value;

/// Name of the node's own cache volume (its volumeClaimTemplate).
pub const CACHE_VOLUME: &str = "cache";
/// Where the cache volume is mounted.
pub const CACHE_PATH: &str = "/tmp/ecs/cache";

/// Checks the provider's pod volumes and container mounts against the node pod's own.
pub fn check(tier2: &Tier2Wiring) -> Result<(), PluginError> {
    let mut names: Vec<&str> = vec![CACHE_VOLUME];
    for (i, volume) in tier2.volumes.iter().enumerate() {
        let name = field(volume, "name").ok_or_else(|| {
            PluginError::Failed(format!("Tier-2 volume #{i} is not an object with a string name: {volume}"))
        })?;
        if name.is_empty() {
            return Err(PluginError::Failed(format!("a Tier-2 volume has no name: {volume}")));
        }
        if names.contains(&name) {
            return Err(PluginError::Failed(format!(
                "Tier-2 volume {name:?} clashes with another volume of the node pods"
            )));
        }
        // Kubernetes would make a volume without a source an emptyDir: Tier-2 data on scratch space.
        if volume.as_object().is_none_or(|o| o.keys().all(|k| k == "name")) {
            return Err(PluginError::Failed(format!("Tier-2 volume {name:?} has no volume source")));
        }
        names.push(name);
    }
    let mut paths: Vec<&str> = vec![CACHE_PATH];
    for (i, mount) in tier2.mounts.iter().enumerate() {
        let (Some(name), Some(path)) = (field(mount, "name"), field(mount, "mountPath")) else {
            let name = field(mount, "name").map(|n| format!(" {n:?}")).unwrap_or_default();
            return Err(PluginError::Failed(format!(
                "Tier-2 volume mount #{i}{name} needs a string name and mountPath: {mount}"
            )));
        };
        if !names[1..].contains(&name) {
            return Err(PluginError::Failed(format!("Tier-2 volume mount {name:?} refers to no Tier-2 volume")));
        }
        if !path.starts_with('/') {
            return Err(PluginError::Failed(format!(
                "Tier-2 volume mount {name:?} needs an absolute mountPath, not {path:?}"
            )));
        }
        if paths.contains(&path) {
            return Err(PluginError::Failed(format!(
                "Tier-2 volume mount {name:?} at {path} clashes with another mount of the node container"
            )));
        }
        paths.push(path);
    }
    Ok(())
}

/// Adds the provider's volumes (checked by [`check`]) to the StatefulSet document's pod template,
/// in the provider's order, and its mounts after the cache's in the first container.
pub fn apply(tier2: &Tier2Wiring, stateful_set: &mut Value) -> Result<(), PluginError> {
    let missing = |what: &str| PluginError::Failed(format!("the node StatefulSet has no {what}"));
    let pod = stateful_set.pointer_mut("/spec/template/spec").ok_or_else(|| missing("pod template"))?;
    if !tier2.volumes.is_empty() {
        pod["volumes"] = Value::Array(tier2.volumes.clone());
    }
    let mounts = pod
        .pointer_mut("/containers/0/volumeMounts")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| missing("container volume mounts"))?;
    mounts.extend(tier2.mounts.iter().cloned());
    Ok(())
}

fn field<'a>(document: &'a Value, key: &str) -> Option<&'a str> {
    document.get(key).and_then(Value::as_str)
}
