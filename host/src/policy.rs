//! The output policy: what a plugin's plan may contain, enforced by the host and never trusted to
//! plugins. Objects must be of an allowed kind, live in the cluster's namespace, carry the cluster's
//! name as prefix, and leave ownership to the host; pod templates may not reach into the node. The
//! host then stamps the standard labels and the owner reference. One violation rejects the whole plan.

use crate::plugins::CAP_PERSISTENT_VOLUME;
use ecs_plugin_sdk::k8s::{APP, LABEL_APP, LABEL_CLUSTER, LABEL_COMPONENT, LABEL_MANAGED_BY, MANAGED_BY};
use ecs_plugin_sdk::spec::{API_VERSION, KIND};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// A kind a plugin may emit, and whether it is namespaced.
struct Allowed {
    api_version: &'static str,
    kind: &'static str,
    namespaced: bool,
    /// Capability the plugin must have been granted, if any.
    capability: Option<&'static str>,
}

const ALLOWED: &[Allowed] = &[
    Allowed { api_version: "v1", kind: "ConfigMap", namespaced: true, capability: None },
    Allowed { api_version: "v1", kind: "Service", namespaced: true, capability: None },
    Allowed { api_version: "v1", kind: "PersistentVolumeClaim", namespaced: true, capability: None },
    Allowed { api_version: "apps/v1", kind: "StatefulSet", namespaced: true, capability: None },
    Allowed { api_version: "apps/v1", kind: "Deployment", namespaced: true, capability: None },
    Allowed { api_version: "policy/v1", kind: "PodDisruptionBudget", namespaced: true, capability: None },
    Allowed {
        api_version: "v1",
        kind: "PersistentVolume",
        namespaced: false,
        capability: Some(CAP_PERSISTENT_VOLUME),
    },
];

/// Kinds a plan may hold, in the order they are applied (what others depend on comes first).
pub const APPLY_ORDER: &[&str] = &[
    "PersistentVolume",
    "PersistentVolumeClaim",
    "ConfigMap",
    "Service",
    "PodDisruptionBudget",
    "StatefulSet",
    "Deployment",
];

/// Who emitted a plan, for whom, and with which grants.
pub struct PolicyContext<'a> {
    pub cluster: &'a str,
    pub namespace: &'a str,
    /// Empty when rendering offline: no owner reference can be stamped then.
    pub uid: &'a str,
    pub plugin: &'a str,
    pub component: &'a str,
    pub granted: &'a BTreeSet<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("plugin {plugin} emitted {object}, which the output policy forbids: {reason}; the whole plan was rejected")]
pub struct PolicyViolation {
    pub plugin: String,
    pub object: String,
    pub reason: String,
}

/// Checks every object of a plan and returns them stamped, or the first violation.
pub fn enforce(ctx: &PolicyContext<'_>, objects: Vec<Value>) -> Result<Vec<Value>, PolicyViolation> {
    objects.into_iter().enumerate().map(|(i, o)| enforce_one(ctx, i, o)).collect()
}

