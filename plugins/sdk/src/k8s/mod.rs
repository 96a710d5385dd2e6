//! Typed helpers on k8s-openapi shared by the plugins.
//!
//! - here: labels, metadata, JSON documents, ConfigMaps and observed objects;
//! - [`pod`]: images, ports, probes, resources, affinity and environment of pods and containers;
//! - [`service`]: Service ports;
//! - [`jvm`]: JVM option merging;
//! - [`status`]: the component status derived from observed pods.
//!
//! Everything is re-exported here, so that `k8s::tcp_probe` and `k8s::merge_jvm_options` read alike.

pub mod jvm;
pub mod pod;
pub mod service;
pub mod status;

pub use jvm::*;
pub use pod::*;
pub use service::*;
pub use status::*;

use crate::model::{Cluster, PluginError};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub const LABEL_APP: &str = "app";
pub const APP: &str = "ecs-cluster";
pub const LABEL_CLUSTER: &str = "ecs_cluster";
pub const LABEL_COMPONENT: &str = "component";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "ecs-operator";
/// Set by the StatefulSet controller on every pod; selects one pod for its own Service.
pub const LABEL_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";

/// The labels that identify a component's objects and select its pods.
pub fn labels(cluster: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_APP.to_string(), APP.to_string()),
        (LABEL_CLUSTER.to_string(), cluster.to_string()),
        (LABEL_COMPONENT.to_string(), component.to_string()),
    ])
}

pub fn selector(cluster: &str, component: &str) -> LabelSelector {
    LabelSelector { match_labels: Some(labels(cluster, component)), ..Default::default() }
}

/// Metadata of an object named `name` in the cluster's namespace, labelled for `component`.
pub fn meta(cluster: &Cluster, name: impl Into<String>, component: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(cluster.namespace.clone()),
        labels: Some(labels(&cluster.name, component)),
        ..Default::default()
    }
}

/// A k8s-openapi object as a JSON document (its `apiVersion` and `kind` included).
pub fn document<T: Serialize>(object: &T) -> Result<Value, PluginError> {
    Ok(serde_json::to_value(object)?)
}

/// A ConfigMap from ordered key/value pairs.
pub fn config_map(metadata: ObjectMeta, data: BTreeMap<String, String>) -> ConfigMap {
    ConfigMap { metadata, data: Some(data), ..Default::default() }
}

/// Observed objects of a given `kind` (e.g. `"Pod"`), as JSON.
///
/// Read the few fields you need with [`Value::pointer`]: deserializing into k8s-openapi types costs
/// their whole deserializer in the plugin's code (a Pod's was over half of a reconciler's code), and the
/// operator keeps every plugin's compiled code mapped.
pub fn observed_of_kind<'a>(observed: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    observed.iter().filter(move |o| o.get("kind").and_then(Value::as_str) == Some(kind))
}
