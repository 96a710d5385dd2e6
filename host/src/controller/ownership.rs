//! Which cluster an object belongs to: the one rule that observe, apply, prune and `record` share.
//!
//! A namespaced object belongs to the ECSCluster its controller owner reference names by UID; a
//! cluster-scoped one (a PersistentVolume) to the cluster whose UID its owner annotation holds.
//! Names and labels never decide it: another cluster, or someone else, can pick any name.

use crate::policy::OWNER_UID_ANNOTATION;
use ecs_plugin_sdk::k8s::{LABEL_CLUSTER, LABEL_MANAGED_BY, MANAGED_BY};
use serde_json::Value;

/// A cluster's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterId {
    pub name: String,
    pub namespace: String,
    pub uid: String,
}

/// Whether `object` belongs to `cluster`.
pub fn belongs_to(object: &Value, cluster: &ClusterId) -> bool {
    if cluster.uid.is_empty() {
        return false;
    }
    if let Some(owner) = controller_owner(object) {
        return owner.get("uid").and_then(Value::as_str) == Some(cluster.uid.as_str())
            && object.pointer("/metadata/namespace").and_then(Value::as_str) == Some(cluster.namespace.as_str());
    }
    match object.pointer("/metadata/annotations").and_then(|a| a.get(OWNER_UID_ANNOTATION)).and_then(Value::as_str) {
        Some(uid) => uid == cluster.uid,
        // PersistentVolumes this operator made before it stamped owner UIDs: its label, the cluster's
        // label, and reserved for a claim in the cluster's namespace.
        None => {
            let label = |key: &str| object.pointer("/metadata/labels").and_then(|l| l.get(key)).and_then(Value::as_str);
            object.get("kind").and_then(Value::as_str) == Some("PersistentVolume")
                && label(LABEL_MANAGED_BY) == Some(MANAGED_BY)
                && label(LABEL_CLUSTER) == Some(cluster.name.as_str())
                && object.pointer("/spec/claimRef/namespace").and_then(Value::as_str)
                    == Some(cluster.namespace.as_str())
        }
    }
}

fn controller_owner(object: &Value) -> Option<&Value> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
}

/// Who owns `object`, for messages: `ECSCluster/x (uid ...)`, or that nothing does.
pub fn owner_of(object: &Value) -> String {
    if let Some(owner) = controller_owner(object) {
        let s = |k: &str| owner.get(k).and_then(Value::as_str).unwrap_or_default();
        return format!("{}/{} (uid {})", s("kind"), s("name"), s("uid"));
    }
    match object.pointer("/metadata/annotations").and_then(|a| a.get(OWNER_UID_ANNOTATION)).and_then(Value::as_str) {
        Some(uid) => format!("the ECSCluster with uid {uid}"),
        None => "no owner (not created by this operator for this cluster)".to_string(),
    }
}

/// Whether a pod is one of `cluster`'s: made by one of its StatefulSets (by UID), or by a
/// ReplicaSet of one of its Deployments (ReplicaSets are named `<deployment>-<pod-template-hash>`).
pub fn pod_belongs_to(pod: &Value, owned: &[Value]) -> bool {
    let Some(owner) = controller_owner(pod) else { return false };
    let s = |k: &str| owner.get(k).and_then(Value::as_str).unwrap_or_default();
    fn of_kind<'a>(owned: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> {
        owned.iter().filter(move |o| o.get("kind").and_then(Value::as_str) == Some(kind))
    }
    match s("kind") {
        "StatefulSet" => of_kind(owned, "StatefulSet")
            .any(|sts| sts.pointer("/metadata/uid").and_then(Value::as_str) == Some(s("uid"))),
        "ReplicaSet" => {
            let hash = pod.pointer("/metadata/labels/pod-template-hash").and_then(Value::as_str).unwrap_or_default();
            of_kind(owned, "Deployment").any(|d| {
                let name = d.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                !hash.is_empty() && s("name") == format!("{name}-{hash}")
            })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id() -> ClusterId {
        ClusterId { name: "ecs".into(), namespace: "ns".into(), uid: "u-1".into() }
    }

    fn owned(uid: &str) -> Value {
        json!({"kind": "ConfigMap", "metadata": {"name": "ecs-bookie", "namespace": "ns",
            "ownerReferences": [{"kind": "ECSCluster", "name": "ecs", "uid": uid, "controller": true}]}})
    }

    #[test]
    fn namespaced_objects_belong_by_owner_uid() {
        assert!(belongs_to(&owned("u-1"), &id()));
        assert!(!belongs_to(&owned("u-2"), &id()), "another cluster's (or a recreated cluster's)");
        let labelled_only = json!({"kind": "ConfigMap", "metadata": {"name": "ecs-bookie", "namespace": "ns",
            "labels": {"ecs_cluster": "ecs", "app.kubernetes.io/managed-by": "ecs-operator"}}});
        assert!(!belongs_to(&labelled_only, &id()), "labels do not decide ownership");
        assert!(owner_of(&labelled_only).starts_with("no owner"));
        assert_eq!(owner_of(&owned("u-2")), "ECSCluster/ecs (uid u-2)");
    }

    #[test]
    fn volumes_belong_by_annotation_or_as_before() {
        let pv = |annotations: Value| {
            json!({"kind": "PersistentVolume", "metadata": {"name": "ecs-ns-tier2", "annotations": annotations,
                "labels": {"ecs_cluster": "ecs", "app.kubernetes.io/managed-by": "ecs-operator"}},
                "spec": {"claimRef": {"namespace": "ns", "name": "ecs-tier2"}}})
        };
        assert!(belongs_to(&pv(json!({OWNER_UID_ANNOTATION: "u-1"})), &id()));
        assert!(!belongs_to(&pv(json!({OWNER_UID_ANNOTATION: "u-2"})), &id()));
        assert!(belongs_to(&pv(json!({})), &id()), "made before owner annotations");
    }

    #[test]
    fn pods_belong_through_their_workloads() {
        let sts = json!({"kind": "StatefulSet", "metadata": {"name": "ecs-bookie", "uid": "s-1"}});
        let deploy = json!({"kind": "Deployment", "metadata": {"name": "ecs-ecs-controller", "uid": "d-1"}});
        let pod = |kind: &str, name: &str, uid: &str| {
            json!({"metadata": {"labels": {"pod-template-hash": "abc"},
                "ownerReferences": [{"kind": kind, "name": name, "uid": uid, "controller": true}]}})
        };
        let owned = [sts, deploy];
        assert!(pod_belongs_to(&pod("StatefulSet", "ecs-bookie", "s-1"), &owned));
        assert!(!pod_belongs_to(&pod("StatefulSet", "ecs-bookie", "s-2"), &owned));
        assert!(pod_belongs_to(&pod("ReplicaSet", "ecs-ecs-controller-abc", "r"), &owned));
        assert!(!pod_belongs_to(&pod("ReplicaSet", "ecs-ecs-controller-x-abc", "r"), &owned));
        assert!(!pod_belongs_to(&json!({"metadata": {}}), &owned));
    }
}
