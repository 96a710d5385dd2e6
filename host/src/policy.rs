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
    Allowed { api_version: "v1", kind: "PersistentVolume", namespaced: false, capability: Some(CAP_PERSISTENT_VOLUME) },
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
    /// Service accounts pods may run as: those the spec names (`default` is always allowed).
    pub service_accounts: &'a BTreeSet<String>,
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
        (false, Some(_)) => {
            return Err(violation(format!("{kind} is cluster-scoped and takes no namespace")));
        }
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
        check_pod_spec(template, ctx.service_accounts).map_err(violation)?;
    }
    match kind.as_str() {
        "Service" => check_service(&object).map_err(violation)?,
        "PersistentVolume" => check_volume(&object, ctx).map_err(violation)?,
        _ => {}
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

/// Linux capabilities a container may add: binding ports below 1024 is all a server needs.
const ADDABLE_CAPABILITIES: &[&str] = &["NET_BIND_SERVICE"];

fn runs_as_root(security_context: Option<&Value>) -> bool {
    security_context.and_then(|s| s.get("runAsUser")).and_then(Value::as_i64) == Some(0)
}

/// Pod templates may not escape onto the node (host namespaces, host paths and ports, privileged
/// mode, added capabilities, root) nor borrow a service account the spec did not name.
fn check_pod_spec(spec: &Value, service_accounts: &BTreeSet<String>) -> Result<(), String> {
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(field).and_then(Value::as_bool) == Some(true) {
            return Err(format!("pod template sets {field}"));
        }
    }
    for field in ["serviceAccountName", "serviceAccount"] {
        if let Some(sa) = spec.get(field).and_then(Value::as_str)
            && sa != "default"
            && !service_accounts.contains(sa)
        {
            return Err(format!("pod template runs as service account {sa:?}, which the spec does not name"));
        }
    }
    if runs_as_root(spec.get("securityContext")) {
        return Err("pod template runs as root (runAsUser 0)".into());
    }
    for volume in spec.get("volumes").and_then(Value::as_array).into_iter().flatten() {
        if volume.get("hostPath").is_some() {
            return Err("pod template mounts a hostPath volume".into());
        }
    }
    let containers =
        ["containers", "initContainers"].iter().filter_map(|f| spec.get(*f).and_then(Value::as_array)).flatten();
    for container in containers {
        let sc = container.get("securityContext");
        if sc.and_then(|s| s.get("privileged")).and_then(Value::as_bool) == Some(true) {
            return Err("pod template runs a privileged container".into());
        }
        if sc.and_then(|s| s.get("allowPrivilegeEscalation")).and_then(Value::as_bool) == Some(true) {
            return Err("pod template allows privilege escalation".into());
        }
        if runs_as_root(sc) {
            return Err("pod template runs a container as root (runAsUser 0)".into());
        }
        let added = sc.and_then(|s| s.pointer("/capabilities/add")).and_then(Value::as_array);
        for cap in added.into_iter().flatten().filter_map(Value::as_str) {
            if !ADDABLE_CAPABILITIES.contains(&cap) {
                return Err(format!("pod template adds the capability {cap}"));
            }
        }
        let ports = container.get("ports").and_then(Value::as_array);
        if ports.into_iter().flatten().any(|p| p.get("hostPort").is_some()) {
            return Err("pod template binds a hostPort".into());
        }
    }
    Ok(())
}

/// Services may not claim external IPs (traffic interception, CVE-2020-8554) or alias other hosts.
fn check_service(service: &Value) -> Result<(), String> {
    if service.pointer("/spec/externalIPs").and_then(Value::as_array).is_some_and(|ips| !ips.is_empty()) {
        return Err("Service sets externalIPs".into());
    }
    if service.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
        return Err("Service is of type ExternalName".into());
    }
    Ok(())
}

/// Volume sources a granted plugin may create PersistentVolumes for: network storage, never the node's.
const PV_SOURCES: &[&str] = &["nfs", "csi"];
const PV_FIELDS: &[&str] = &[
    "capacity",
    "accessModes",
    "persistentVolumeReclaimPolicy",
    "storageClassName",
    "claimRef",
    "mountOptions",
    "volumeMode",
];

fn check_volume(pv: &Value, ctx: &PolicyContext<'_>) -> Result<(), String> {
    let spec = pv.get("spec").and_then(Value::as_object).ok_or("PersistentVolume has no spec")?;
    let sources: Vec<&String> = spec.keys().filter(|k| !PV_FIELDS.contains(&k.as_str())).collect();
    match sources.as_slice() {
        [source] if PV_SOURCES.contains(&source.as_str()) => {}
        _ => {
            return Err(format!(
                "PersistentVolume sources other than {} are not allowed: {sources:?}",
                PV_SOURCES.join(", ")
            ));
        }
    }
    let claim_ns = spec.get("claimRef").and_then(|c| c.get("namespace")).and_then(Value::as_str);
    let claim_name = spec.get("claimRef").and_then(|c| c.get("name")).and_then(Value::as_str).unwrap_or_default();
    if claim_ns != Some(ctx.namespace) || !claim_name.starts_with(&format!("{}-", ctx.cluster)) {
        return Err("PersistentVolume must be reserved (claimRef) for a claim of this cluster".into());
    }
    Ok(())
}

