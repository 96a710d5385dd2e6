//! What the host adds to each workload it renders, so it alone decides when pods restart: the
//! version and a hash of the pod template as annotations, and an update strategy under which the
//! workload controller never replaces several pods at once.

use super::{TEMPLATE_HASH_ANNOTATION, VERSION_ANNOTATION};
use ecs_plugin_sdk::k8s::LABEL_COMPONENT;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

fn is_workload(object: &Value) -> bool {
    matches!(object.get("kind").and_then(Value::as_str), Some("StatefulSet" | "Deployment"))
}

fn annotations_mut(template: &mut Value) -> Option<&mut Map<String, Value>> {
    let template = template.as_object_mut()?;
    let metadata = template.entry("metadata").or_insert_with(|| json!({}));
    metadata.as_object_mut()?.entry("annotations").or_insert_with(|| json!({})).as_object_mut()
}

/// Stamps every workload: `versions` maps a component label to the version its plugin rendered.
/// StatefulSets get `OnDelete` (the host deletes pods one at a time); Deployments replace one pod
/// at a time and only after the new one is Ready (`maxSurge: 0`, `maxUnavailable: 1`).
pub fn stamp(objects: &mut [Value], versions: &BTreeMap<String, String>) {
    for object in objects.iter_mut().filter(|o| is_workload(o)) {
        let component = object.pointer(&format!("/metadata/labels/{LABEL_COMPONENT}")).and_then(Value::as_str);
        let version = component.and_then(|c| versions.get(c)).cloned();
        let strategy = match object["kind"].as_str() {
            Some("StatefulSet") => ("updateStrategy", json!({"type": "OnDelete"})),
            _ => ("strategy", json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})),
        };
        if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert(strategy.0.to_string(), strategy.1);
        }
        let Some(template) = object.pointer_mut("/spec/template") else { continue };
        if let Some(annotations) = annotations_mut(template) {
            annotations.remove(TEMPLATE_HASH_ANNOTATION);
            match version {
                Some(v) => annotations.insert(VERSION_ANNOTATION.to_string(), v.into()),
                None => annotations.remove(VERSION_ANNOTATION),
            };
        }
        let hash = hash_of(template);
        if let Some(annotations) = annotations_mut(template) {
            annotations.insert(TEMPLATE_HASH_ANNOTATION.to_string(), hash.into());
        }
    }
}

/// serde_json maps are ordered, so the serialization (and the hash) is canonical.
fn hash_of(template: &Value) -> String {
    let digest = Sha256::digest(serde_json::to_vec(template).unwrap_or_default());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn template_annotation<'a>(workload: &'a Value, key: &str) -> Option<&'a str> {
    workload.pointer("/spec/template/metadata/annotations")?.get(key)?.as_str()
}

/// The template hash a workload's pods must carry to be up to date.
pub fn hash(workload: &Value) -> Option<&str> {
    template_annotation(workload, TEMPLATE_HASH_ANNOTATION)
}

/// The version a workload's pod template was rendered with.
pub fn version(workload: &Value) -> Option<&str> {
    template_annotation(workload, VERSION_ANNOTATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "ecs-bookie", "labels": {LABEL_COMPONENT: "bookie"}},
            "spec": {"updateStrategy": {"type": "RollingUpdate"},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "b", "image": image}]}}}})
    }

    fn stamped(image: &str, version: &str) -> Value {
        let mut objects = vec![set(image)];
        stamp(&mut objects, &BTreeMap::from([("bookie".to_string(), version.to_string())]));
        objects.remove(0)
    }

    #[test]
    fn the_hash_follows_the_template_and_the_version() {
        let a = stamped("bk:1", "1.0.0");
        assert_eq!(version(&a), Some("1.0.0"));
        assert_eq!(hash(&a).map(str::len), Some(16));
        assert_eq!(a["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
        assert_eq!(hash(&a), hash(&stamped("bk:1", "1.0.0")), "the same template hashes the same");
        assert_ne!(hash(&a), hash(&stamped("bk:2", "1.0.0")));
        assert_ne!(hash(&a), hash(&stamped("bk:1", "1.0.1")));
        // Stamping a stamped object again (a re-render) changes nothing.
        let mut again = vec![a.clone()];
        stamp(&mut again, &BTreeMap::from([("bookie".to_string(), "1.0.0".to_string())]));
        assert_eq!(again[0], a);
    }

    #[test]
    fn deployments_replace_one_pod_at_a_time() {
        let mut objects = vec![json!({"kind": "Deployment", "metadata": {"name": "c"}, "spec": {"template": {}}})];
        stamp(&mut objects, &BTreeMap::new());
        assert_eq!(objects[0]["spec"]["strategy"]["rollingUpdate"], json!({"maxSurge": 0, "maxUnavailable": 1}));
        assert!(version(&objects[0]).is_none());
        assert!(hash(&objects[0]).is_some());
    }
}
