//! Checks of the parts of the cluster the node reconciler reads, beyond what the CRD schema enforces.

use crate::objects::{headless_service_name, stateful_set_name};
use ecs_plugin_sdk::spec::MAX_REPLICAS;
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

    if !(1..=MAX_REPLICAS).contains(&ecs.node_replicas) {
        errors.push(FieldError::new(
            "spec.ecs.nodeReplicas",
            format!("{} must be between 1 and {MAX_REPLICAS}", ecs.node_replicas),
        ));
    }

    let storage = ecs
        .cache_volume_claim_template
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"));
    match storage {
        None => errors.push(FieldError::new(
            "spec.ecs.cacheVolumeClaimTemplate.resources.requests.storage",
            "the cache volume needs a storage request, e.g. 20Gi",
        )),
        Some(q) if !is_quantity(&q.0) => errors.push(FieldError::new(
            "spec.ecs.cacheVolumeClaimTemplate.resources.requests.storage",
            format!("{:?} is not a Kubernetes quantity, e.g. 20Gi", q.0),
        )),
        Some(_) => {}
    }

    let jvm = &ecs.node_jvm_options;
    for (field, flags) in [("memoryOpts", &jvm.memory_opts), ("gcOpts", &jvm.gc_opts), ("extraOpts", &jvm.extra_opts)] {
        for (i, flag) in flags.iter().enumerate() {
            if !flag.trim_start().starts_with('-') {
                errors.push(FieldError::new(
                    format!("spec.ecs.nodeJvmOptions.{field}[{i}]"),
                    format!("{flag:?} is not a JVM flag: flags start with '-', e.g. -Xmx2g"),
                ));
            }
        }
    }

    if let Some(domain) = &spec.external_access.domain_name
        && !is_dns_subdomain(domain)
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

/// A DNS-1123 subdomain whose labels are also valid DNS labels (at most 63 characters), as a domain
/// that must resolve needs.
fn is_dns_subdomain(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A plausible Kubernetes quantity: digits, an optional decimal part, and an optional binary or decimal
/// suffix or decimal exponent (`20Gi`, `1.5T`, `2e10`), greater than zero. Catches the usual `20GB`
/// before the API server rejects the StatefulSet.
fn is_quantity(quantity: &str) -> bool {
    const SUFFIXES: [&str; 12] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E"];
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let number = match quantity.split_once(['e', 'E']) {
        Some((number, exponent)) if digits(exponent) => number,
        _ => SUFFIXES.iter().find_map(|s| quantity.strip_suffix(s)).unwrap_or(quantity),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (number, None),
    };
    digits(whole) && fraction.is_none_or(digits) && number.bytes().any(|b| (b'1'..=b'9').contains(&b))
}
