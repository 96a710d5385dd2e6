//! `ecs-operator record`: turns a live ECSCluster and the objects the operator sees of it into a
//! recorded-spec case (`cluster.yaml`, `observed.yaml`), so a plugin can be tested offline against
//! a real cluster's state.

use crate::controller::apply::dynamic_api;
use crate::controller::ownership;
use crate::controller::reconcile::cluster_id;
use crate::crd::ECSCluster;
use crate::kinds;
use crate::testcases::{CLUSTER_FILE, OBSERVED_FILE};
use anyhow::Context as _;
use ecs_plugin_sdk::k8s::LABEL_CLUSTER;
use kube::Api;
use kube::api::ListParams;
use serde_json::{Value, json};
use std::path::Path;

/// Server-populated fields that vary between captures and say nothing about the cluster.
fn clean(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        // `generation` stays: against `status.observedGeneration` it tells whether a workload
        // controller has seen the latest template, which rollout decisions depend on.
        for field in ["managedFields", "resourceVersion", "uid", "creationTimestamp"] {
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
    // The status carries the upgrade state machine; with the capture time, `test` replays the
    // operator's next rollout decision exactly.
    let recorded_at = k8s_openapi::jiff::Timestamp::now().round(k8s_openapi::jiff::Unit::Second)?.to_string();
    let mut cluster = json!({
        "apiVersion": crate::crd::API_VERSION,
        "kind": crate::crd::KIND,
        "metadata": {"name": name, "namespace": namespace,
            "annotations": {crate::rollout::RECORDED_AT_ANNOTATION: recorded_at}},
        "spec": cr.spec,
    });
    if let Some(status) = &cr.status {
        cluster["status"] = serde_json::to_value(status)?;
    }
    // What the operator observes of the cluster: its objects (by the ownership rule), then its pods.
    let id = cluster_id(&cr);
    let selector = ListParams::default().labels(&format!("{LABEL_CLUSTER}={name}"));
    let list = |api_version: &'static str, kind: &'static str, namespaced: bool| {
        let api = dynamic_api(&client, api_version, kind, namespaced.then_some(namespace.as_str()));
        let selector = &selector;
        async move {
            let list = api.list(selector).await.with_context(|| format!("listing {kind}s"))?;
            let mut values = Vec::new();
            for item in list.items {
                let mut value = serde_json::to_value(&item)?;
                value["apiVersion"] = json!(api_version);
                value["kind"] = json!(kind);
                values.push(value);
            }
            anyhow::Ok(values)
        }
    };
    let mut owned = Vec::new();
    for kind in kinds::MANAGED {
        let objects = list(kind.api_version, kind.kind, kind.namespaced).await?;
        owned.extend(objects.into_iter().filter(|o| ownership::belongs_to(o, &id)));
    }
    let pods = list("v1", "Pod", true).await?;
    let pods: Vec<Value> = pods.into_iter().filter(|p| ownership::pod_belongs_to(p, &owned)).collect();
    let observed: Vec<Value> = owned.into_iter().chain(pods).map(clean).collect();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join(CLUSTER_FILE), serde_yaml::to_string(&cluster)?)?;
    std::fs::write(out.join(OBSERVED_FILE), yaml_documents(&observed)?)?;
    Ok(format!("ECSCluster {namespace}/{name} and {} observed objects", observed.len()))
}
