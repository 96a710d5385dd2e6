//! The bookies' Service, StatefulSet and PodDisruptionBudget.

use crate::config::{INDEX_DIR, JOURNAL_DIR, LEDGERS_DIR};
use crate::{BOOKIE_PORT, COMPONENT};
use ecs_plugin_sdk::{Cluster, k8s};
use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, ExecAction, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PodAffinityTerm, PodAntiAffinity, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    Service, ServicePort, ServiceSpec, TCPSocketAction, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

pub const PORT_NAME: &str = "bookie";
pub const CONTAINER: &str = "bookie";

/// Claim template (and volume) names; a bookie's claims are `<template>-<n>-bookie-<i>`.
pub const LEDGER: &str = "ledger";
pub const JOURNAL: &str = "journal";
pub const INDEX: &str = "index";

/// Name of the StatefulSet, the ConfigMap and the PodDisruptionBudget.
pub fn stateful_set_name(cluster: &str) -> String {
    format!("{cluster}-bookie")
}

pub fn headless_service_name(cluster: &str) -> String {
    format!("{cluster}-bookie-headless")
}

/// `<repository>:<version>`: the version comes from the host, which may be rolling an upgrade, so
/// the spec's `image.tag` is never used directly. An empty version (offline rendering) falls back to
/// the version the spec targets.
pub fn image(cluster: &Cluster, version: &str) -> String {
    let spec = &cluster.spec;
    let image = &spec.bookkeeper.image;
    let version = match version {
        "" => spec.target_version(image),
        v => v.to_string(),
    };
    format!("{}:{version}", image.repository)
}

/// Headless, so that each bookie gets a stable DNS name; not-ready addresses are published because
/// bookies must find each other (and ZooKeeper registration must resolve) before they turn ready.
pub fn headless_service(cluster: &Cluster) -> Service {
    let n = &cluster.name;
    Service {
        metadata: k8s::meta(cluster, headless_service_name(n), COMPONENT),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_string()),
            publish_not_ready_addresses: Some(true),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_string()),
                port: BOOKIE_PORT,
                protocol: Some("TCP".to_string()),
                target_port: Some(IntOrString::Int(BOOKIE_PORT)),
                ..Default::default()
            }]),
            selector: Some(k8s::labels(n, COMPONENT)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn stateful_set(cluster: &Cluster, image: &str) -> StatefulSet {
    let n = &cluster.name;
    let bk = &cluster.spec.bookkeeper;
    let storage = &bk.storage;

    let mut claims = vec![
        claim_template(cluster, LEDGER, &storage.ledger_volume_claim_template),
        claim_template(cluster, JOURNAL, &storage.journal_volume_claim_template),
    ];
    // Each volume to its own directory: upstream v0.1 swapped ledger and journal.
    let mut mounts = vec![mount(LEDGER, LEDGERS_DIR), mount(JOURNAL, JOURNAL_DIR)];
    if let Some(index) = &storage.index_volume_claim_template {
        claims.push(claim_template(cluster, INDEX, index));
        mounts.push(mount(INDEX, INDEX_DIR));
    }

    let container = Container {
        name: CONTAINER.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some(bk.image.pull_policy.as_str().to_string()),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_string()),
            container_port: BOOKIE_PORT,
            protocol: Some("TCP".to_string()),
            ..Default::default()
        }]),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource { name: stateful_set_name(n), ..Default::default() }),
            ..Default::default()
        }]),
        volume_mounts: Some(mounts),
        // Ready only once the bookie can write and read a ledger, not merely listen.
        readiness_probe: Some(Probe {
            exec: Some(ExecAction {
                command: Some(
                    ["/bin/sh", "-c", "/opt/bookkeeper/bin/bookkeeper shell bookiesanity"].map(String::from).to_vec(),
                ),
            }),
            initial_delay_seconds: Some(20),
            period_seconds: Some(10),
            timeout_seconds: Some(5),
            ..Default::default()
        }),
        // A cheap port check: a slow sanity test must not get a busy bookie killed.
        liveness_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(BOOKIE_PORT), ..Default::default() }),
            initial_delay_seconds: Some(60),
            period_seconds: Some(15),
            ..Default::default()
        }),
        resources: Some(bk.resources.clone().unwrap_or_else(default_resources)),
        ..Default::default()
    };

    StatefulSet {
        metadata: k8s::meta(cluster, stateful_set_name(n), COMPONENT),
        spec: StatefulSetSpec {
            // Must name the governing headless Service (upstream got it wrong) for per-pod DNS.
            service_name: Some(headless_service_name(n)),
            replicas: Some(bk.replicas),
            // Bookies do not depend on each other's ordinal order; starting them together is faster.
            pod_management_policy: Some("Parallel".to_string()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_string()),
                ..Default::default()
            }),
            // Data safety: bookie claims outlive scale-down and deletion; only a human removes them.
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Retain".to_string()),
                when_scaled: Some("Retain".to_string()),
            }),
            selector: k8s::selector(n, COMPONENT),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(k8s::labels(n, COMPONENT)), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    affinity: Some(spread_by_host(n)),
                    service_account_name: bk.service_account_name.clone(),
                    termination_grace_period_seconds: Some(30),
                    ..Default::default()
                }),
            },
            volume_claim_templates: Some(claims),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// At most one bookie down at a time, voluntarily: the write quorum stays available.
pub fn pod_disruption_budget(cluster: &Cluster) -> PodDisruptionBudget {
    let n = &cluster.name;
    PodDisruptionBudget {
        metadata: k8s::meta(cluster, stateful_set_name(n), COMPONENT),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(k8s::selector(n, COMPONENT)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn claim_template(cluster: &Cluster, name: &str, spec: &PersistentVolumeClaimSpec) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(k8s::labels(&cluster.name, COMPONENT)),
            ..Default::default()
        },
        spec: Some(spec.clone()),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount { name: name.to_string(), mount_path: path.to_string(), ..Default::default() }
}

/// Preferred (not required) anti-affinity: spread bookies over nodes, yet still schedule on a small
/// cluster with fewer nodes than bookies.
fn spread_by_host(cluster: &str) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                weight: 100,
                pod_affinity_term: PodAffinityTerm {
                    label_selector: Some(k8s::selector(cluster, COMPONENT)),
                    topology_key: "kubernetes.io/hostname".to_string(),
                    ..Default::default()
                },
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Used when the spec sets no resources: a bookie needs its heap plus direct memory.
pub fn default_resources() -> ResourceRequirements {
    let quantities = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.to_string())),
            ("memory".to_string(), Quantity(memory.to_string())),
        ])
    };
    ResourceRequirements {
        requests: Some(quantities("500m", "1Gi")),
        limits: Some(quantities("1", "2Gi")),
        ..Default::default()
    }
}
