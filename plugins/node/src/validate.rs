//! Checks of the parts of the cluster the node reconciler reads, beyond what the CRD schema enforces.

use crate::objects::{headless_service_name, stateful_set_name};
use ecs_plugin_sdk::spec::MAX_REPLICAS;
use ecs_plugin_sdk::validate::{
    QuantitySyntax, dns_domain_problem, quantity_problem, storage_request, validate_ecs_options, validate_jvm_options,
    validate_replicas,
};
use ecs_plugin_sdk::{Cluster, FieldError};

/// Service names are DNS labels.
const MAX_SERVICE_NAME: usize = 63;
/// Pods carry the label `controller-revision-hash: <statefulset>-<hash of up to 10 characters>`, and a
/// label value has at most 63 characters.
const MAX_STATEFUL_SET_NAME: usize = 52;

/// The longest cluster name whose derived node names are all valid (an empty name derives the suffixes).
fn max_cluster_name() -> usize {
    let service_suffix = headless_service_name("").len();
    let set_suffix = stateful_set_name("").len();
    (MAX_SERVICE_NAME - service_suffix).min(MAX_STATEFUL_SET_NAME - set_suffix)
}

/// Every problem, with the path of the field it concerns.
pub fn validate(cluster: &Cluster) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let spec = &cluster.spec;
    let ecs = &spec.ecs;

    if cluster.name.len() > max_cluster_name() {
        errors.push(FieldError::new(
            "metadata.name",
            format!(
                "the cluster name must be at most {} characters: the nodes' StatefulSet {:?} and Service {:?} \
                 are named after it",
                max_cluster_name(),
                stateful_set_name(&cluster.name),
                headless_service_name(&cluster.name),
            ),
        ));
    }

    errors.extend(validate_replicas("spec.ecs.nodeReplicas", ecs.node_replicas, 1..=MAX_REPLICAS, None));

    let storage_path = "spec.ecs.cacheVolumeClaimTemplate.resources.requests.storage";
    match storage_request(&ecs.cache_volume_claim_template) {
        None => errors.push(FieldError::new(storage_path, "the cache volume needs a storage request, e.g. 20Gi")),
        Some(size) => errors.extend(
            quantity_problem(size, QuantitySyntax::WithExponent, "20Gi")
                .map(|problem| FieldError::new(storage_path, problem)),
        ),
    }

    errors.extend(validate_jvm_options("spec.ecs.nodeJvmOptions", &ecs.node_jvm_options));
    // The nodes pass the options in JAVA_OPTS too: the controller's rules hold here as well.
    errors.extend(validate_ecs_options("spec.ecs.options", &ecs.options));

    if let Some(domain) = &spec.external_access.domain_name
        && dns_domain_problem(domain).is_some()
    {
        errors.push(FieldError::new(
            "spec.externalAccess.domainName",
            format!(
                "{domain:?} is not a DNS subdomain (lower case labels of letters, digits and '-', no trailing dot)"
            ),
        ));
    }
    errors
}