/// Checks across a whole plan: every object once, and claims bind only to volumes of the same plan.
/// `objects` pairs each object with the plugin that emitted it.
pub fn check_plan(objects: &[(String, Value)]) -> Result<(), PolicyViolation> {
    let key = |o: &Value| {
        let s = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
        (s("/kind"), s("/metadata/name"))
    };
    let mut seen: std::collections::BTreeMap<(String, String), &str> = Default::default();
    for (plugin, o) in objects {
        let (kind, name) = key(o);
        if let Some(first) = seen.insert((kind.clone(), name.clone()), plugin) {
            return Err(PolicyViolation {
                plugin: plugin.clone(),
                object: format!("{kind}/{name}"),
                reason: format!("plugin {first} already emitted it"),
            });
        }
    }
    for (plugin, o) in objects {
        let (kind, name) = key(o);
        if let Some(volume) = o.pointer("/spec/volumeName").and_then(Value::as_str)
            && kind == "PersistentVolumeClaim"
            && !seen.contains_key(&("PersistentVolume".to_string(), volume.to_string()))
        {
            return Err(PolicyViolation {
                plugin: plugin.clone(),
                object: format!("{kind}/{name}"),
                reason: format!("claim binds to PersistentVolume {volume:?}, which this plan does not create"),
            });
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

    static NO_ACCOUNTS: BTreeSet<String> = BTreeSet::new();

    fn ctx<'a>(granted: &'a BTreeSet<String>) -> PolicyContext<'a> {
        PolicyContext {
            cluster: "ecs",
            namespace: "prod",
            uid: "u-1",
            plugin: "bookkeeper",
            component: "bookie",
            granted,
            service_accounts: &NO_ACCOUNTS,
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
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ecs-x",
                "ownerReferences": []}}),
                "set by the host",
            ),
            (json!("text"), "not a JSON object"),
        ];
        for (object, expected) in cases {
            let err = enforce(&ctx(&granted), vec![object]).unwrap_err();
            assert!(err.reason.contains(expected), "{err} should mention {expected}");
        }
    }

    #[test]
    fn persistent_volumes_need_the_capability_and_get_no_owner() {
        let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "ecs-prod-tier2"},
            "spec": {"nfs": {"server": "10.0.0.2", "path": "/vol1"}, "claimRef": {"namespace": "prod", "name": "ecs-tier2"}}});
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
            (
                json!({"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]}),
                "SYS_ADMIN",
            ),
            (json!({"containers": [{"name": "c", "ports": [{"containerPort": 1, "hostPort": 1}]}]}), "hostPort"),
            (json!({"securityContext": {"runAsUser": 0}, "containers": []}), "root"),
            (json!({"serviceAccountName": "ecs-operator", "containers": []}), "service account"),
        ] {
            let err = enforce(&ctx(&granted), vec![sts(spec)]).unwrap_err();
            assert!(err.reason.contains(expected), "{err}");
        }
    }

    #[test]
    fn services_and_volumes_stay_inside_the_cluster() {
        let granted = BTreeSet::from([CAP_PERSISTENT_VOLUME.to_string()]);
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ecs-s"},
            "spec": {"externalIPs": ["1.2.3.4"]}});
        assert!(enforce(&ctx(&granted), vec![svc]).unwrap_err().reason.contains("externalIPs"));
        let pv = |spec: Value| {
            json!({"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": "ecs-prod-tier2"}, "spec": spec})
        };
        let host = pv(json!({"hostPath": {"path": "/"}, "claimRef": {"namespace": "prod", "name": "ecs-tier2"}}));
        assert!(enforce(&ctx(&granted), vec![host]).unwrap_err().reason.contains("sources"));
        let foreign =
            pv(json!({"nfs": {"server": "s", "path": "/"}, "claimRef": {"namespace": "kube-system", "name": "x"}}));
        assert!(enforce(&ctx(&granted), vec![foreign]).unwrap_err().reason.contains("claimRef"));
    }

    #[test]
    fn plans_hold_each_object_once_and_claims_bind_only_their_own_volumes() {
        let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "ecs-tier2"},
            "spec": {"volumeName": "someone-elses"}});
        let err = check_plan(&[("tier2-x".into(), claim)]).unwrap_err();
        assert!(err.reason.contains("does not create"), "{err}");
        let twice = [("a".to_string(), cm("ecs-x")), ("b".to_string(), cm("ecs-x"))];
        let err = check_plan(&twice).unwrap_err();
        assert_eq!((err.plugin.as_str(), err.reason.as_str()), ("b", "plugin a already emitted it"));
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
