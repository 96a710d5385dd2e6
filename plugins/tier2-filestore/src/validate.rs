//! Checks of `spec.ecs.tier2.filestore` beyond what the CRD schema enforces.

use ecs_plugin_sdk::FieldError;
use ecs_plugin_sdk::spec::FilestoreSpec;
use ecs_plugin_sdk::validate::{QuantitySyntax, quantity_problem};
use std::net::Ipv4Addr;

/// Every problem in the configuration; paths start with `config_path`.
pub fn validate(spec: &FilestoreSpec, config_path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(problem) = server_problem(&spec.server) {
        errors.push(FieldError::new(format!("{config_path}.server"), problem));
    }
    if !spec.path.starts_with('/') {
        errors.push(FieldError::new(
            format!("{config_path}.path"),
            format!("{:?} must be an absolute path of the fileshare, e.g. /vol1", spec.path),
        ));
    }
    // Exponent forms (`1e12`) are left out on purpose: nobody sizes a share that way, and a stray `e` is
    // more likely a typo.
    if let Some(problem) = quantity_problem(&spec.capacity, QuantitySyntax::SuffixOnly, "1Ti or 500Gi") {
        errors.push(FieldError::new(format!("{config_path}.capacity"), problem));
    }
    errors
}

/// Why `server` is neither an IPv4 address nor a hostname, if it is not.
fn server_problem(server: &str) -> Option<String> {
    if server.is_empty() {
        return Some("must be the IP address or hostname of the Filestore instance".to_string());
    }
    // Something made only of digits and dots is meant as an address: `10.0.0.256` is a typo, not a host.
    if server.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return match server.parse::<Ipv4Addr>() {
            Ok(_) => None,
            Err(_) => Some(format!("{server:?} is not a valid IPv4 address")),
        };
    }
    (!is_hostname(server)).then(|| format!("{server:?} is neither an IPv4 address nor a hostname"))
}

/// An RFC 1123 hostname: dot-separated labels of letters, digits and '-', not starting or ending with '-'.
fn is_hostname(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}
