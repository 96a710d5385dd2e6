//! Checks of `spec.ecs.tier2.filesystem` beyond what the CRD schema enforces.

use ecs_plugin_sdk::FieldError;
use ecs_plugin_sdk::spec::FilesystemSpec;
use ecs_plugin_sdk::validate::dns1123_subdomain_problem;

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
