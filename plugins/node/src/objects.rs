//! The node's Services, StatefulSet and PodDisruptionBudget.

use crate::wiring::{CACHE_PATH, CACHE_VOLUME};
use crate::{COMPONENT, SERVER_PORT};
use ecs_plugin_sdk::k8s::CpuMemory;
use ecs_plugin_sdk::{Cluster, Tier2Wiring, k8s};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, PodSpec, PodTemplateSpec, SecretEnvSource, Service, ServiceSpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

const CONTAINER: &str = "ecs-node";
const PORT_NAME: &str = "server";
/// Annotation read by external-dns to publish a node's external address.
pub const EXTERNAL_DNS_HOSTNAME: &str = "external-dns.alpha.kubernetes.io/hostname";

pub fn stateful_set_name(cluster: &str) -> String {
    format!("{cluster}-ecs-node")
}

pub fn headless_service_name(cluster: &str) -> String {
    format!("{cluster}-ecs-node-headless")
}

/// Pod `i` of the StatefulSet, and the name of its external Service.
pub fn pod_name(cluster: &str, i: i32) -> String {
    format!("{}-{i}", stateful_set_name(cluster))
}

/// Used when the spec sets no resources.
pub const DEFAULT_REQUESTS: CpuMemory = CpuMemory { cpu: "500m", memory: "1Gi" };
pub const DEFAULT_LIMITS: CpuMemory = CpuMemory { cpu: "1", memory: "2Gi" };

/// `<repository>:<version>` of the ECS image; the host chooses the version (it differs from the spec's
/// mid-upgrade; see [`k8s::image`]).
pub fn image(cluster: &Cluster, version: &str) -> String {
    k8s::image(&cluster.spec, &cluster.spec.ecs.image, version)
}

/// Gives every node pod a stable DNS name (the StatefulSet's `serviceName`).
pub fn headless_service(cluster: &Cluster) -> Service {
    Service {
        metadata: k8s::meta(cluster, headless_service_name(&cluster.name), COMPONENT),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_string()),
            ports: Some(vec![k8s::service_port(PORT_NAME, SERVER_PORT)]),
            selector: Some(k8s::labels(&cluster.name, COMPONENT)),
            // Nodes resolve each other while starting, before they are ready.
            publish_not_ready_addresses: Some(true),
            ..Default::default()
        }),
        status: None,
    }
}

/// The ConfigMap first, then each provider Secret under its prefix.
fn env_from(cluster: &Cluster, tier2: &Tier2Wiring) -> Vec<EnvFromSource> {
    let config = k8s::env_from_config_map(&stateful_set_name(&cluster.name));
    let secrets = tier2.secret_env.iter().map(|s| EnvFromSource {
        secret_ref: Some(SecretEnvSource { name: s.secret_name.clone(), optional: None }),
        prefix: Some(s.prefix.clone()),
        ..Default::default()
    });
    std::iter::once(config).chain(secrets).collect()
}

