//! Checks of the controller's part of `spec.ecs`. Every problem is reported (sorted).

use ecs_plugin_sdk::FieldError;
use ecs_plugin_sdk::spec::{ECSClusterSpec, JvmOptions};

const PATH: &str = "spec.ecs";
const MAX_REPLICAS: i32 = 1000;

pub fn validate(spec: &ECSClusterSpec) -> Vec<FieldError> {
    let ecs = &spec.ecs;
    let mut errors = Vec::new();

    if ecs.image.repository.trim().is_empty() {
        errors.push(FieldError::new(format!("{PATH}.image.repository"), "must not be empty"));
    }
    if !(1..=MAX_REPLICAS).contains(&ecs.controller_replicas) {
        errors.push(FieldError::new(
            format!("{PATH}.controllerReplicas"),
            format!(
                "must be between 1 and {MAX_REPLICAS} (got {}): clients and segment store nodes need a \
                 controller",
                ecs.controller_replicas
            ),
        ));
    }
    for (key, value) in &ecs.options {
        let path = format!("{PATH}.options.{key}");
        if key.is_empty() || key.contains(|c: char| c.is_whitespace() || c == '=') {
            errors.push(FieldError::new(
                path,
                "option names must be non-empty, without whitespace or '=' (they become -Dname=value)",
            ));
        } else if value.contains(char::is_whitespace) {
            // JAVA_OPTS is split on whitespace: a value with a space would become two JVM arguments.
            errors.push(FieldError::new(
                path,
                "option values must not contain whitespace (they are passed in JAVA_OPTS)",
            ));
        }
    }
    jvm_flags(&format!("{PATH}.controllerJvmOptions"), &ecs.controller_jvm_options, &mut errors);

    errors.sort();
    errors
}

/// Each flag must look like a JVM option: anything else would be read as the main class.
fn jvm_flags(path: &str, jvm: &JvmOptions, errors: &mut Vec<FieldError>) {
    let lists = [("memoryOpts", &jvm.memory_opts), ("gcOpts", &jvm.gc_opts), ("extraOpts", &jvm.extra_opts)];
    for (field, flags) in lists {
        for (i, flag) in flags.iter().enumerate() {
            if !flag.trim_start().starts_with('-') {
                errors.push(FieldError::new(
                    format!("{path}.{field}[{i}]"),
                    format!("JVM flags must start with '-' (got {flag:?})"),
                ));
            }
        }
    }
}
