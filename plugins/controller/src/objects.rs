//! The controller's Service, Deployment and PodDisruptionBudget.

use crate::{COMPONENT, GRPC_PORT, REST_PORT};
use ecs_plugin_sdk::k8s::CpuMemory;
use ecs_plugin_sdk::{Cluster, k8s};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, Service, ServiceSpec};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const CONTAINER: &str = "ecs-controller";
pub const REST_PORT_NAME: &str = "rest";
pub const GRPC_PORT_NAME: &str = "grpc";

/// Name of every object this plugin emits: `<n>-ecs-controller`.
pub fn name(cluster: &str) -> String {
    format!("{cluster}-ecs-controller")
}

/// Used when the spec sets no resources.
pub const DEFAULT_REQUESTS: CpuMemory = CpuMemory { cpu: "250m", memory: "512Mi" };
pub const DEFAULT_LIMITS: CpuMemory = CpuMemory { cpu: "500m", memory: "1Gi" };

/// `<repository>:<version>` of the ECS image, the version chosen by the host (see [`k8s::image`]).
pub fn image(cluster: &Cluster, version: &str) -> String {
    k8s::image(&cluster.spec, &cluster.spec.ecs.image, version)
}

/// ClusterIP by default: the seed's cluster is reachable only from inside Kubernetes. External
/// access exposes the controller with the same Service type as the nodes.
pub fn service(cluster: &Cluster) -> Service {
    let n = &cluster.name;
    let access = &cluster.spec.external_access;
    let service_type = if access.enabled { access.service_type.as_str() } else { "ClusterIP" };
    Service {
        metadata: k8s::meta(cluster, name(n), COMPONENT),
        spec: Some(ServiceSpec {
            type_: Some(service_type.to_string()),
            ports: Some(vec![
                k8s::service_port(REST_PORT_NAME, REST_PORT),
                k8s::service_port(GRPC_PORT_NAME, GRPC_PORT),
            ]),
            selector: Some(k8s::labels(n, COMPONENT)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn deployment(cluster: &Cluster, image: &str) -> Deployment {
    let n = &cluster.name;
    let ecs = &cluster.spec.ecs;

    let container = Container {
        security_context: Some(k8s::container_security_context()),
        name: CONTAINER.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some(ecs.image.pull_policy.as_str().to_string()),
        // The ECS image runs the controller or a segment store node depending on its argument.
        args: Some(vec!["controller".to_string()]),
        ports: Some(vec![
            k8s::container_port(REST_PORT_NAME, REST_PORT),
            k8s::container_port(GRPC_PORT_NAME, GRPC_PORT),
        ]),
        env_from: Some(vec![k8s::env_from_config_map(&name(n))]),
        // The pod's own identity, which the controller advertises.
        env: Some(k8s::pod_identity_env()),
        // Ready once clients can reach gRPC; alive as long as the REST server answers.
        readiness_probe: Some(k8s::tcp_probe(GRPC_PORT, 20, 10)),
        liveness_probe: Some(k8s::tcp_probe(REST_PORT, 60, 15)),
        resources: Some(k8s::resources_with_defaults(
            ecs.controller_resources.as_ref(),
            DEFAULT_REQUESTS,
            DEFAULT_LIMITS,
        )),
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
                    security_context: Some(k8s::pod_security_context()),
                    // Spread over hosts, yet still schedulable on a cluster with fewer hosts than controllers.
                    affinity: Some(k8s::spread_by_host(n, COMPONENT)),
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
