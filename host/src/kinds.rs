//! The one table of the kinds the operator manages: their API resource, scope, the capability a plugin
//! needs to emit them, and the wave they are applied in. The output policy, apply and prune, `record`
//! and the RBAC test of `deploy/role.yaml` all read it, so a new kind is added here once.

use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

/// When an object is applied: objects others refer to first, then the workloads that use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wave {
    Referenced,
    Workload,
}

#[derive(Debug)]
pub struct ManagedKind {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// The API resource (plural).
    pub plural: &'static str,
    pub namespaced: bool,
    /// Capability a plugin must have been granted to emit it.
    pub capability: Option<&'static str>,
    pub wave: Wave,
}

/// Capability that lets a Tier-2 provider emit PersistentVolumes.
pub const CAP_PERSISTENT_VOLUME: &str = "emits:PersistentVolume";
/// Capability that lets a Tier-2 provider mount an NFS share inline (not allowed by Pod Security
/// "restricted": the namespace then needs "baseline").
pub const CAP_NFS_VOLUME: &str = "volumes:nfs";

/// In apply order.
pub const MANAGED: &[ManagedKind] = &[
    ManagedKind {
        api_version: "v1",
        kind: "PersistentVolume",
        plural: "persistentvolumes",
        namespaced: false,
        capability: Some(CAP_PERSISTENT_VOLUME),
        wave: Wave::Referenced,
    },
    ManagedKind {
        api_version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        namespaced: true,
        capability: None,
        wave: Wave::Referenced,
    },
    ManagedKind {
        api_version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        namespaced: true,
        capability: None,
        wave: Wave::Referenced,
    },
    ManagedKind {
        api_version: "v1",
        kind: "Service",
        plural: "services",
        namespaced: true,
        capability: None,
        wave: Wave::Referenced,
    },
    ManagedKind {
        api_version: "policy/v1",
        kind: "PodDisruptionBudget",
        plural: "poddisruptionbudgets",
        namespaced: true,
        capability: None,
        wave: Wave::Referenced,
    },
    ManagedKind {
        api_version: "apps/v1",
        kind: "StatefulSet",
        plural: "statefulsets",
        namespaced: true,
        capability: None,
        wave: Wave::Workload,
    },
    ManagedKind {
        api_version: "apps/v1",
        kind: "Deployment",
        plural: "deployments",
        namespaced: true,
        capability: None,
        wave: Wave::Workload,
    },
    ManagedKind {
        api_version: "batch/v1",
        kind: "Job",
        plural: "jobs",
        namespaced: true,
        capability: None,
        wave: Wave::Workload,
    },
];

impl ManagedKind {
    /// The API resource the dynamic client reads and writes it through.
    pub fn api_resource(&self) -> ApiResource {
        let (group, version) = self.api_version.split_once('/').unwrap_or(("", self.api_version));
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, self.kind), self.plural)
    }
}

/// The managed kind `kind`, if it is one.
pub fn find(kind: &str) -> Option<&'static ManagedKind> {
    MANAGED.iter().find(|k| k.kind == kind)
}

/// The managed kind of a JSON object (by apiVersion and kind).
pub fn of(object: &Value) -> Option<&'static ManagedKind> {
    let api_version = object.get("apiVersion").and_then(Value::as_str)?;
    let kind = object.get("kind").and_then(Value::as_str)?;
    MANAGED.iter().find(|k| k.kind == kind && k.api_version == api_version)
}

/// Sort key giving a plan its apply order: by kind, then name.
pub fn apply_rank(object: &Value) -> (usize, String) {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    let rank = MANAGED.iter().position(|k| k.kind == kind).unwrap_or(MANAGED.len());
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    (rank, name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_unique_and_referenced_ones_come_first() {
        let mut kinds: Vec<&str> = MANAGED.iter().map(|k| k.kind).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), MANAGED.len());
        let waves: Vec<Wave> = MANAGED.iter().map(|k| k.wave).collect();
        assert!(waves.is_sorted(), "{waves:?}");
    }
}