fn enforce_one(ctx: &PolicyContext<'_>, index: usize, mut object: Value) -> Result<Value, PolicyViolation> {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let label = if kind.is_empty() { format!("object #{index}") } else { format!("{kind}/{name}") };
    let violation = |reason: String| PolicyViolation { plugin: ctx.plugin.to_string(), object: label.clone(), reason };

    if !object.is_object() {
        return Err(violation("not a JSON object".into()));
    }
    let allowed = ALLOWED
        .iter()
        .find(|a| a.api_version == api_version && a.kind == kind)
        .ok_or_else(|| violation(format!("kind {api_version}/{kind} is not allowed")))?;
    if let Some(cap) = allowed.capability
        && !ctx.granted.contains(cap)
    {
        return Err(violation(format!("{kind} needs the capability {cap:?}, which this plugin was not granted")));
    }
    check_name(&kind, &name, ctx.cluster).map_err(violation)?;

    let metadata = object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| violation("metadata is missing".into()))?;
    for owned_by_host in ["ownerReferences", "finalizers", "generateName"] {
        if metadata.contains_key(owned_by_host) {
            return Err(violation(format!("metadata.{owned_by_host} is set by the host, not by plugins")));
        }
    }
    match (allowed.namespaced, metadata.get("namespace").and_then(Value::as_str)) {
        (true, None) => {
            metadata.insert("namespace".into(), ctx.namespace.into());
        }
        (true, Some(ns)) if ns == ctx.namespace => {}
        (true, Some(ns)) => {
            return Err(violation(format!("namespace {ns:?} is not the cluster's namespace {:?}", ctx.namespace)));
        }
        (false, None) => {}
        (false, Some(_)) => return Err(violation(format!("{kind} is cluster-scoped and takes no namespace"))),
    }
    stamp_labels(metadata, ctx).map_err(violation)?;
    // Cluster-scoped objects cannot be owned by a namespaced resource; the operator cleans them up itself.
    if allowed.namespaced && !ctx.uid.is_empty() {
        metadata.insert(
            "ownerReferences".into(),
            json!([{
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": ctx.cluster,
                "uid": ctx.uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }]),
        );
    }
    if let Some(template) = object.pointer("/spec/template/spec") {
        check_pod_spec(template).map_err(violation)?;
    }
    Ok(object)
}

fn check_name(kind: &str, name: &str, cluster: &str) -> Result<(), String> {
    if !name.starts_with(&format!("{cluster}-")) {
        return Err(format!("name {name:?} does not start with the cluster name prefix \"{cluster}-\""));
    }
    // Services and StatefulSets become DNS labels (and pod names); others are DNS subdomains.
    let max = if matches!(kind, "Service" | "StatefulSet") { 63 } else { 253 };
    let valid_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if name.len() > max || !valid_chars || name.ends_with('-') || name.ends_with('.') {
        return Err(format!("name {name:?} is not a valid DNS name of at most {max} characters"));
    }
    Ok(())
}

fn stamp_labels(metadata: &mut Map<String, Value>, ctx: &PolicyContext<'_>) -> Result<(), String> {
    let labels = metadata.entry("labels").or_insert_with(|| Value::Object(Map::new()));
    let labels = labels.as_object_mut().ok_or("metadata.labels is not an object")?;
    for (key, value) in [
        (LABEL_APP, APP),
        (LABEL_CLUSTER, ctx.cluster),
        (LABEL_COMPONENT, ctx.component),
        (LABEL_MANAGED_BY, MANAGED_BY),
    ] {
        labels.insert(key.into(), value.into());
    }
    Ok(())
}

/// Pod templates may not escape onto the node: no host namespaces, host paths or privileged mode.
fn check_pod_spec(spec: &Value) -> Result<(), String> {
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(field).and_then(Value::as_bool) == Some(true) {
            return Err(format!("pod template sets {field}"));
        }
    }
    for volume in spec.get("volumes").and_then(Value::as_array).into_iter().flatten() {
        if volume.get("hostPath").is_some() {
            return Err("pod template mounts a hostPath volume".into());
        }
    }
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| spec.get(*f).and_then(Value::as_array))
        .flatten();
    for container in containers {
        let sc = container.get("securityContext");
        if sc.and_then(|s| s.get("privileged")).and_then(Value::as_bool) == Some(true) {
            return Err("pod template runs a privileged container".into());
        }
        if sc.and_then(|s| s.get("allowPrivilegeEscalation")).and_then(Value::as_bool) == Some(true) {
            return Err("pod template allows privilege escalation".into());
        }
    }
    Ok(())
}

