//! Checks of `spec.bookkeeper`. Every problem is reported (sorted), not just the first.

use ecs_plugin_sdk::FieldError;
use ecs_plugin_sdk::spec::{ECSClusterSpec, MAX_REPLICAS, MIN_BOOKIES};
use ecs_plugin_sdk::validate::{
    require_non_blank, storage_request, validate_bookkeeper_options, validate_jvm_options, validate_replicas,
};

const PATH: &str = "spec.bookkeeper";

pub fn validate(spec: &ECSClusterSpec) -> Vec<FieldError> {
    let bk = &spec.bookkeeper;
    let mut errors = Vec::new();

    errors.extend(require_non_blank(&format!("{PATH}.image.repository"), &bk.image.repository));
    errors.extend(validate_replicas(&format!("{PATH}.replicas"), bk.replicas, MIN_BOOKIES..=MAX_REPLICAS, None));
    // The ledger placement's sizes and whether the bookies can hold it.
    if let Err(problems) = spec.quorum() {
        errors.extend(problems);
    }
    errors.extend(validate_bookkeeper_options(&format!("{PATH}.options"), &bk.options));
    errors.extend(validate_jvm_options(&format!("{PATH}.jvmOptions"), &bk.jvm_options));

    let storage = &bk.storage;
    let claims = [
        ("ledgerVolumeClaimTemplate", Some(&storage.ledger_volume_claim_template)),
        ("journalVolumeClaimTemplate", Some(&storage.journal_volume_claim_template)),
        ("indexVolumeClaimTemplate", storage.index_volume_claim_template.as_ref()),
    ];
    for (field, claim) in claims {
        if claim.is_some_and(|c| storage_request(c).is_none_or(|size| size.trim().is_empty())) {
            errors.push(FieldError::new(
                format!("{PATH}.storage.{field}.resources.requests.storage"),
                "a bookie volume claim template must request a storage size",
            ));
        }
    }

    errors.sort();
    errors
}
