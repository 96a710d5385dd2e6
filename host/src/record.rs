//! `ecs-operator record`: turns a live ECSCluster and the objects the operator sees of it into a
//! recorded-spec case (`cluster.yaml`, `observed.yaml`), so a plugin can be tested offline against
//! a real cluster's state.

use crate::controller::apply::dynamic_api;
use crate::crd::ECSCluster;
use crate::testcases::{CLUSTER_FILE, OBSERVED_FILE};
use anyhow::Context as _;
use ecs_plugin_sdk::k8s::LABEL_CLUSTER;
use kube::Api;
use kube::api::ListParams;
use serde_json::{Value, json};
use std::path::Path;

/// Kinds captured as observed state (what the operator watches), with their API versions.
const KINDS: &[(&str, &str)] = &[
    ("v1", "PersistentVolume"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "ConfigMap"),
    ("v1", "Service"),
    ("policy/v1", "PodDisruptionBudget"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "Deployment"),
    ("v1", "Pod"),
];

/// Server-populated fields that vary between captures and say nothing about the cluster.
fn clean(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"] {
            meta.remove(field);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
        meta.remove("ownerReferences");
    }
    object
}

fn yaml_documents(objects: &[Value]) -> anyhow::Result<String> {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(o)?);
    }
    Ok(out)
}

/// Writes the case; returns a summary of what was captured.
pub async fn record(
    kubeconfig: Option<&Path>,
    name: &str,
    namespace: Option<&str>,
    out: &Path,
) -> anyhow::Result<String> {
    let client = crate::controller::client(kubeconfig).await?;
    let namespace = namespace.map(str::to_string).unwrap_or_else(|| client.default_namespace().to_string());
    let cr = Api::<ECSCluster>::namespaced(client.clone(), &namespace)
        .get(name)
        .await
        .with_context(|| format!("reading ECSCluster {namespace}/{name}"))?;
    let cluster = json!({
        "apiVersion": crate::crd::API_VERSION,
        "kind": crate::crd::KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": cr.spec,
    });
    let selector = ListParams::default().labels(&format!("{LABEL_CLUSTER}={name}"));
    let mut observed = Vec::new();
    for (api_version, kind) in KINDS {
        let cluster_scoped = *kind == "PersistentVolume";
        let api = dynamic_api(&client, api_version, kind, (!cluster_scoped).then_some(namespace.as_str()));
        let list = api.list(&selector).await.with_context(|| format!("listing {kind}s"))?;
        for item in list.items {
            let mut value = serde_json::to_value(&item)?;
            value["apiVersion"] = json!(api_version);
            value["kind"] = json!(kind);
            let claim_ns = value.pointer("/spec/claimRef/namespace").and_then(Value::as_str);
            if cluster_scoped && claim_ns != Some(namespace.as_str()) {
                continue;
            }
            observed.push(clean(value));
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join(CLUSTER_FILE), serde_yaml::to_string(&cluster)?)?;
    std::fs::write(out.join(OBSERVED_FILE), yaml_documents(&observed)?)?;
    Ok(format!("ECSCluster {namespace}/{name} and {} observed objects", observed.len()))
}
