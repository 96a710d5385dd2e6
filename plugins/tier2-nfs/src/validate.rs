//! Checks of `spec.ecs.tier2.filesystem` beyond what the CRD schema enforces.

use ecs_plugin_sdk::FieldError;
use ecs_plugin_sdk::spec::FilesystemSpec;

/// Every problem in the configuration; paths start with `config_path`.
pub fn validate(spec: &FilesystemSpec, config_path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let claim = &spec.persistent_volume_claim.claim_name;
    if let Some(problem) = dns1123_subdomain_problem(claim) {
        errors.push(FieldError::new(
            format!("{config_path}.persistentVolumeClaim.claimName"),
            format!("{claim:?} is not a valid PersistentVolumeClaim name: {problem}"),
        ));
    }
    errors
}

/// Why `name` is not a DNS-1123 subdomain (the rule for most Kubernetes object names), if it is not.
pub fn dns1123_subdomain_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".to_string());
    }
    if name.len() > 253 {
        return Some("must be at most 253 characters".to_string());
    }
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Some(
                "must consist of lower case alphanumeric characters, '-' or '.', and start and end with an \
                 alphanumeric character"
                    .to_string(),
            );
        }
    }
    None
}
