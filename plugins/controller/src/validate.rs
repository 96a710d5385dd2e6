//! Checks of the controller's part of `spec.ecs`. Every problem is reported (sorted).

use ecs_plugin_sdk::FieldError;
use ecs_plugin_sdk::spec::{ECSClusterSpec, MAX_REPLICAS};
use ecs_plugin_sdk::validate::{require_non_blank, validate_ecs_options, validate_jvm_options, validate_replicas};

const PATH: &str = "spec.ecs";

pub fn validate(spec: &ECSClusterSpec) -> Vec<FieldError> {
    let ecs = &spec.ecs;
    let mut errors = Vec::new();

    errors.extend(require_non_blank(&format!("{PATH}.image.repository"), &ecs.image.repository));
    errors.extend(validate_replicas(
        &format!("{PATH}.controllerReplicas"),
        ecs.controller_replicas,
        1..=MAX_REPLICAS,
        Some("clients and segment store nodes need a controller"),
    ));
    errors.extend(validate_ecs_options(&format!("{PATH}.options"), &ecs.options));
    errors.extend(validate_jvm_options(&format!("{PATH}.controllerJvmOptions"), &ecs.controller_jvm_options));

    errors.sort();
    errors
}