/// Without the Tier-2 volumes and mounts: [`crate::wiring::apply`] adds them to the document.
pub fn stateful_set(cluster: &Cluster, image: &str, tier2: &Tier2Wiring) -> StatefulSet {
    let n = &cluster.name;
    let ecs = &cluster.spec.ecs;
    let labels = k8s::labels(n, COMPONENT);

    let cache_mount = k8s::volume_mount(CACHE_VOLUME, CACHE_PATH);
    let container = Container {
        security_context: Some(k8s::container_security_context()),
        name: CONTAINER.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some(ecs.image.pull_policy.as_str().to_string()),
        args: Some(vec!["segmentstore".to_string()]),
        // Without a protocol (TCP, the default), unlike the other components' container ports: stating it
        // would change the pod template, and so roll every node.
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_string()),
            container_port: SERVER_PORT,
            ..Default::default()
        }]),
        env_from: Some(env_from(cluster, tier2)),
        env: Some(k8s::pod_identity_env()),
        volume_mounts: Some(vec![cache_mount]),
        readiness_probe: Some(k8s::tcp_probe(SERVER_PORT, 20, 10)),
        // Later and sparser than readiness: a node recovering its containers must not be killed for it.
        liveness_probe: Some(k8s::tcp_probe(SERVER_PORT, 60, 15)),
        resources: Some(k8s::resources_with_defaults(ecs.node_resources.as_ref(), DEFAULT_REQUESTS, DEFAULT_LIMITS)),
        ..Default::default()
    };
    let cache_claim = k8s::volume_claim_template(n, COMPONENT, CACHE_VOLUME, &ecs.cache_volume_claim_template);

    StatefulSet {
        metadata: k8s::meta(cluster, stateful_set_name(n), COMPONENT),
        spec: StatefulSetSpec {
            // The Service that exists (upstream named one that did not, so pods had no stable DNS).
            service_name: Some(headless_service_name(n)),
            replicas: Some(ecs.node_replicas),
            // Nodes do not depend on each other to start; one at a time would only slow recovery.
            pod_management_policy: Some("Parallel".to_string()),
            // A cache is only a cache: a scale-down keeps or drops it as the spec says; deleting the
            // cluster leaves it to whoever deletes the namespace.
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Retain".to_string()),
                when_scaled: Some(ecs.cache_volume_claim_retention.as_str().to_string()),
            }),
            selector: k8s::selector(n, COMPONENT),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    security_context: Some(k8s::pod_security_context()),
                    // Spreads the nodes over hosts when it can, without blocking scheduling when it cannot.
                    affinity: Some(k8s::spread_by_host(n, COMPONENT)),
                    service_account_name: ecs.node_service_account_name.clone(),
                    ..Default::default()
                }),
            },
            volume_claim_templates: Some(vec![cache_claim]),
            ..Default::default()
        },
        status: None,
    }
}

/// A single node may not be evicted at all (it would take the whole data plane down); of several, one
/// at a time.
pub fn pod_disruption_budget(cluster: &Cluster) -> PodDisruptionBudget {
    let max_unavailable = if cluster.spec.ecs.node_replicas == 1 { 0 } else { 1 };
    PodDisruptionBudget {
        metadata: k8s::meta(cluster, stateful_set_name(&cluster.name), COMPONENT),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(max_unavailable)),
            selector: Some(k8s::selector(&cluster.name, COMPONENT)),
            ..Default::default()
        }),
        status: None,
    }
}

/// With external access, one Service per node pod: clients talk to the node owning a segment directly,
/// so each node needs an address of its own.
pub fn external_services(cluster: &Cluster) -> Vec<Service> {
    let external = &cluster.spec.external_access;
    if !external.enabled {
        return Vec::new();
    }
    (0..cluster.spec.ecs.node_replicas)
        .map(|i| {
            let pod = pod_name(&cluster.name, i);
            let mut metadata = k8s::meta(cluster, pod.clone(), COMPONENT);
            if let Some(domain) = &external.domain_name {
                // Fully qualified (trailing dot), so that resolvers do not append a search domain.
                metadata.annotations =
                    Some(BTreeMap::from([(EXTERNAL_DNS_HOSTNAME.to_string(), format!("{pod}.{domain}."))]));
            }
            Service {
                metadata,
                spec: Some(ServiceSpec {
                    type_: Some(external.service_type.as_str().to_string()),
                    ports: Some(vec![k8s::service_port(PORT_NAME, SERVER_PORT)]),
                    // The cluster's labels too: a selector picks only this cluster's pods (the operator's rule).
                    selector: Some({
                        let mut selector = k8s::labels(&cluster.name, COMPONENT);
                        selector.insert(k8s::LABEL_POD_NAME.to_string(), pod);
                        selector
                    }),
                    // Keeps the client's source address and avoids a second hop to another host.
                    external_traffic_policy: Some("Local".to_string()),
                    ..Default::default()
                }),
                status: None,
            }
        })
        .collect()
}
