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
        (Value::String(d), Value::String(l)) => d == l || quantity(d).is_some_and(|q| quantity(l) == Some(q)),
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

/// A Kubernetes quantity in nano-units, exactly; `None` if `s` is not one.
fn quantity(s: &str) -> Option<i128> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let (negative, number) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit())
        || fraction.len() > 9
    {
        return None;
    }
    let nanos: i128 = format!("{whole}{fraction:0<9}").parse().ok()?;
    let (base, exp): (i128, u32) = match suffix {
        "" => (10, 0),
        "n" => return Some(sign(negative, nanos / 1_000_000_000)),
        "u" => return Some(sign(negative, nanos / 1_000_000)),
        "m" => return Some(sign(negative, nanos / 1_000)),
        "k" => (10, 3),
        "M" => (10, 6),
        "G" => (10, 9),
        "T" => (10, 12),
        "P" => (10, 15),
        "E" => (10, 18),
        "Ki" => (1024, 1),
        "Mi" => (1024, 2),
        "Gi" => (1024, 3),
        "Ti" => (1024, 4),
        "Pi" => (1024, 5),
        "Ei" => (1024, 6),
        _ => return exponent(number, suffix, negative),
    };
    Some(sign(negative, nanos.checked_mul(base.checked_pow(exp)?)?))
}

/// `1e3`, `2E-1`: decimal exponents.
fn exponent(number: &str, suffix: &str, negative: bool) -> Option<i128> {
    let exp: i32 = suffix.strip_prefix(['e', 'E'])?.parse().ok()?;
    let value = quantity(number)?;
    let scaled = if exp >= 0 {
        value.checked_mul(10i128.checked_pow(exp as u32)?)?
    } else {
        value / 10i128.checked_pow(exp.unsigned_abs())?
    };
    Some(sign(negative, scaled))
}

fn sign(negative: bool, v: i128) -> i128 {
    if negative { -v } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_compare_by_value() {
        assert_eq!(quantity("1Gi"), quantity("1024Mi"));
        assert_eq!(quantity("500m"), quantity("0.5"));
        assert_eq!(quantity("1k"), quantity("1e3"));
        assert_eq!(quantity("2"), Some(2_000_000_000));
        assert_ne!(quantity("1G"), quantity("1Gi"));
        assert_eq!(quantity("abc"), None);
        assert_eq!(quantity("-Xms1g"), None);
        assert_eq!(quantity(""), None);
    }

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
