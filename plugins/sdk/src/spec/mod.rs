//! The `ECSCluster` custom resource (`ecs.ecs.io/v1alpha1`): the one definition of the spec, shared by
//! the host (which generates the CRD from it and applies the defaults) and by the plugins (which read it).
//!
//! Serde defaults here are the spec's defaults: the host deserializes a CR and passes the re-serialized,
//! fully-defaulted spec to the plugins; the same values appear as OpenAPI `default`s in the CRD.

mod bookkeeper;
mod ecs;
pub mod quorum;
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

/// A version set once stays set: with none, components fall back to their image tags, which would
/// bypass the downgrade rule.
const VERSION_KEPT: &str = "!has(oldSelf.spec.version) || has(self.spec.version)";
/// No downgrade, except back to the version the operator records as the previous one.
const NO_DOWNGRADE: &str = "!has(self.spec.version) || !has(oldSelf.spec.version) \
    || self.spec.version == oldSelf.spec.version \
    || !isSemver(self.spec.version) || !isSemver(oldSelf.spec.version) \
    || !semver(self.spec.version).isLessThan(semver(oldSelf.spec.version)) \
    || (has(self.status) && has(self.status.previousVersion) && self.spec.version == self.status.previousVersion)";
/// While an upgrade or rollback runs, the version may only go back where the pods come from (a
/// rollback) or stay where they are going.
const ONE_CHANGE_AT_A_TIME: &str = "!has(self.spec.version) || !has(oldSelf.spec.version) \
    || self.spec.version == oldSelf.spec.version \
    || !has(self.status) || !has(self.status.upgrade) \
    || !(self.status.upgrade.phase in ['Upgrading', 'RollingBack']) \
    || self.spec.version == self.status.upgrade.toVersion \
    || (self.status.upgrade.phase == 'Upgrading' && self.spec.version == self.status.upgrade.fromVersion)";

/// While bookies are being removed (one at a time, by decommission), the version stays: an upgrade
/// would restart the very bookies the decommission relies on.
const NOT_WHILE_SCALING_DOWN: &str = "!has(self.spec.version) || !has(oldSelf.spec.version) \
    || self.spec.version == oldSelf.spec.version \
    || !has(self.status) || !has(self.status.scaleDown)";

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
    // Version rules that need the object's history (transition rules: `oldSelf`) and its status,
    // so they sit at the root. `status.previousVersion` and `status.upgrade` are the operator's.
    validation = kube::core::Rule::new(VERSION_KEPT).field_path(".spec.version")
        .message("spec.version cannot be removed once set"),
    validation = kube::core::Rule::new(NO_DOWNGRADE).field_path(".spec.version")
        .message("spec.version cannot go down, except back to the previous version (status.previousVersion)"),
    validation = kube::core::Rule::new(ONE_CHANGE_AT_A_TIME).field_path(".spec.version")
        .message("spec.version cannot change while an upgrade or rollback is in progress, except back to the version it started from (status.upgrade.fromVersion)"),
    validation = kube::core::Rule::new(NOT_WHILE_SCALING_DOWN).field_path(".spec.version")
        .message("spec.version cannot change while bookies are being removed (status.scaleDown): let the scale-down finish, or cancel it by setting spec.bookkeeper.replicas back"),
    // Ledger placement: the sizes are options, and may sit in either options map (quorum.rs).
    validation = kube::core::Rule::new(quorum::cel_format_rule("self.spec.bookkeeper.options"))
        .field_path(".spec.bookkeeper.options").message(quorum::FORMAT_MESSAGE),
    validation = kube::core::Rule::new(quorum::cel_format_rule("self.spec.ecs.options"))
        .field_path(".spec.ecs.options").message(quorum::FORMAT_MESSAGE),
    validation = kube::core::Rule::new(quorum::cel_order_rule())
        .field_path(".spec.bookkeeper.options").message(quorum::ORDER_MESSAGE),
    validation = kube::core::Rule::new(quorum::cel_replicas_rule())
        .field_path(".spec.bookkeeper.replicas").message(quorum::REPLICAS_MESSAGE),
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.currentVersion","description":"Version all components run"}"#,
    printcolumn = r#"{"name":"Desired Version","type":"string","jsonPath":".status.targetVersion","description":"Version the cluster is moving to"}"#,
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

    /// One version (semver) for every image; changing it rolls an upgrade through bookkeeper, the
    /// segment store nodes and the controller, one pod at a time. When unset each component runs
    /// its `image.tag`, or 0.4.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    // No build metadata: the version becomes an image tag, which cannot hold '+', and semver
    // libraries disagree on how it orders (the apiserver's ignores it; kube-cel's does not).
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "isSemver(self)",
        "message": "spec.version must be a semantic version such as 0.5.0"
    }, {
        "rule": "!self.contains('+')",
        "message": "spec.version cannot carry build metadata ('+...'): it becomes an image tag"
    }]))]
    pub version: Option<String>,

    /// How version changes and other pod-template changes roll out.
    #[serde(default)]
    pub upgrade: UpgradeSpec,

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

/// How pods are replaced when their template or version changes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeSpec {
    /// How long a replaced pod may take to be Ready on its new template before the upgrade stops
    /// as failed.
    #[serde(default = "default_pod_ready_timeout")]
    #[schemars(range(min = 10, max = 86400))]
    pub pod_ready_timeout_seconds: i32,
    /// Roll back to the previous version by itself when an upgrade fails.
    #[serde(default)]
    pub auto_rollback: bool,
}

pub const DEFAULT_POD_READY_TIMEOUT_SECONDS: i32 = 600;

fn default_pod_ready_timeout() -> i32 {
    DEFAULT_POD_READY_TIMEOUT_SECONDS
}

impl Default for UpgradeSpec {
    fn default() -> Self {
        UpgradeSpec { pod_ready_timeout_seconds: DEFAULT_POD_READY_TIMEOUT_SECONDS, auto_rollback: false }
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
