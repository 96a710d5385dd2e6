//! Deciding whether a live object already matches what the plugins want, so that a reconcile with
//! nothing to change sends no write request at all.
//!
//! Two checks, both needed: the `ecs.ecs.io/applied-hash` annotation (the digest of the desired
//! object last applied) catches fields the plugins *stopped* setting, which server-side apply then
//! removes; [`covers`] catches drift, e.g. someone scaling a StatefulSet by hand.

use serde_json::Value;
use sha2::{Digest, Sha256};

pub const APPLIED_HASH: &str = "ecs.ecs.io/applied-hash";

/// The desired object with its applied-hash annotation, ready to apply.
pub fn with_applied_hash(mut desired: Value) -> Value {
    let hash = crate::runtime::hex(&Sha256::digest(desired.to_string().as_bytes()));
    if let Some(metadata) = desired.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = metadata.entry("annotations").or_insert_with(|| Value::Object(Default::default()));
        if let Some(map) = annotations.as_object_mut() {
            map.insert(APPLIED_HASH.into(), Value::String(hash[..32].to_string()));
        }
    }
    desired
}

/// True when applying `desired` (as returned by [`with_applied_hash`]) to `live` would change nothing.
pub fn up_to_date(desired: &Value, live: &Value) -> bool {
    let hash = |v: &Value| v.pointer("/metadata/annotations").and_then(|a| a.get(APPLIED_HASH)).cloned();
    hash(desired).is_some() && hash(desired) == hash(live) && covers(desired, live)
}

/// Whether every field set in `desired` has the same value in `live` (which holds more: defaults,
/// status, fields of other managers). Empty desired maps and lists match absent ones, and equal
/// quantities match however they are written (the API server canonicalises `1024Mi` to `1Gi`).
pub fn covers(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(key, dv)| match l.get(key) {
            Some(lv) => covers(dv, lv),
            None => is_empty(dv),
        }),
        (Value::Array(d), Value::Array(l)) => d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| covers(dv, lv)),
        (Value::String(d), Value::String(l)) => {
            d == l || crate::quantity::parse(d).is_some_and(|q| crate::quantity::parse(l) == Some(q))
        }
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        (Value::String(d), Value::Number(l)) => *d == l.to_string(),
        (Value::Number(d), Value::String(l)) => d.to_string() == *l,
        (d, l) => is_empty(d) && is_empty(l) || d == l,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn live_defaults_and_status_do_not_count_as_drift() {
        let desired = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "bookie", "resources": {"limits": {"memory": "1024Mi"}}, "env": []}]}}}});
        let live = json!({"spec": {"replicas": 3, "revisionHistoryLimit": 10, "template": {"spec": {
            "containers": [{"name": "bookie", "imagePullPolicy": "IfNotPresent",
            "resources": {"limits": {"memory": "1Gi"}}}]}}}, "status": {"replicas": 3}});
        assert!(covers(&desired, &live));
    }

    #[test]
    fn drift_is_detected() {
        let desired = json!({"spec": {"replicas": 3, "ports": [{"port": 9090}]}});
        assert!(!covers(&desired, &json!({"spec": {"replicas": 5, "ports": [{"port": 9090}]}})));
        assert!(!covers(&desired, &json!({"spec": {"replicas": 3, "ports": []}})));
        assert!(!covers(&desired, &json!({"spec": {"ports": [{"port": 9090}]}})));
        assert!(!covers(&json!({"data": {"a": "1"}}), &json!({"data": {"a": "2"}})));
    }

    #[test]
    fn the_applied_hash_tracks_the_desired_object() {
        let a = with_applied_hash(json!({"metadata": {"name": "x"}, "data": {"k": "v"}}));
        let b = with_applied_hash(json!({"metadata": {"name": "x"}, "data": {"k": "v"}}));
        let c = with_applied_hash(json!({"metadata": {"name": "x"}, "data": {}}));
        assert_eq!(a, b);
        assert!(up_to_date(&a, &a));
        assert!(!up_to_date(&c, &a), "a removed field needs an apply even though the live object covers it");
        let unannotated = json!({"metadata": {"name": "x"}, "data": {"k": "v"}});
        assert!(!up_to_date(&a, &unannotated));
    }
}
