//! The bookies' Service, StatefulSet and PodDisruptionBudget.

use crate::config::{INDEX_DIR, JOURNAL_DIR, LEDGERS_DIR};
use crate::{BOOKIE_PORT, COMPONENT};
use ecs_plugin_sdk::k8s::CpuMemory;
use ecs_plugin_sdk::{Cluster, k8s};
use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{Container, ExecAction, PodSpec, PodTemplateSpec, Probe, Service, ServiceSpec};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

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

/// Used when the spec sets no resources: a bookie needs its heap plus direct memory.
pub const DEFAULT_REQUESTS: CpuMemory = CpuMemory { cpu: "500m", memory: "1Gi" };
pub const DEFAULT_LIMITS: CpuMemory = CpuMemory { cpu: "1", memory: "2Gi" };

/// `<repository>:<version>` of the bookie image, the version chosen by the host (see [`k8s::image`]).
pub fn image(cluster: &Cluster, version: &str) -> String {
    k8s::image(&cluster.spec, &cluster.spec.bookkeeper.image, version)
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
            ports: Some(vec![k8s::service_port(PORT_NAME, BOOKIE_PORT)]),
            selector: Some(k8s::labels(n, COMPONENT)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The bookies' StatefulSet with `replicas` bookies (fewer than the spec's while a scale-down runs).
pub fn stateful_set(cluster: &Cluster, image: &str, replicas: i32) -> StatefulSet {
    let n = &cluster.name;
    let bk = &cluster.spec.bookkeeper;
    let storage = &bk.storage;

    let mut claims = vec![
        k8s::volume_claim_template(n, COMPONENT, LEDGER, &storage.ledger_volume_claim_template),
        k8s::volume_claim_template(n, COMPONENT, JOURNAL, &storage.journal_volume_claim_template),
    ];
    // Each volume to its own directory: upstream v0.1 swapped ledger and journal.
    let mut mounts = vec![k8s::volume_mount(LEDGER, LEDGERS_DIR), k8s::volume_mount(JOURNAL, JOURNAL_DIR)];
    if let Some(index) = &storage.index_volume_claim_template {
        claims.push(k8s::volume_claim_template(n, COMPONENT, INDEX, index));
        mounts.push(k8s::volume_mount(INDEX, INDEX_DIR));
    }

    let container = Container {
        security_context: Some(k8s::container_security_context()),
        name: CONTAINER.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some(bk.image.pull_policy.as_str().to_string()),
        ports: Some(vec![k8s::container_port(PORT_NAME, BOOKIE_PORT)]),
        env_from: Some(vec![k8s::env_from_config_map(&stateful_set_name(n))]),
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
        liveness_probe: Some(k8s::tcp_probe(BOOKIE_PORT, 60, 15)),
        resources: Some(k8s::resources_with_defaults(bk.resources.as_ref(), DEFAULT_REQUESTS, DEFAULT_LIMITS)),
        ..Default::default()
    };

    StatefulSet {
        metadata: k8s::meta(cluster, stateful_set_name(n), COMPONENT),
        spec: StatefulSetSpec {
            // Must name the governing headless Service (upstream got it wrong) for per-pod DNS.
            service_name: Some(headless_service_name(n)),
            replicas: Some(replicas),
            // Bookies do not depend on each other's ordinal order; starting them together is faster.
            pod_management_policy: Some("Parallel".to_string()),
            // The host restarts bookies one at a time, readiness-gated, as upgrades need.
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".to_string()),
                ..Default::default()
            }),
            // Data safety: bookie claims outlive scale-down and deletion; the host deletes a removed
            // bookie's claims only once its decommission succeeded.
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Retain".to_string()),
                when_scaled: Some("Retain".to_string()),
            }),
            selector: k8s::selector(n, COMPONENT),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(k8s::labels(n, COMPONENT)), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    security_context: Some(k8s::pod_security_context()),
                    // Spread over hosts, yet still schedulable on a small cluster with fewer hosts than bookies.
                    affinity: Some(k8s::spread_by_host(n, COMPONENT)),
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
