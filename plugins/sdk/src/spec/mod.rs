//! The `ECSCluster` custom resource (`ecs.ecs.io/v1alpha1`): the one definition of the spec, shared by
//! the host (which generates the CRD from it and applies the defaults) and by the plugins (which read it).
//!
//! Serde defaults here are the spec's defaults: the host deserializes a CR and passes the re-serialized,
//! fully-defaulted spec to the plugins; the same values appear as OpenAPI `default`s in the CRD.

mod bookkeeper;
mod ecs;
mod status;
mod tier2;

pub use bookkeeper::*;
pub use ecs::*;
pub use status::*;
pub use tier2::*;

use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, VolumeResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const GROUP: &str = "ecs.ecs.io";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "ECSCluster";
pub const API_VERSION: &str = "ecs.ecs.io/v1alpha1";

/// Version run when neither `spec.version` nor a component's `image.tag` says otherwise.
pub const DEFAULT_VERSION: &str = "0.4.0";
pub const DEFAULT_ZOOKEEPER_URI: &str = "zk-client:2181";

/// An ECS cluster: BookKeeper bookies, a Controller, Segment Store nodes and one Tier-2 store.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "ecs.ecs.io",
    version = "v1alpha1",
    kind = "ECSCluster",
    plural = "ecsclusters",
    shortname = "ecs",
    namespaced,
    status = "ECSClusterStatus",
    validation = kube::core::Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')")
        .message("metadata.name must be a DNS label: lowercase letters, digits and '-'"),
    validation = kube::core::Rule::new("size(self.metadata.name) <= 40")
        .message("metadata.name must be at most 40 characters: names such as <name>-ecs-node-headless must fit in 63"),
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.currentVersion","description":"Version all components run"}"#,
    printcolumn = r#"{"name":"Desired Version","type":"string","jsonPath":".status.targetVersion","priority":1}"#,
    printcolumn = r#"{"name":"Desired Members","type":"integer","jsonPath":".status.replicas","description":"Pods the cluster should have"}"#,
    printcolumn = r#"{"name":"Ready Members","type":"integer","jsonPath":".status.readyReplicas","description":"Pods that are ready"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ECSClusterSpec {
    /// ZooKeeper connection string (`host:port[,host:port...]`) shared by every component.
    #[serde(default = "default_zookeeper_uri")]
    #[schemars(length(min = 1))]
    pub zookeeper_uri: String,

    /// One version for every image; drives rolling upgrades. When unset each component runs its
    /// `image.tag`, or 0.4.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$"))]
    pub version: Option<String>,

    #[serde(default)]
    pub bookkeeper: BookkeeperSpec,

    pub ecs: EcsSpec,

    /// Access to the segment store nodes from outside the Kubernetes cluster.
    #[serde(default)]
    pub external_access: ExternalAccessSpec,
}

fn default_zookeeper_uri() -> String {
    DEFAULT_ZOOKEEPER_URI.to_string()
}

impl ECSClusterSpec {
    /// The version a component runs when no upgrade is in progress: `spec.version`, else the
    /// component's image tag, else the default.
    pub fn target_version(&self, image: &ImageSpec) -> String {
        self.version.clone().or_else(|| image.tag.clone()).unwrap_or_else(|| DEFAULT_VERSION.to_string())
    }
}

/// A container image; the tag is the component's version unless `spec.version` is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    pub repository: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default)]
    pub pull_policy: PullPolicy,
}

impl ImageSpec {
    pub fn new(repository: &str) -> Self {
        ImageSpec { repository: repository.to_string(), tag: None, pull_policy: PullPolicy::default() }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PullPolicy {
    Always,
    #[default]
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// How the segment store nodes are reached from outside Kubernetes: one Service per node pod.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAccessSpec {
    #[serde(default)]
    pub enabled: bool,
    /// Service type of the per-node Services (and of the controller Service).
    #[serde(default, rename = "type")]
    pub service_type: ExternalServiceType,
    /// DNS domain advertised for the nodes (`<pod>.<domainName>`), for external DNS setups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ExternalServiceType {
    #[default]
    LoadBalancer,
    NodePort,
}

impl ExternalServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalServiceType::LoadBalancer => "LoadBalancer",
            ExternalServiceType::NodePort => "NodePort",
        }
    }
}

/// JVM options of a Java component, as `-X...`/`-XX:...`/`-D...` flags.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JvmOptions {
    /// Heap and memory flags (`-Xms`, `-Xmx`, `-XX:MaxDirectMemorySize=`...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memory_opts: Vec<String>,
    /// Garbage collector flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gc_opts: Vec<String>,
    /// Anything else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_opts: Vec<String>,
}

impl JvmOptions {
    pub fn is_empty(&self) -> bool {
        self.memory_opts.is_empty() && self.gc_opts.is_empty() && self.extra_opts.is_empty()
    }
}

/// Free-form `key: "value"` settings; all values are strings, as in the seed.
pub type Options = BTreeMap<String, String>;

/// A `ReadWriteOnce` claim template of the given size.
pub fn rwo_claim(size: &str) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".to_string()]),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size.to_string()))])),
            ..Default::default()
        }),
        ..Default::default()
    }
}
