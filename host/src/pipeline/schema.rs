//! Offline admission: checks a raw `ECSCluster` object against the CRD this operator generates (the
//! OpenAPI structure, then the CEL rules through kube's client-side evaluator), so `render` and
//! `validate` reject exactly what the apiserver would, with the same field paths, before any plugin runs.

use crate::crd;
use ecs_plugin_sdk::FieldError;
use kube::core::cel::{CompiledSchema, compile_schema, validate_compiled};
use serde_json::Value;
use std::sync::OnceLock;

struct Compiled {
    schema: Value,
    cel: CompiledSchema,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema = crd::open_api_schema();
        let cel = compile_schema(&schema);
        Compiled { schema, cel }
    })
}

/// Structural problems (types, unknown fields, required fields, bounds, patterns) in `object`.
pub fn structural_errors(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(&compiled().schema, object, "", &mut errors);
    errors
}

/// CEL rule failures for a structurally valid object; with `old`, transition rules too.
pub fn cel_errors(object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    match validate_compiled(&compiled().cel, object, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .into_vec()
            .into_iter()
            .map(|e| {
                // A rule's `fieldPath` is written `.spec.x`; the apiserver reports it as `spec.x`.
                let path = e.field_path.strip_prefix('.').unwrap_or(&e.field_path).to_string();
                FieldError::new(if path.is_empty() { "<root>".into() } else { path }, e.message)
            })
            .collect(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn walk(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let at = |p: &str| {
        if p.is_empty() { "<root>".to_string() } else { p.to_string() }
    };
    if value.is_null() {
        if schema.get("nullable").and_then(Value::as_bool) != Some(true) {
            errors.push(FieldError::new(at(path), "must not be null"));
        }
        return;
    }
    if schema.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true) {
        if !matches!(type_name(value), "integer" | "string") {
            errors.push(FieldError::new(at(path), format!("must be an integer or a string, not {}", type_name(value))));
        }
        return;
    }
    let expected = schema.get("type").and_then(Value::as_str);
    let actual = type_name(value);
    let type_ok = match expected {
        None => true,
        Some("number") => matches!(actual, "integer" | "number"),
        Some(t) => t == actual,
    };
    if !type_ok {
        errors.push(FieldError::new(at(path), format!("must be of type {}, not {actual}", expected.unwrap_or("?"))));
        return;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let list: Vec<String> = options.iter().map(Value::to_string).collect();
        errors.push(FieldError::new(
            at(path),
            format!("unsupported value {value}; supported values: {}", list.join(", ")),
        ));
    }
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let preserve = schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
            for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if let Some(key) = required.as_str()
                    && !map.contains_key(key)
                {
                    errors.push(FieldError::new(join(path, key), "required value"));
                }
            }
            for (key, child) in map {
                let child_path = join(path, key);
                match (properties.and_then(|p| p.get(key)), additional) {
                    (Some(s), _) => walk(s, child, &child_path, errors),
                    (None, Some(s)) => walk(s, child, &child_path, errors),
                    // Type and object metadata are the apiserver's; CRD schemas do not spell them out.
                    (None, None)
                        if preserve
                            || (path.is_empty() && matches!(key.as_str(), "apiVersion" | "kind" | "metadata")) => {}
                    (None, None) => errors.push(FieldError::new(child_path, "unknown field")),
                }
            }
        }
        Value::Array(items) => {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                errors.push(FieldError::new(at(path), format!("must have at least {min} items")));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(item_schema, item, &format!("{path}[{i}]"), errors);
                }
            }
        }
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && len < min
            {
                errors.push(FieldError::new(at(path), format!("must be at least {min} characters long")));
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && len > max
            {
                errors.push(FieldError::new(at(path), format!("must be at most {max} characters long")));
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                match regex::Regex::new(pattern) {
                    Ok(re) if !re.is_match(s) => {
                        errors.push(FieldError::new(at(path), format!("{s:?} does not match the pattern {pattern}")))
                    }
                    _ => {}
                }
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                && x < min
            {
                errors.push(FieldError::new(at(path), format!("must be greater than or equal to {min}")));
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                && x > max
            {
                errors.push(FieldError::new(at(path), format!("must be less than or equal to {max}")));
            }
        }
        _ => {}
    }
}
