//! What the nodes need to use the share: the same FILESYSTEM settings, volume and mount as the NFS
//! provider, on the claim this provider creates.

use ecs_plugin_sdk::{EnvVar, PluginError, Tier2Wiring, k8s};
use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, Volume, VolumeMount};

/// Name of the pod volume (and its mount) that holds Tier-2.
pub const VOLUME: &str = "tier2";
/// Where the nodes see Tier-2 (`NFS_MOUNT`).
pub const MOUNT_PATH: &str = "/mnt/tier2";

pub fn wiring(claim_name: &str) -> Result<Tier2Wiring, PluginError> {
    let volume = Volume {
        name: VOLUME.to_string(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim_name.to_string(),
            read_only: None,
        }),
        ..Default::default()
    };
    let mount = VolumeMount { name: VOLUME.to_string(), mount_path: MOUNT_PATH.to_string(), ..Default::default() };
    Ok(Tier2Wiring {
        env: vec![EnvVar::new("TIER2_STORAGE", "FILESYSTEM"), EnvVar::new("NFS_MOUNT", MOUNT_PATH)],
        volumes: vec![k8s::document(&volume)?],
        mounts: vec![k8s::document(&mount)?],
        ..Default::default()
    })
}
