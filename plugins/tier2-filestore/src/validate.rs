//! Checks of `spec.ecs.tier2.filestore` beyond what the CRD schema enforces.

use ecs_plugin_sdk::FieldError;
use ecs_plugin_sdk::spec::FilestoreSpec;
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
    if !is_quantity(&spec.capacity) {
        errors.push(FieldError::new(
            format!("{config_path}.capacity"),
            format!("{:?} is not a Kubernetes quantity, e.g. 1Ti or 500Gi", spec.capacity),
        ));
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

/// A plausible Kubernetes quantity: digits, an optional decimal part and an optional binary or decimal
/// suffix (`1Ti`, `1.5T`, `500Gi`), greater than zero. Exponent forms (`1e12`) are left out on purpose:
/// nobody sizes a share that way, and a stray `e` is more likely a typo.
pub fn is_quantity(quantity: &str) -> bool {
    const SUFFIXES: [&str; 12] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E"];
    let number = SUFFIXES.iter().find_map(|s| quantity.strip_suffix(s)).unwrap_or(quantity);
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (number, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits) && number.bytes().any(|b| (b'1'..=b'9').contains(&b))
}
