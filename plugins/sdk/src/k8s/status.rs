//! A component's status, derived from its observed pods.
//!
//! Pods are read as JSON rather than as k8s-openapi `Pod`s: the typed deserializer of a Pod (its
//! spec, status, volumes and affinity) was over half of each reconciler's WebAssembly code (546 of
//! 1225 KiB in the bookkeeper), and every compiled copy of it stays mapped in the operator, for
//! the four fields read here.

use super::{LABEL_CLUSTER, LABEL_COMPONENT, observed_of_kind};
use crate::model::{Cluster, ComponentStatus};
use serde_json::Value;

fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

fn pod_is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| text(c, "/type") == Some("Ready") && text(c, "/status") == Some("True")))
}

fn label<'a>(pod: &'a Value, key: &str) -> Option<&'a str> {
    pod.pointer("/metadata/labels").and_then(|l| l.get(key)).and_then(Value::as_str)
}

/// The image tag of a pod's first container.
fn pod_version(pod: &Value) -> Option<String> {
    let image = text(pod, "/spec/containers/0/image")?;
    let (_, tag) = image.rsplit_once(':')?;
    (!tag.contains('/')).then(|| tag.to_string())
}

/// A component's status from its observed pods (those labelled with the component), sorted by name.
pub fn component_status(cluster: &Cluster, component: &str, desired: i32, observed: &[Value]) -> ComponentStatus {
    let mut pods: Vec<(&str, &Value)> = observed_of_kind(observed, "Pod")
        .filter(|p| {
            label(p, LABEL_CLUSTER) == Some(cluster.name.as_str()) && label(p, LABEL_COMPONENT) == Some(component)
        })
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none_or(Value::is_null))
        .map(|p| (text(p, "/metadata/name").unwrap_or_default(), p))
        .collect();
    pods.sort_by_key(|(name, _)| *name);
    let mut status = ComponentStatus {
        component: component.to_string(),
        desired_replicas: desired.max(0) as u32,
        ..Default::default()
    };
    let mut versions: Vec<Option<String>> = Vec::new();
    for (name, pod) in pods {
        if pod_is_ready(pod) {
            status.ready_members.push(name.to_string());
        } else {
            status.unready_members.push(name.to_string());
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
    use serde_json::json;

    #[test]
    fn pod_version_reads_the_tag_not_a_registry_port() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "registry:5000/ecs/ecs"}]}
        });
        assert_eq!(pod_version(&pod), None);
        let pod = json!({"spec": {"containers": [{"name": "c", "image": "registry:5000/ecs/ecs:0.9.1"}]}});
        assert_eq!(pod_version(&pod).as_deref(), Some("0.9.1"));
    }

    #[test]
    fn only_the_components_live_pods_count_sorted_by_name() {
        let cluster = crate::testing::cluster().build();
        let pod = |name: &str, component: &str, ready: bool| {
            crate::testing::observed_pod(name, component, "ecs/ecs:0.9.0", ready)
        };
        let mut deleting = pod("ecs-node-9", "ecs-node", true);
        deleting["metadata"]["deletionTimestamp"] = json!("2026-12-02T00:00:00Z");
        let mut other_cluster = pod("other-node-0", "ecs-node", true);
        other_cluster["metadata"]["labels"]["ecs_cluster"] = json!("other");
        let observed = vec![
            pod("ecs-node-1", "ecs-node", false),
            pod("ecs-node-0", "ecs-node", true),
            pod("ecs-bookie-0", "bookie", true),
            deleting,
            other_cluster,
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "ecs-node"}}),
        ];
        let status = component_status(&cluster, "ecs-node", 2, &observed);
        assert_eq!(status.ready_members, ["ecs-node-0"]);
        assert_eq!(status.unready_members, ["ecs-node-1"]);
        assert_eq!((status.ready_replicas, status.desired_replicas), (1, 2));
        assert_eq!(status.current_version.as_deref(), Some("0.9.0"));
    }
}
