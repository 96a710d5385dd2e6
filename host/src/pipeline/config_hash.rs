//! Restarts pods when their configuration changes: JVMs read `JAVA_OPTS` and friends only at start,
//! so each pod template gets an annotation hashing the ConfigMaps (from the same plan) it consumes.
//! An edit of `options` or JVM flags then rolls the StatefulSet or Deployment like an image change.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const ANNOTATION: &str = "ecs.ecs.io/config-hash";

/// Names of the ConfigMaps a pod spec reads (envFrom, env valueFrom, volumes), sorted and unique.
fn referenced_config_maps(pod: &Value) -> Vec<String> {
    let mut names = Vec::new();
    let containers = ["initContainers", "containers"].iter().filter_map(|f| pod.get(*f).and_then(Value::as_array));
    for container in containers.flatten() {
        for source in container.get("envFrom").and_then(Value::as_array).into_iter().flatten() {
            names.extend(source.pointer("/configMapRef/name").and_then(Value::as_str).map(String::from));
        }
        for var in container.get("env").and_then(Value::as_array).into_iter().flatten() {
            names.extend(var.pointer("/valueFrom/configMapKeyRef/name").and_then(Value::as_str).map(String::from));
        }
    }
    for volume in pod.get("volumes").and_then(Value::as_array).into_iter().flatten() {
        names.extend(volume.pointer("/configMap/name").and_then(Value::as_str).map(String::from));
    }
    names.sort();
    names.dedup();
    names
}

/// Stamps every workload's pod template with the hash of the ConfigMaps it reads.
pub fn stamp(objects: &mut [Value]) {
    let config_maps: BTreeMap<String, Value> = objects
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("ConfigMap"))
        .filter_map(|o| {
            let name = o.pointer("/metadata/name")?.as_str()?.to_string();
            let content = serde_json::json!({"data": o.get("data"), "binaryData": o.get("binaryData")});
            Some((name, content))
        })
        .collect();
    for object in objects.iter_mut() {
        if !matches!(object.get("kind").and_then(Value::as_str), Some("StatefulSet" | "Deployment")) {
            continue;
        }
        let Some(pod) = object.pointer("/spec/template/spec") else { continue };
        let used: Vec<(&String, &Value)> =
            referenced_config_maps(pod).into_iter().filter_map(|name| config_maps.get_key_value(&name)).collect();
        if used.is_empty() {
            continue;
        }
        // serde_json maps are ordered, so the serialization (and the hash) is canonical.
        let digest = Sha256::digest(serde_json::to_vec(&used).unwrap_or_default());
        let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let Some(template) = object.pointer_mut("/spec/template").and_then(Value::as_object_mut) else { continue };
        let metadata = template.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Some(metadata) = metadata.as_object_mut() {
            let annotations = metadata.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(ANNOTATION.into(), hash.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(java_opts: &str) -> Vec<Value> {
        vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ecs-ecs-node"},
                "data": {"JAVA_OPTS": java_opts}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ecs-bookie"}, "data": {"A": "1"}}),
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "ecs-ecs-node"},
                "spec": {"template": {"spec": {"containers": [{"name": "n",
                    "envFrom": [{"configMapRef": {"name": "ecs-ecs-node"}}, {"secretRef": {"name": "s"}}]}]}}}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ecs-x"},
                "spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}}),
        ]
    }

    fn hash(objects: &[Value]) -> Option<&str> {
        objects[2].pointer("/spec/template/metadata/annotations/ecs.ecs.io~1config-hash").and_then(Value::as_str)
    }

    #[test]
    fn hash_follows_the_config_the_pods_read_and_only_that() {
        let mut a = plan("-Xmx1g");
        let mut b = plan("-Xmx2g");
        stamp(&mut a);
        stamp(&mut b);
        assert_eq!(hash(&a).map(str::len), Some(16));
        assert_ne!(hash(&a), hash(&b), "a JVM option edit must roll the pods");
        let mut c = plan("-Xmx1g");
        c[1]["data"]["A"] = "2".into();
        stamp(&mut c);
        assert_eq!(hash(&a), hash(&c), "another component's config must not roll these pods");
        assert!(a[3].pointer("/spec/template/metadata").is_none(), "a workload reading no ConfigMap is untouched");
    }
}