/// Sort key giving a plan its apply order: by kind, then name.
pub fn apply_rank(object: &Value) -> (usize, String) {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    let rank = APPLY_ORDER.iter().position(|k| *k == kind).unwrap_or(APPLY_ORDER.len());
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    (rank, name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(granted: &'a BTreeSet<String>) -> PolicyContext<'a> {
        PolicyContext {
            cluster: "ecs",
            namespace: "prod",
            uid: "u-1",
            plugin: "bookkeeper",
            component: "bookie",
            granted,
        }
    }

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
    }

    #[test]
    fn stamps_namespace_labels_and_owner() {
        let granted = BTreeSet::new();
        let out = enforce(&ctx(&granted), vec![cm("ecs-bookie")]).unwrap();
        let meta = &out[0]["metadata"];
        assert_eq!(meta["namespace"], "prod");
        assert_eq!(meta["labels"]["app"], "ecs-cluster");
        assert_eq!(meta["labels"]["ecs_cluster"], "ecs");
        assert_eq!(meta["labels"]["component"], "bookie");
        assert_eq!(meta["labels"]["app.kubernetes.io/managed-by"], "ecs-operator");
        assert_eq!(meta["ownerReferences"][0]["uid"], "u-1");
        assert_eq!(meta["ownerReferences"][0]["controller"], true);
    }

    #[test]
    fn rejects_the_whole_plan_on_one_violation() {
        let granted = BTreeSet::new();
        let crb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "ecs-admin"}});
        let err = enforce(&ctx(&granted), vec![cm("ecs-bookie"), crb]).unwrap_err();
        assert_eq!(err.object, "ClusterRoleBinding/ecs-admin");
        assert!(err.reason.contains("not allowed"), "{err}");
    }

    #[test]
    fn rejects_other_namespaces_prefixes_secrets_and_pods() {
        let granted = BTreeSet::new();
        let mut other = cm("ecs-x");
        other["metadata"]["namespace"] = "kube-system".into();
        let cases = [
            (other, "not the cluster's namespace"),
            (cm("other-x"), "prefix"),
            (json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ecs-s"}}), "not allowed"),
            (json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ecs-p"}}), "not allowed"),
            (json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ecs-x",
                "ownerReferences": []}}), "set by the host"),
            (json!("text"), "not a JSON object"),
        ];
        for (object, expected) in cases {
            let err = enforce(&ctx(&granted), vec![object]).unwrap_err();
            assert!(err.reason.contains(expected), "{err} should mention {expected}");
        }
    }

    #[test]
    fn persistent_volumes_need_the_capability_and_get_no_owner() {
        let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "ecs-prod-tier2"}});
        let none = BTreeSet::new();
        assert!(enforce(&ctx(&none), vec![pv.clone()]).unwrap_err().reason.contains("capability"));
        let granted = BTreeSet::from([CAP_PERSISTENT_VOLUME.to_string()]);
        let out = enforce(&ctx(&granted), vec![pv]).unwrap();
        assert!(out[0]["metadata"].get("namespace").is_none());
        assert!(out[0]["metadata"].get("ownerReferences").is_none());
    }

    #[test]
    fn pod_templates_cannot_reach_the_node() {
        let granted = BTreeSet::new();
        let sts = |spec: Value| {
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "ecs-bookie"},
                "spec": {"template": {"spec": spec}}})
        };
        for (spec, expected) in [
            (json!({"hostNetwork": true, "containers": []}), "hostNetwork"),
            (json!({"volumes": [{"name": "h", "hostPath": {"path": "/"}}], "containers": []}), "hostPath"),
            (json!({"containers": [{"name": "c", "securityContext": {"privileged": true}}]}), "privileged"),
        ] {
            let err = enforce(&ctx(&granted), vec![sts(spec)]).unwrap_err();
            assert!(err.reason.contains(expected), "{err}");
        }
    }

    #[test]
    fn offline_render_has_no_owner_reference() {
        let granted = BTreeSet::new();
        let mut c = ctx(&granted);
        c.uid = "";
        let out = enforce(&c, vec![cm("ecs-bookie")]).unwrap();
        assert!(out[0]["metadata"].get("ownerReferences").is_none());
    }
}
