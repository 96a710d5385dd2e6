//! The plugin contract (`wit/plugin.wit`) as plain Rust types.
//!
//! Plugin logic is written against these types and the [`Reconciler`] / [`Tier2Provider`] traits, so it
//! builds and is unit-tested natively; the export macros convert to and from the WIT bindings.

use crate::spec::ECSClusterSpec;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    Reconciler,
    Tier2Provider,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    pub contract: String,
    pub component: String,
    pub capabilities: Vec<String>,
}

impl PluginInfo {
    /// What a plugin says of itself, for the contract this SDK implements. `version` is the plugin's
    /// own: [`plugin_info!`](crate::plugin_info) fills in the calling crate's.
    pub fn new(name: &str, version: &str, kind: PluginKind, component: &str, capabilities: &[&str]) -> Self {
        PluginInfo {
            name: name.to_string(),
            version: version.to_string(),
            kind,
            contract: crate::CONTRACT_VERSION.to_string(),
            component: component.to_string(),
            capabilities: capabilities.iter().map(ToString::to_string).collect(),
        }
    }
}

/// `plugin_info!(name, kind, component, capabilities)`: the [`PluginInfo`] a plugin's `describe`
/// returns, versioned with the calling crate's `CARGO_PKG_VERSION` (a macro, because a function of the
/// SDK would see the SDK's version).
#[macro_export]
macro_rules! plugin_info {
    ($name:expr, $kind:expr, $component:expr, $capabilities:expr $(,)?) => {
        $crate::PluginInfo::new($name, ::core::env!("CARGO_PKG_VERSION"), $kind, $component, $capabilities)
    };
}

/// A problem with one field of the spec.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FieldError {
    /// E.g. `spec.bookkeeper.replicas`.
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { path: path.into(), message: message.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The cluster as handed to a plugin: identity plus the fully-defaulted spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub namespace: String,
    /// Empty when rendering offline.
    pub uid: String,
    pub generation: i64,
    pub spec: ECSClusterSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    pub bookkeeper: String,
    pub controller: String,
    pub node: String,
}

impl From<crate::spec::ComponentVersions> for Versions {
    fn from(v: crate::spec::ComponentVersions) -> Self {
        Versions { bookkeeper: v.bookkeeper, controller: v.controller, node: v.node }
    }
}

impl From<Versions> for crate::spec::ComponentVersions {
    fn from(v: Versions) -> Self {
        crate::spec::ComponentVersions { bookkeeper: v.bookkeeper, controller: v.controller, node: v.node }
    }
}

impl Versions {
    /// The version of `component`, by its reconciler's name (`bookkeeper`, `controller`, `node`).
    pub fn get(&self, component: &str) -> &str {
        match component {
            "bookkeeper" => &self.bookkeeper,
            "controller" => &self.controller,
            _ => &self.node,
        }
    }

    /// Sets the version of `component` (as [`Versions::get`] names it).
    pub fn set(&mut self, component: &str, version: &str) {
        let slot = match component {
            "bookkeeper" => &mut self.bookkeeper,
            "controller" => &mut self.controller,
            _ => &mut self.node,
        };
        *slot = version.to_string();
    }

    /// The versions the components run when no upgrade is in progress: each one's target version.
    pub fn targets(spec: &ECSClusterSpec) -> Versions {
        Versions {
            bookkeeper: spec.target_version(&spec.bookkeeper.image),
            controller: spec.target_version(&spec.ecs.image),
            node: spec.target_version(&spec.ecs.image),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

impl EnvVar {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        EnvVar { name: name.into(), value: value.into() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretEnv {
    pub secret_name: String,
    pub prefix: String,
}

/// What a Tier-2 provider gives the nodes. Volumes, mounts and objects are JSON documents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tier2Wiring {
    pub env: Vec<EnvVar>,
    pub secret_env: Vec<SecretEnv>,
    pub volumes: Vec<Value>,
    pub mounts: Vec<Value>,
    pub jvm_options: Vec<String>,
    pub objects: Vec<Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tier2Input {
    pub cluster: Cluster,
    pub config: Value,
    pub config_path: String,
    pub observed: Vec<Value>,
}

/// A scale-down the host runs one member at a time (WIT `scale-down`): the workload runs
/// `replicas` members, and `retire` names the member whose pod is gone and whose retirement (the
/// bookie's decommission Job) the plugin plans now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleDown {
    pub replicas: u32,
    pub retire: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReconcileInput {
    pub cluster: Cluster,
    pub observed: Vec<Value>,
    pub tier2: Option<Tier2Wiring>,
    pub versions: Versions,
    pub scale_down: Option<ScaleDown>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentStatus {
    pub component: String,
    pub desired_replicas: u32,
    pub ready_replicas: u32,
    pub ready_members: Vec<String>,
    pub unready_members: Vec<String>,
    pub current_version: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    Normal,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub type_: EventType,
    pub reason: String,
    pub message: String,
}

/// State outside Kubernetes to remove when the cluster is deleted (WIT `cleanup`); the host does it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Cleanup {
    /// A ZooKeeper subtree on the cluster's `spec.zookeeperUri`: `/ecs/<cluster>` or below it.
    ZookeeperTree(String),
}

/// The root of a cluster's ZooKeeper tree, `/ecs/<cluster>`: the controller's and segment store's
/// metadata, with the bookies' under `bookkeeper/`. The host removes nothing outside it.
pub fn zookeeper_cluster_tree(cluster: &str) -> String {
    format!("/ecs/{cluster}")
}

impl Cleanup {
    /// The cluster's whole ZooKeeper tree.
    pub fn cluster_tree(cluster: &str) -> Cleanup {
        Cleanup::ZookeeperTree(zookeeper_cluster_tree(cluster))
    }
}

/// What a reconciler wants to exist. Objects are JSON documents.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub objects: Vec<Value>,
    pub status: ComponentStatus,
    pub events: Vec<Event>,
    pub cleanup: Vec<Cleanup>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginError {
    InvalidInput(Vec<FieldError>),
    Failed(String),
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginError::InvalidInput(errors) => {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                write!(f, "invalid input: {}", lines.join("; "))
            }
            PluginError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for PluginError {}

impl From<serde_json::Error> for PluginError {
    fn from(e: serde_json::Error) -> Self {
        PluginError::Failed(format!("serializing output: {e}"))
    }
}

/// A component reconciler: a pure function of (cluster, observed objects, Tier-2 wiring, versions).
pub trait Reconciler {
    fn describe() -> PluginInfo;
    /// Problems in the part of the spec this plugin is responsible for.
    fn validate(cluster: &Cluster) -> Vec<FieldError>;
    fn reconcile(input: &ReconcileInput) -> Result<Plan, PluginError>;
}

/// A Tier-2 provider: a pure function of (cluster, its configuration, observed objects).
pub trait Tier2Provider {
    fn describe() -> PluginInfo;
    fn validate(input: &Tier2Input) -> Vec<FieldError>;
    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError>;
}
