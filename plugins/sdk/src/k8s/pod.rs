//! Pieces of pod templates and containers: images, ports, probes, resources, affinity and environment.

use super::{labels, selector};
use crate::spec::{ECSClusterSpec, ImageSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapEnvSource, ContainerPort, EnvFromSource, EnvVar, EnvVarSource,
    ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodAffinityTerm, PodAntiAffinity,
    PodSecurityContext, Probe, ResourceRequirements, SeccompProfile, SecurityContext, TCPSocketAction, VolumeMount,
    WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// Topology key of a node (host) of the Kubernetes cluster.
pub const HOSTNAME_TOPOLOGY_KEY: &str = "kubernetes.io/hostname";

/// `<repository>:<version>` of a component's `image`. The version comes from the host, which may be
/// rolling an upgrade, so the spec's `image.tag` is never used directly. An empty version (offline
/// rendering that did not choose one) falls back to the version the spec targets.
pub fn image(spec: &ECSClusterSpec, image: &ImageSpec, version: &str) -> String {
    let version = match version {
        "" => spec.target_version(image),
        v => v.to_string(),
    };
    format!("{}:{version}", image.repository)
}

/// The user (and group) ECS processes run as: not root, so that the pods meet the Pod Security
/// Standards' "restricted" profile, which the operator enforces for every pod.
pub const RUN_AS_USER: i64 = 1000;

/// Pod-level security of every ECS pod ("restricted"): a non-root user whose group owns the
/// volumes (`fsGroup`, changed only when a volume's root does not match yet), the runtime's default
/// seccomp profile.
pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_USER),
        fs_group: Some(RUN_AS_USER),
        fs_group_change_policy: Some("OnRootMismatch".to_string()),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_string(), localhost_profile: None }),
        ..Default::default()
    }
}

/// Container-level security of every ECS container ("restricted"): no privilege escalation and no
/// Linux capabilities (the servers listen on ports above 1024).
pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_string()]), add: None }),
        ..Default::default()
    }
}

/// A named TCP container port.
pub fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_string()),
        container_port: port,
        protocol: Some("TCP".to_string()),
        ..Default::default()
    }
}

/// A probe that passes once `port` accepts TCP connections.
pub fn tcp_probe(port: i32, initial_delay_seconds: i32, period_seconds: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(port), ..Default::default() }),
        initial_delay_seconds: Some(initial_delay_seconds),
        period_seconds: Some(period_seconds),
        ..Default::default()
    }
}

/// CPU and memory quantities, e.g. `CpuMemory { cpu: "500m", memory: "1Gi" }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuMemory {
    pub cpu: &'static str,
    pub memory: &'static str,
}

impl CpuMemory {
    /// As a resource list (`cpu`, `memory`).
    pub fn quantities(self) -> BTreeMap<String, Quantity> {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(self.cpu.to_string())),
            ("memory".to_string(), Quantity(self.memory.to_string())),
        ])
    }
}

/// The spec's resources when it sets any (as given: nothing is merged with the defaults), else the
/// component's default requests and limits.
pub fn resources_with_defaults(
    resources: Option<&ResourceRequirements>,
    requests: CpuMemory,
    limits: CpuMemory,
) -> ResourceRequirements {
    resources.cloned().unwrap_or_else(|| ResourceRequirements {
        requests: Some(requests.quantities()),
        limits: Some(limits.quantities()),
        ..Default::default()
    })
}

/// Preferred (not required) pod anti-affinity by host: spreads a component's pods over the nodes,
/// yet still schedules them on a cluster with fewer nodes than pods.
pub fn spread_by_host(cluster: &str, component: &str) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                weight: 100,
                pod_affinity_term: PodAffinityTerm {
                    label_selector: Some(selector(cluster, component)),
                    topology_key: HOSTNAME_TOPOLOGY_KEY.to_string(),
                    ..Default::default()
                },
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An environment variable read from a field of the pod (`fieldRef`), e.g. `metadata.name`.
pub fn field_env(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: field_path.to_string(), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The pod's own identity, `POD_NAME` and `POD_NAMESPACE`, which ECS processes advertise.
pub fn pod_identity_env() -> Vec<EnvVar> {
    vec![field_env("POD_NAME", "metadata.name"), field_env("POD_NAMESPACE", "metadata.namespace")]
}

/// Every key of the ConfigMap `name` as an environment variable of the container (`envFrom`).
pub fn env_from_config_map(name: &str) -> EnvFromSource {
    EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource { name: name.to_string(), ..Default::default() }),
        ..Default::default()
    }
}

/// The volume `name` mounted at `path`.
pub fn volume_mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount { name: name.to_string(), mount_path: path.to_string(), ..Default::default() }
}

/// A StatefulSet's claim template `name` (also the name of its volume), labelled for `component`.
pub fn volume_claim_template(
    cluster: &str,
    component: &str,
    name: &str,
    spec: &PersistentVolumeClaimSpec,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels(cluster, component)),
            ..Default::default()
        },
        spec: Some(spec.clone()),
        ..Default::default()
    }
}
