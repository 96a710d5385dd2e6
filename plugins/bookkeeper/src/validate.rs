//! Checks of `spec.bookkeeper`. Every problem is reported (sorted), not just the first.

use ecs_plugin_sdk::FieldError;
use ecs_plugin_sdk::spec::{ECSClusterSpec, JvmOptions, MAX_REPLICAS, MIN_BOOKIES};
use k8s_openapi::api::core::v1::PersistentVolumeClaimSpec;

const PATH: &str = "spec.bookkeeper";

pub fn validate(spec: &ECSClusterSpec) -> Vec<FieldError> {
    let bk = &spec.bookkeeper;
    let mut errors = Vec::new();

    if bk.image.repository.trim().is_empty() {
        errors.push(FieldError::new(format!("{PATH}.image.repository"), "must not be empty"));
    }
    if bk.replicas < MIN_BOOKIES {
        errors.push(FieldError::new(
            format!("{PATH}.replicas"),
            format!(
                "must be at least {MIN_BOOKIES} (got {}): BookKeeper's ensemble size, write quorum and \
                 ack quorum are {MIN_BOOKIES}, so fewer bookies cannot store a ledger",
                bk.replicas
            ),
        ));
    } else if bk.replicas > MAX_REPLICAS {
        errors.push(FieldError::new(
            format!("{PATH}.replicas"),
            format!("must be at most {MAX_REPLICAS} (got {})", bk.replicas),
        ));
    }
    for key in bk.options.keys() {
        if !valid_option_key(key) {
            errors.push(FieldError::new(
                format!("{PATH}.options.{key}"),
                "option names must be non-empty and contain only letters, digits, '_', '.' and '-' \
                 (they become BK_<name> environment variables)",
            ));
        }
    }
    jvm_flags(&format!("{PATH}.jvmOptions"), &bk.jvm_options, &mut errors);

    let storage = &bk.storage;
    let claims = [
        ("ledgerVolumeClaimTemplate", Some(&storage.ledger_volume_claim_template)),
        ("journalVolumeClaimTemplate", Some(&storage.journal_volume_claim_template)),
        ("indexVolumeClaimTemplate", storage.index_volume_claim_template.as_ref()),
    ];
    for (field, claim) in claims {
        if claim.is_some_and(|c| !has_storage_request(c)) {
            errors.push(FieldError::new(
                format!("{PATH}.storage.{field}.resources.requests.storage"),
                "a bookie volume claim template must request a storage size",
            ));
        }
    }

    errors.sort();
    errors
}

/// ConfigMap keys (hence `BK_<key>`) allow only `[A-Za-z0-9_.-]`.
fn valid_option_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
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

fn has_storage_request(claim: &PersistentVolumeClaimSpec) -> bool {
    claim
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .is_some_and(|q| !q.0.trim().is_empty())
}
