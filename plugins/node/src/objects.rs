//! The node's Services, StatefulSet and PodDisruptionBudget.

use crate::wiring::{CACHE_PATH, CACHE_VOLUME, PodWiring};
use crate::{COMPONENT, SERVER_PORT};
use ecs_plugin_sdk::{Cluster, Tier2Wiring, k8s};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar, EnvVarSource, ObjectFieldSelector,
    PersistentVolumeClaim, PodAffinityTerm, PodAntiAffinity, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SecretEnvSource, Service, ServicePort, ServiceSpec, TCPSocketAction, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
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

/// `<repository>:<version>`; the host chooses the version (it differs from the spec's mid-upgrade).
pub fn image(cluster: &Cluster, version: &str) -> String {
    let image = &cluster.spec.ecs.image;
    // An empty version only comes from offline rendering that did not choose one: use the spec's.
    let version = if version.is_empty() { cluster.spec.target_version(image) } else { version.to_string() };
    format!("{}:{version}", image.repository)
}

fn server_port() -> ServicePort {
    ServicePort { name: Some(PORT_NAME.to_string()), port: SERVER_PORT, ..Default::default() }
}

/// Gives every node pod a stable DNS name (the StatefulSet's `serviceName`).
pub fn headless_service(cluster: &Cluster) -> Service {
    Service {
        metadata: k8s::meta(cluster, headless_service_name(&cluster.name), COMPONENT),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_string()),
            ports: Some(vec![server_port()]),
            selector: Some(k8s::labels(&cluster.name, COMPONENT)),
            // Nodes resolve each other while starting, before they are ready.
            publish_not_ready_addresses: Some(true),
            ..Default::default()
        }),
        status: None,
    }
}

fn default_resources() -> ResourceRequirements {
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

fn tcp_probe(initial_delay_seconds: i32, period_seconds: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(SERVER_PORT), host: None }),
        initial_delay_seconds: Some(initial_delay_seconds),
        period_seconds: Some(period_seconds),
        ..Default::default()
    }
}

fn field_env(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: field_path.to_string(), api_version: None }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The ConfigMap first, then each provider Secret under its prefix.
fn env_from(cluster: &Cluster, tier2: &Tier2Wiring) -> Vec<EnvFromSource> {
    let config = EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource { name: stateful_set_name(&cluster.name), optional: None }),
        ..Default::default()
    };
    let secrets = tier2.secret_env.iter().map(|s| EnvFromSource {
        secret_ref: Some(SecretEnvSource { name: s.secret_name.clone(), optional: None }),
        prefix: Some(s.prefix.clone()),
        ..Default::default()
    });
    std::iter::once(config).chain(secrets).collect()
}

/// Spreads the nodes over hosts when it can, without blocking scheduling when it cannot.
fn anti_affinity(cluster: &Cluster) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                weight: 100,
                pod_affinity_term: PodAffinityTerm {
                    label_selector: Some(k8s::selector(&cluster.name, COMPONENT)),
                    topology_key: "kubernetes.io/hostname".to_string(),
                    ..Default::default()
                },
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn stateful_set(cluster: &Cluster, image: &str, tier2: &Tier2Wiring, pod_wiring: &PodWiring) -> StatefulSet {
    let n = &cluster.name;
    let ecs = &cluster.spec.ecs;
    let labels = k8s::labels(n, COMPONENT);

    let cache_mount =
        VolumeMount { name: CACHE_VOLUME.to_string(), mount_path: CACHE_PATH.to_string(), ..Default::default() };
    let container = Container {
        name: CONTAINER.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some(ecs.image.pull_policy.as_str().to_string()),
        args: Some(vec!["segmentstore".to_string()]),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_string()),
            container_port: SERVER_PORT,
            ..Default::default()
        }]),
        env_from: Some(env_from(cluster, tier2)),
        env: Some(vec![field_env("POD_NAME", "metadata.name"), field_env("POD_NAMESPACE", "metadata.namespace")]),
        volume_mounts: Some(std::iter::once(cache_mount).chain(pod_wiring.mounts.iter().cloned()).collect()),
        readiness_probe: Some(tcp_probe(20, 10)),
        // Later and sparser than readiness: a node recovering its containers must not be killed for it.
        liveness_probe: Some(tcp_probe(60, 15)),
        resources: Some(ecs.node_resources.clone().unwrap_or_else(default_resources)),
        ..Default::default()
    };
    let cache_claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(CACHE_VOLUME.to_string()),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        spec: Some(ecs.cache_volume_claim_template.clone()),
        status: None,
    };

    StatefulSet {
        metadata: k8s::meta(cluster, stateful_set_name(n), COMPONENT),
        spec: StatefulSetSpec {
            // The Service that exists (upstream named one that did not, so pods had no stable DNS).
            service_name: Some(headless_service_name(n)),
            replicas: Some(ecs.node_replicas),
            // Nodes do not depend on each other to start; one at a time would only slow recovery.
            pod_management_policy: Some("Parallel".to_string()),
            selector: k8s::selector(n, COMPONENT),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    volumes: (!pod_wiring.volumes.is_empty()).then(|| pod_wiring.volumes.clone()),
                    affinity: Some(anti_affinity(cluster)),
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
                    ports: Some(vec![server_port()]),
                    selector: Some(BTreeMap::from([(k8s::LABEL_POD_NAME.to_string(), pod)])),
                    // Keeps the client's source address and avoids a second hop to another host.
                    external_traffic_policy: Some("Local".to_string()),
                    ..Default::default()
                }),
                status: None,
            }
        })
        .collect()
}
