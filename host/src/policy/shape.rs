//! Field allow-lists: the shape a plugin's JSON may have. A [`Shape`] lists every field an object
//! may hold and the type of each value; anything not listed (an unknown field, a string where a
//! boolean belongs, a float where an integer belongs) is a finding with the JSON path of the value.
//! What is *allowed* is data here; what values *mean* (references, bounds, Pod Security) is checked
//! by the rules that walk the object afterwards, on objects already known to have this shape.

use super::{Finding, Rule};
use serde_json::Value;

/// The allowed shape of a JSON value.
#[derive(Debug)]
pub enum Shape {
    /// Any string of at most `max` bytes.
    Str(usize),
    /// One of these strings, exactly (letter case included).
    OneOf(&'static [&'static str]),
    Bool,
    /// A JSON integer in `min..=max` (`1.0` is not an integer).
    Int(i64, i64),
    /// An integer in `0..=max`, or a string of at most 64 bytes (ports by name, percentages).
    IntOrStr(i64),
    /// A Kubernetes quantity: a string such as `500m` or `1Gi`, or a non-negative integer.
    Quantity,
    /// A map of strings to strings: at most `.0` entries, values of at most `.1` bytes.
    StrMap(usize, usize),
    /// A map of strings to quantities (resource lists).
    QuantityMap,
    /// A list of at most `max` items of one shape.
    List(usize, &'static Shape),
    /// An object with only these fields.
    Object(&'static [(&'static str, &'static Shape)]),
}

/// Longest string a plugin may put in any single field (names, paths, commands, values). Bigger
/// payloads belong in ConfigMap data, which has its own shape.
pub const MAX_STRING: usize = 4096;

/// Shorthand for the common case: a string of at most [`MAX_STRING`] bytes.
pub const STR: Shape = Shape::Str(MAX_STRING);
pub const BOOL: Shape = Shape::Bool;

/// Every value of `value` that `shape` does not allow, as findings under `path`.
pub fn check(value: &Value, shape: &Shape, path: &str, out: &mut Vec<Finding>) {
    let wrong = |expected: &str| Finding::new(Rule::AllowedFields, path, format!("must be {expected}"));
    match (shape, value) {
        (Shape::Str(max), Value::String(s)) => {
            if s.len() > *max {
                out.push(Finding::new(Rule::Bounds, path, format!("is {} bytes long; at most {max} allowed", s.len())));
            }
        }
        (Shape::Str(_), _) => out.push(wrong("a string")),
        (Shape::OneOf(allowed), Value::String(s)) if allowed.contains(&s.as_str()) => {}
        (Shape::OneOf(allowed), other) => out.push(Finding::new(
            Rule::AllowedFields,
            path,
            format!("is {}; allowed: {}", describe(other), allowed.join(", ")),
        )),
        (Shape::Bool, Value::Bool(_)) => {}
        (Shape::Bool, _) => out.push(wrong("a boolean")),
        (Shape::Int(min, max), Value::Number(n)) => match n.as_i64() {
            Some(i) if (*min..=*max).contains(&i) => {}
            Some(i) => out.push(Finding::new(Rule::Bounds, path, format!("is {i}; allowed: {min} to {max}"))),
            None => out.push(wrong("an integer")),
        },
        (Shape::Int(..), _) => out.push(wrong("an integer")),
        (Shape::IntOrStr(max), Value::Number(n)) => match n.as_i64() {
            Some(i) if (0..=*max).contains(&i) => {}
            _ => out.push(wrong(&format!("an integer from 0 to {max}, or a string"))),
        },
        (Shape::IntOrStr(_), Value::String(s)) if !s.is_empty() && s.len() <= 64 => {}
        (Shape::IntOrStr(max), _) => out.push(wrong(&format!("an integer from 0 to {max}, or a short string"))),
        (Shape::Quantity, v) if crate::quantity::parse_value(v).is_some_and(|q| q >= 0) => {}
        (Shape::Quantity, _) => out.push(wrong("a non-negative Kubernetes quantity")),
        (Shape::StrMap(max, value_max), Value::Object(map)) => {
            if map.len() > *max {
                out.push(Finding::new(Rule::Bounds, path, format!("has {} entries; at most {max} allowed", map.len())));
            }
            for (key, v) in map {
                check(v, &Shape::Str(*value_max), &format!("{path}[{key}]"), out);
            }
        }
        (Shape::StrMap(..), _) => out.push(wrong("a map of strings")),
        (Shape::QuantityMap, Value::Object(map)) => {
            for (key, v) in map {
                check(v, &Shape::Quantity, &format!("{path}[{key}]"), out);
            }
        }
        (Shape::QuantityMap, _) => out.push(wrong("a map of quantities")),
        (Shape::List(max, item), Value::Array(items)) => {
            if items.len() > *max {
                out.push(Finding::new(Rule::Bounds, path, format!("has {} items; at most {max} allowed", items.len())));
                return;
            }
            for (i, v) in items.iter().enumerate() {
                check(v, item, &format!("{path}[{i}]"), out);
            }
        }
        (Shape::List(..), _) => out.push(wrong("a list")),
        (Shape::Object(fields), Value::Object(map)) => {
            for (key, v) in map {
                let child = join(path, key);
                match fields.iter().find(|(name, _)| name == key) {
                    // An explicit null is how JSON says "unset"; the API server reads it so too.
                    Some(_) if v.is_null() => {}
                    Some((_, shape)) => check(v, shape, &child, out),
                    None => out.push(Finding::new(Rule::AllowedFields, &child, "is not an allowed field")),
                }
            }
        }
        (Shape::Object(_), _) => out.push(wrong("an object")),
    }
}

/// `a.b`, or `b` at the root.
pub fn join(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_string() } else { format!("{path}.{field}") }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) if s.len() <= 64 => format!("{s:?}"),
        Value::String(_) => "a long string".into(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static INNER: Shape = Shape::Object(&[("port", &Shape::Int(1, 65535)), ("on", &BOOL)]);
    static OUTER: Shape = Shape::Object(&[
        ("name", &STR),
        ("mode", &Shape::OneOf(&["A", "B"])),
        ("items", &Shape::List(2, &INNER)),
        ("size", &Shape::Quantity),
    ]);

    fn findings(v: Value) -> Vec<String> {
        let mut out = Vec::new();
        check(&v, &OUTER, "spec", &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn allows_what_is_listed() {
        let ok = json!({"name": "x", "mode": "A", "items": [{"port": 80, "on": true}], "size": "1Gi", "mode2": null});
        assert_eq!(findings(ok), ["[allowed-fields] spec.mode2: is not an allowed field"]);
        assert!(findings(json!({"name": "x", "size": 3, "items": []})).is_empty());
    }

    #[test]
    fn refuses_unknown_fields_wrong_types_and_other_cases() {
        let bad = json!({"name": 1, "mode": "a", "items": [{"port": 80.0}, {"on": "true"}], "size": "-1", "x": {}});
        assert_eq!(
            findings(bad),
            [
                "[allowed-fields] spec.items[0].port: must be an integer",
                "[allowed-fields] spec.items[1].on: must be a boolean",
                "[allowed-fields] spec.mode: is \"a\"; allowed: A, B",
                "[allowed-fields] spec.name: must be a string",
                "[allowed-fields] spec.size: must be a non-negative Kubernetes quantity",
                "[allowed-fields] spec.x: is not an allowed field",
            ]
        );
    }

    #[test]
    fn bounds_lists_integers_and_strings() {
        let long = "x".repeat(MAX_STRING + 1);
        let bad = json!({"name": long, "items": [{"port": 0}, {}, {}]});
        let f = findings(bad);
        assert!(f.iter().any(|f| f.contains("spec.items: has 3 items; at most 2")), "{f:?}");
        assert!(f.iter().any(|f| f.contains("spec.name: is 4097 bytes long")), "{f:?}");
        let f = findings(json!({"items": [{"port": 0}]}));
        assert_eq!(f, ["[bounds] spec.items[0].port: is 0; allowed: 1 to 65535"]);
    }
}
