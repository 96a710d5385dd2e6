//! The controller's Service, Deployment and PodDisruptionBudget.

use crate::{COMPONENT, GRPC_PORT, REST_PORT};
use ecs_plugin_sdk::{Cluster, k8s};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar, EnvVarSource, ObjectFieldSelector,
    PodAffinityTerm, PodAntiAffinity, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Service, ServicePort,
    ServiceSpec, TCPSocketAction, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

pub const CONTAINER: &str = "ecs-controller";
pub const REST_PORT_NAME: &str = "rest";
pub const GRPC_PORT_NAME: &str = "grpc";

/// Name of every object this plugin emits: `<n>-ecs-controller`.
pub fn name(cluster: &str) -> String {
    format!("{cluster}-ecs-controller")
}

/// `<repository>:<version>`: the version comes from the host, which may be rolling an upgrade, so
/// the spec's `image.tag` is never used directly. An empty version (offline rendering) falls back to
/// the version the spec targets.
pub fn image(cluster: &Cluster, version: &str) -> String {
    let spec = &cluster.spec;
    let image = &spec.ecs.image;
    let version = match version {
        "" => spec.target_version(image),
        v => v.to_string(),
    };
    format!("{}:{version}", image.repository)
}

/// ClusterIP by default: the seed's cluster is reachable only from inside Kubernetes. External
/// access exposes the controller with the same Service type as the nodes.
pub fn service(cluster: &Cluster) -> Service {
    let n = &cluster.name;
    let access = &cluster.spec.external_access;
    let service_type = if access.enabled { access.service_type.as_str() } else { "ClusterIP" };
    let port = |name: &str, port: i32| ServicePort {
        name: Some(name.to_string()),
        port,
        protocol: Some("TCP".to_string()),
        target_port: Some(IntOrString::Int(port)),
        ..Default::default()
    };
    Service {
        metadata: k8s::meta(cluster, name(n), COMPONENT),
        spec: Some(ServiceSpec {
            type_: Some(service_type.to_string()),
            ports: Some(vec![port(REST_PORT_NAME, REST_PORT), port(GRPC_PORT_NAME, GRPC_PORT)]),
            selector: Some(k8s::labels(n, COMPONENT)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn deployment(cluster: &Cluster, image: &str) -> Deployment {
    let n = &cluster.name;
    let ecs = &cluster.spec.ecs;

    let container_port = |name: &str, port: i32| ContainerPort {
        name: Some(name.to_string()),
        container_port: port,
        protocol: Some("TCP".to_string()),
        ..Default::default()
    };
    let tcp_probe = |port: i32, initial_delay: i32, period: i32| Probe {
        tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(port), ..Default::default() }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(period),
        ..Default::default()
    };
    let container = Container {
        name: CONTAINER.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some(ecs.image.pull_policy.as_str().to_string()),
        // The ECS image runs the controller or a segment store node depending on its argument.
        args: Some(vec!["controller".to_string()]),
        ports: Some(vec![container_port(REST_PORT_NAME, REST_PORT), container_port(GRPC_PORT_NAME, GRPC_PORT)]),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource { name: name(n), ..Default::default() }),
            ..Default::default()
        }]),
        // The pod's own identity, which the controller advertises.
        env: Some(vec![field_env("POD_NAME", "metadata.name"), field_env("POD_NAMESPACE", "metadata.namespace")]),
        // Ready once clients can reach gRPC; alive as long as the REST server answers.
        readiness_probe: Some(tcp_probe(GRPC_PORT, 20, 10)),
        liveness_probe: Some(tcp_probe(REST_PORT, 60, 15)),
        resources: Some(ecs.controller_resources.clone().unwrap_or_else(default_resources)),
        ..Default::default()
    };

    Deployment {
        metadata: k8s::meta(cluster, name(n), COMPONENT),
        spec: DeploymentSpec {
            replicas: Some(ecs.controller_replicas),
            selector: k8s::selector(n, COMPONENT),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(k8s::labels(n, COMPONENT)), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    affinity: Some(spread_by_host(n)),
                    service_account_name: ecs.controller_service_account_name.clone(),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Keeps one controller up during voluntary disruptions (node drains).
pub fn pod_disruption_budget(cluster: &Cluster) -> PodDisruptionBudget {
    let n = &cluster.name;
    PodDisruptionBudget {
        metadata: k8s::meta(cluster, name(n), COMPONENT),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(k8s::selector(n, COMPONENT)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn field_env(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: field_path.to_string(), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Preferred (not required) anti-affinity: spread controllers over nodes, yet still schedule on a
/// cluster with fewer nodes than controllers.
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

/// Used when the spec sets no resources.
pub fn default_resources() -> ResourceRequirements {
    let quantities = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.to_string())),
            ("memory".to_string(), Quantity(memory.to_string())),
        ])
    };
    ResourceRequirements {
        requests: Some(quantities("250m", "512Mi")),
        limits: Some(quantities("500m", "1Gi")),
        ..Default::default()
    }
}
