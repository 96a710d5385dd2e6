//! An object as the operator's caches hold it: its metadata typed (the caches key by name and
//! namespace, the controller maps by owner and label), everything else as compact JSON text.
//!
//! Why not `DynamicObject` (or typed `Pod`s): a `serde_json::Value` tree spends a B-tree node on
//! every JSON object however small, and the caches hold every object of every cluster for the
//! operator's lifetime. Measured with `bench-live`'s five seed clusters: heap 5.8 MiB with those,
//! 4.4-4.5 MiB with these. Reconciles are rare and read a cluster's objects once, so they parse the
//! text back ([`Cached::to_json`]) when they need it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::{ApiResource, DynamicResourceScope};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::{Map, Value};
use std::borrow::Cow;

#[derive(Clone, Debug)]
pub struct Cached {
    /// Without `managedFields`: nothing reads them, and they are most of an object's size.
    pub metadata: ObjectMeta,
    /// The object's other fields (`spec`, `status`, `data`...) as a JSON object, without
    /// `apiVersion` and `kind` (list items need not carry them; the cache knows its kind).
    body: Box<str>,
}

impl Cached {
    /// The whole object as JSON, typed with `resource`'s `apiVersion` and `kind`.
    pub fn to_json(&self, resource: &ApiResource) -> Value {
        let mut object: Map<String, Value> =
            serde_json::from_str(&self.body).expect("the body was written from a JSON object");
        object.insert("apiVersion".into(), Value::from(resource.api_version.as_str()));
        object.insert("kind".into(), Value::from(resource.kind.as_str()));
        object.insert("metadata".into(), serde_json::to_value(&self.metadata).expect("metadata always serializes"));
        Value::Object(object)
    }

    /// One field of the object (not of its metadata), by JSON pointer, e.g. `/spec/claimRef/namespace`.
    pub fn pointer(&self, pointer: &str) -> Option<Value> {
        let object: Value = serde_json::from_str(&self.body).ok()?;
        object.pointer(pointer).cloned()
    }
}

impl<'de> Deserialize<'de> for Cached {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Value::Object(mut object) = Value::deserialize(deserializer)? else {
            return Err(D::Error::custom("an API object must be a JSON object"));
        };
        let mut metadata = object.remove("metadata").unwrap_or_else(|| Value::Object(Map::new()));
        if let Some(fields) = metadata.as_object_mut() {
            fields.remove("managedFields");
        }
        let metadata: ObjectMeta = serde_json::from_value(metadata).map_err(D::Error::custom)?;
        object.remove("apiVersion");
        object.remove("kind");
        let body = serde_json::to_string(&object).map_err(D::Error::custom)?.into_boxed_str();
        Ok(Cached { metadata, body })
    }
}

impl Resource for Cached {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    fn pod_resource() -> ApiResource {
        ApiResource::erase::<Pod>(&())
    }

    #[test]
    fn round_trips_an_object_without_its_managed_fields() {
        let listed = json!({
            "metadata": {"name": "ecs-bookie-0", "namespace": "default", "labels": {"app": "ecs"},
                "managedFields": [{"manager": "kubelet", "operation": "Update"}]},
            "spec": {"containers": [{"name": "bookie", "env": [{"name": "A", "value": "1"}]}]},
            "status": {"phase": "Running"},
        });
        let cached: Cached = serde_json::from_value(listed.clone()).unwrap();
        assert_eq!(cached.metadata.name.as_deref(), Some("ecs-bookie-0"));
        assert!(cached.metadata.managed_fields.is_none());
        let mut expected = listed;
        expected["metadata"].as_object_mut().unwrap().remove("managedFields");
        expected["apiVersion"] = json!("v1");
        expected["kind"] = json!("Pod");
        assert_eq!(cached.to_json(&pod_resource()), expected);
        assert_eq!(cached.pointer("/status/phase"), Some(json!("Running")));
    }

    #[test]
    fn the_cache_knows_the_kind_whatever_the_item_says() {
        let event = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        let cached: Cached = serde_json::from_value(event).unwrap();
        let as_json = cached.to_json(&pod_resource());
        assert_eq!((as_json["apiVersion"].as_str(), as_json["kind"].as_str()), (Some("v1"), Some("Pod")));
    }

    #[test]
    fn refuses_what_is_not_an_object() {
        let error = serde_json::from_value::<Cached>(json!(["not", "an", "object"])).unwrap_err();
        assert!(error.to_string().contains("must be a JSON object"), "{error}");
    }
}
