//! A component's status, derived from its observed pods.

use super::{LABEL_CLUSTER, LABEL_COMPONENT, observed_of};
use crate::model::{Cluster, ComponentStatus};
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

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
    fn pod_version_reads_the_tag_not_a_registry_port() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "registry:5000/ecs/ecs"}]}
        }))
        .unwrap();
        assert_eq!(pod_version(&pod), None);
    }
}
