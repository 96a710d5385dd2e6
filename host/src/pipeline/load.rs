//! Reading what the CLI is given: an `ECSCluster` manifest (checked as the apiserver would admit it)
//! and recorded objects.

use super::schema;
use crate::crd::{API_VERSION, ECSCluster, KIND};
use ecs_plugin_sdk::{Cluster, FieldError};
use serde_json::Value;

/// Namespace of a manifest that names none, as `kubectl create` would use.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Parses YAML or JSON into documents; `---` separates documents, empty ones are skipped.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = serde_yaml::Value::deserialize_from(doc).map_err(|e| format!("document {}: {e}", i + 1))?;
        if value.is_null() {
            continue;
        }
        let json = serde_json::to_value(value).map_err(|e| format!("document {}: {e}", i + 1))?;
        // A `kind: List` (what `kubectl get -o yaml` prints) stands for its items.
        match json.get("items").and_then(Value::as_array) {
            Some(items) if json.get("kind").and_then(Value::as_str) == Some("List") => {
                out.extend(items.iter().cloned())
            }
            _ => out.push(json),
        }
    }
    Ok(out)
}

trait DeserializeFrom: Sized {
    fn deserialize_from(d: serde_yaml::Deserializer<'_>) -> Result<Self, serde_yaml::Error>;
}

impl DeserializeFrom for serde_yaml::Value {
    fn deserialize_from(d: serde_yaml::Deserializer<'_>) -> Result<Self, serde_yaml::Error> {
        serde::Deserialize::deserialize(d)
    }
}

/// Exactly one `ECSCluster` document from a manifest.
pub fn cluster_document(text: &str) -> Result<Value, Vec<FieldError>> {
    let docs = documents(text).map_err(|e| vec![FieldError::new("<manifest>", e)])?;
    let mut clusters: Vec<Value> =
        docs.into_iter().filter(|d| d.get("kind").and_then(Value::as_str) == Some(KIND)).collect();
    match clusters.len() {
        1 => Ok(clusters.remove(0)),
        0 => Err(vec![FieldError::new("<manifest>", format!("no {KIND} document found"))]),
        n => Err(vec![FieldError::new("<manifest>", format!("{n} {KIND} documents found; give one"))]),
    }
}

/// Checks a raw object as admission would (type, schema, CEL) and returns it typed, defaults applied.
pub fn admit(raw: &Value) -> Result<ECSCluster, Vec<FieldError>> {
    admit_with(raw, None)
}

/// [`admit`] for an update of the stored object `old` to `raw`, as the apiserver does it: the
/// status is the stored one (only the status subresource writes it), and the CRD's transition
/// rules (`oldSelf`, e.g. the version rules) apply.
pub fn admit_update(old: &Value, raw: &Value) -> Result<ECSCluster, Vec<FieldError>> {
    let mut raw = raw.clone();
    if let Some(object) = raw.as_object_mut() {
        match old.get("status") {
            Some(status) => object.insert("status".into(), status.clone()),
            None => object.remove("status"),
        };
    }
    let old: ECSCluster = serde_json::from_value(old.clone())
        .map_err(|e| vec![FieldError::new("<old object>", format!("is not a stored ECSCluster: {e}"))])?;
    let old = serde_json::to_value(&old).map_err(|e| vec![FieldError::new("<old object>", e.to_string())])?;
    admit_with(&raw, Some(&old))
}

fn admit_with(raw: &Value, old: Option<&Value>) -> Result<ECSCluster, Vec<FieldError>> {
    let mut errors = Vec::new();
    if raw.get("apiVersion").and_then(Value::as_str) != Some(API_VERSION) {
        errors.push(FieldError::new("apiVersion", format!("must be {API_VERSION}")));
    }
    if raw.get("kind").and_then(Value::as_str) != Some(KIND) {
        errors.push(FieldError::new("kind", format!("must be {KIND}")));
    }
    if raw.pointer("/metadata/name").and_then(Value::as_str).is_none_or(str::is_empty) {
        errors.push(FieldError::new("metadata.name", "required value"));
    }
    errors.extend(schema::structural_errors(raw));
    if !errors.is_empty() {
        return Err(sorted(errors));
    }
    let cluster: ECSCluster = serde_path_to_error::deserialize(raw.clone()).map_err(|e| {
        let path = e.path().to_string();
        vec![FieldError::new(if path == "." { "<root>".to_string() } else { path }, e.inner().to_string())]
    })?;
    let defaulted = serde_json::to_value(&cluster).map_err(|e| vec![FieldError::new("<root>", e.to_string())])?;
    let cel = schema::cel_errors(&defaulted, old);
    if !cel.is_empty() {
        return Err(sorted(cel));
    }
    Ok(cluster)
}

/// What plugins see of a cluster.
pub fn plugin_cluster(cr: &ECSCluster) -> Cluster {
    Cluster {
        name: cr.metadata.name.clone().unwrap_or_default(),
        namespace: cr.metadata.namespace.clone().unwrap_or_else(|| DEFAULT_NAMESPACE.to_string()),
        uid: cr.metadata.uid.clone().unwrap_or_default(),
        generation: cr.metadata.generation.unwrap_or(0),
        spec: cr.spec.clone(),
    }
}

pub fn sorted(mut errors: Vec<FieldError>) -> Vec<FieldError> {
    errors.sort();
    errors.dedup();
    errors
}
