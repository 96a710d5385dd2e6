//! Checks of `spec.ecs.tier2.ecs`, including the CRD's own rules: a spec rendered offline or written
//! before the CRD was updated may not have been through the API server's validation.

use ecs_plugin_sdk::FieldError;
use ecs_plugin_sdk::spec::EcsObjectStoreSpec;
use ecs_plugin_sdk::validate::dns1123_subdomain_problem;

/// Every problem in the configuration; paths start with `config_path`.
pub fn validate(spec: &EcsObjectStoreSpec, config_path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut error =
        |field: &str, message: String| errors.push(FieldError::new(format!("{config_path}.{field}"), message));

    match (&spec.uri, &spec.config_uri) {
        (None, None) => error("uri", "set exactly one of uri or configUri".to_string()),
        (Some(_), Some(_)) => error("configUri", "set exactly one of uri or configUri, not both".to_string()),
        _ => {}
    }
    for (field, value) in [("uri", &spec.uri), ("configUri", &spec.config_uri)] {
        if let Some(value) = value
            && !is_http_url(value)
        {
            error(field, format!("{value:?} must be an http:// or https:// URL, e.g. https://ecs.example.com:9021"));
        }
    }
    if spec.root.is_some() && spec.prefix.is_some() {
        error("prefix", "set at most one of root or prefix (root is its older name)".to_string());
    }
    for (field, value) in [("bucket", &spec.bucket), ("namespace", &spec.namespace)] {
        if value.trim().is_empty() {
            error(field, "must not be empty".to_string());
        }
    }
    if let Some(problem) = dns1123_subdomain_problem(&spec.credentials) {
        error("credentials", format!("{:?} is not a valid Secret name: {problem}", spec.credentials));
    }
    errors
}

/// An http(s) URL with something after the scheme.
fn is_http_url(value: &str) -> bool {
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')) && !value.chars().any(char::is_whitespace)
}
