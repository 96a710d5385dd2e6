//! Typed helpers on k8s-openapi shared by the plugins: labels, metadata, JSON documents, JVM option
//! merging, and the component status derived from observed pods.

use crate::model::{Cluster, ComponentStatus, PluginError};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
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

/// The identity of a JVM flag, so that a user's flag replaces the default with the same identity:
/// `-Xmx1g` -> `-Xmx`, `-XX:+UseG1GC`/`-XX:-UseG1GC` -> `-XX:UseG1GC`, `-XX:MaxRAM=1g` -> `-XX:MaxRAM`,
/// `-Dkey=value` -> `-Dkey`.
fn jvm_flag_key(flag: &str) -> String {
    for prefix in ["-Xmx", "-Xms", "-Xss", "-Xmn"] {
        if flag.starts_with(prefix) {
            return prefix.to_string();
        }
    }
    if let Some(rest) = flag.strip_prefix("-XX:") {
        let rest = rest.trim_start_matches(['+', '-']);
        return format!("-XX:{}", rest.split('=').next().unwrap_or(rest));
    }
    if flag.starts_with("-D") {
        return flag.split('=').next().unwrap_or(flag).to_string();
    }
    flag.to_string()
}

/// Defaults followed by the user's flags; a user flag replaces a default with the same identity, in
/// the default's position. Later user flags win over earlier ones.
pub fn merge_jvm_options<S: AsRef<str>>(defaults: &[&str], user: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for flag in defaults.iter().copied().chain(user.iter().map(AsRef::as_ref)) {
        let flag = flag.trim();
        if flag.is_empty() {
            continue;
        }
        let key = jvm_flag_key(flag);
        match out.iter().position(|f| jvm_flag_key(f) == key) {
            Some(i) => out[i] = flag.to_string(),
            None => out.push(flag.to_string()),
        }
    }
    out
}

/// Observed objects of a given kind, typed; documents of other kinds are skipped.
pub fn observed_of<T>(observed: &[Value]) -> Vec<T>
where
    T: k8s_openapi::Resource + serde::de::DeserializeOwned,
{
    observed
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some(T::KIND))
        .filter_map(|o| serde_json::from_value(o.clone()).ok())
        .collect()
}

fn pod_is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The image tag of a pod's first container.
fn pod_version(pod: &Pod) -> Option<String> {
    let image = pod.spec.as_ref()?.containers.first()?.image.clone()?;
    let (_, tag) = image.rsplit_once(':')?;
    (!tag.contains('/')).then(|| tag.to_string())
}

/// A component's status from its observed pods (those labelled with the component), sorted by name.
pub fn component_status(cluster: &Cluster, component: &str, desired: i32, observed: &[Value]) -> ComponentStatus {
    let mut pods: Vec<Pod> = observed_of::<Pod>(observed)
        .into_iter()
        .filter(|p| {
            p.metadata.labels.as_ref().is_some_and(|l| {
                l.get(LABEL_CLUSTER).map(String::as_str) == Some(cluster.name.as_str())
                    && l.get(LABEL_COMPONENT).map(String::as_str) == Some(component)
            })
        })
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut status = ComponentStatus {
        component: component.to_string(),
        desired_replicas: desired.max(0) as u32,
        ..Default::default()
    };
    let mut versions: Vec<Option<String>> = Vec::new();
    for pod in &pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        if pod_is_ready(pod) {
            status.ready_members.push(name);
        } else {
            status.unready_members.push(name);
        }
        versions.push(pod_version(pod));
    }
    status.ready_replicas = status.ready_members.len() as u32;
    versions.dedup();
    if let [Some(v)] = versions.as_slice() {
        status.current_version = Some(v.clone());
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_jvm_flags_replace_defaults_in_place() {
        let merged = merge_jvm_options(
            &["-Xms1g", "-XX:+UseG1GC", "-XX:MaxDirectMemorySize=1g", "-Dfoo=1"],
            &["-XX:-UseG1GC", "-Xms2g", "-Dbar=2", "-XX:MaxDirectMemorySize=4g"],
        );
        assert_eq!(merged, vec!["-Xms2g", "-XX:-UseG1GC", "-XX:MaxDirectMemorySize=4g", "-Dfoo=1", "-Dbar=2"]);
    }

    #[test]
    fn blank_flags_are_dropped_and_later_user_flags_win() {
        let merged = merge_jvm_options(&["-Xmx1g"], &[" ", "-Xmx2g", "-Xmx3g"]);
        assert_eq!(merged, vec!["-Xmx3g"]);
    }

    #[test]
    fn pod_version_reads_the_tag_not_a_registry_port() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "registry:5000/ecs/ecs"}]}
        }))
        .unwrap();
        assert_eq!(pod_version(&pod), None);
    }
}
