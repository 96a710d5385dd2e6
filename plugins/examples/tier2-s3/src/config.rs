//! The provider's configuration (`spec.ecs.tier2.plugin.config`) and every check of it. Pure logic,
//! unit-tested natively.

use ecs_plugin_sdk::FieldError;
use ecs_plugin_sdk::spec::{ECSClusterSpec, Tier2Spec};
use ecs_plugin_sdk::validate::{dns_domain_problem, dns1123_label_problem, dns1123_subdomain_problem};
use serde::Deserialize;

/// The ConfigMap key of the CA bundle when `caBundle.key` is not given (the usual name, also
/// cert-manager's).
pub const DEFAULT_CA_KEY: &str = "ca.crt";
/// Longest key prefix accepted: S3 keys are at most 1024 bytes, and ECS's own names go below it.
const MAX_PREFIX: usize = 512;

#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The S3 endpoint: `https://host[:port]` or `http://host[:port]`, nothing after the host.
    pub endpoint: String,
    pub bucket: String,
    /// Key prefix inside the bucket, e.g. `clusters/ecs/`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Signing region, e.g. `us-east-1`; left to the client when not given.
    #[serde(default)]
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`) instead of virtual-hosted (`bucket.endpoint/key`):
    /// what most S3-compatible stores (MinIO, Ceph RGW) need.
    #[serde(default)]
    pub path_style: bool,
    pub credentials_secret: CredentialsSecret,
    #[serde(default)]
    pub ca_bundle: Option<CaBundle>,
}

/// The Secret with the access keys. The nodes read it as environment under the prefix `EXTENDEDS3_`
/// (`envFrom`), which keeps key names: it holds `ACCESS_KEY_ID` and `SECRET_KEY`.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialsSecret {
    pub name: String,
}

/// A PEM bundle of the CAs that sign the endpoint's certificate, from a ConfigMap.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaBundle {
    pub config_map: String,
    #[serde(default = "default_ca_key")]
    pub key: String,
}

fn default_ca_key() -> String {
    DEFAULT_CA_KEY.to_string()
}

/// Every problem of `config`, at paths below `config_path`. `spec` is the cluster's: a Secret or
/// ConfigMap the configuration names must also be one the spec lets its Tier-2 plugin use.
pub fn validate(config: &Config, config_path: &str, spec: &ECSClusterSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut error =
        |field: &str, message: String| errors.push(FieldError::new(format!("{config_path}.{field}"), message));
    let https = config.endpoint.starts_with("https://");

    if let Some(problem) = endpoint_problem(&config.endpoint) {
        error("endpoint", problem);
    }
    if let Some(problem) = bucket_problem(&config.bucket) {
        error("bucket", problem);
    } else if https && !config.path_style && config.bucket.contains('.') {
        // The host name would be `a.b.<endpoint>`, which a wildcard certificate for `*.<endpoint>`
        // does not cover: TLS fails at run time.
        error(
            "pathStyle",
            format!(
                "must be true for the bucket {:?} over https: its virtual-hosted name has dots and does not match \
                 the endpoint's certificate",
                config.bucket
            ),
        );
    }
    if let Some(problem) = config.prefix.as_deref().and_then(prefix_problem) {
        error("prefix", problem);
    }
    if let Some(region) = &config.region
        && dns1123_label_problem(region).is_some()
    {
        error("region", format!("{region:?} is not a region name: lower case letters, digits and '-', e.g. us-east-1"));
    }

    let plugin = spec.ecs.tier2.plugin.as_ref();
    let secret = &config.credentials_secret.name;
    if let Some(problem) = dns1123_subdomain_problem(secret) {
        error("credentialsSecret.name", format!("{secret:?} is not a valid Secret name: {problem}"));
    } else if !plugin.is_some_and(|p| p.secrets.contains(secret)) {
        error("credentialsSecret.name", not_listed("Secret", secret, "secrets"));
    }
    if let Some(ca) = &config.ca_bundle {
        if let Some(problem) = dns1123_subdomain_problem(&ca.config_map) {
            error("caBundle.configMap", format!("{:?} is not a valid ConfigMap name: {problem}", ca.config_map));
        } else if !plugin.is_some_and(|p| p.config_maps.contains(&ca.config_map)) {
            error("caBundle.configMap", not_listed("ConfigMap", &ca.config_map, "configMaps"));
        }
        if let Some(problem) = config_map_key_problem(&ca.key) {
            error("caBundle.key", problem);
        }
        if !https {
            error("caBundle", "is only used over https: the endpoint must be an https:// URL".to_string());
        }
    }
    errors
}

/// The spec must list what a plugin may use (the host refuses anything else): say so here, at the
/// field, rather than as an output-policy violation.
fn not_listed(kind: &str, name: &str, list: &str) -> String {
    let at = format!("{}.plugin.{list}", Tier2Spec::PATH);
    format!("{kind} {name:?} must also be listed in {at}: the plugin may use only the {kind}s listed there")
}

/// Why `endpoint` is not an `http(s)://host[:port]` URL, if it is not.
pub fn endpoint_problem(endpoint: &str) -> Option<String> {
    const EXAMPLE: &str = "e.g. https://s3.example.com or http://minio.storage:9000";
    let rest = endpoint.strip_prefix("https://").or_else(|| endpoint.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Some(format!("{endpoint:?} must be an http:// or https:// URL, {EXAMPLE}"));
    };
    if endpoint.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(format!("{endpoint:?} must not contain spaces or control characters"));
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Some(format!(
            "{endpoint:?} must be a scheme, host and port only (bucket and prefix have fields of their own), {EXAMPLE}"
        ));
    }
    if authority.contains('@') {
        return Some(format!("{endpoint:?} must not carry credentials: they come from credentialsSecret"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 address: `[fd00::1]:9000`.
        Some(v6) => {
            let ipv6 = |a: &str| !a.is_empty() && a.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            let Some((address, after)) = v6.split_once(']').filter(|(a, _)| ipv6(a)) else {
                return Some(format!("{endpoint:?} has no valid IPv6 address between [ and ], {EXAMPLE}"));
            };
            match after.strip_prefix(':') {
                Some(port) => (address, Some(port)),
                None if after.is_empty() => (address, None),
                None => return Some(format!("{endpoint:?} has no valid host, {EXAMPLE}")),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let bracketed = authority.starts_with('[');
    if !bracketed && (host.is_empty() || dns_domain_problem(&host.to_ascii_lowercase()).is_some()) {
        return Some(format!("{endpoint:?} has no valid host name or IP address, {EXAMPLE}"));
    }
    if let Some(port) = port
        && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return Some(format!("{endpoint:?} has an invalid port {port:?} (1 to 65535)"));
    }
    None
}

/// Why `bucket` does not follow the S3 bucket naming rules (DNS-compatible names), if it does not.
pub fn bucket_problem(bucket: &str) -> Option<String> {
    if !(3..=63).contains(&bucket.len()) {
        return Some(format!("{bucket:?} must be 3 to 63 characters long"));
    }
    if !bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
        return Some(format!("{bucket:?} may contain only lower case letters, digits, '.' and '-'"));
    }
    let labels: Vec<&str> = bucket.split('.').collect();
    if labels.iter().any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-')) {
        return Some(format!(
            "{bucket:?} must begin and end with a letter or digit, and so must each part between dots"
        ));
    }
    if labels.len() == 4 && labels.iter().all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        return Some(format!("{bucket:?} must not be formatted as an IP address"));
    }
    // Names S3 reserves for its own access points and aliases.
    for reserved in ["xn--", "sthree-"] {
        if bucket.starts_with(reserved) {
            return Some(format!("{bucket:?} must not begin with the reserved prefix {reserved:?}"));
        }
    }
    for reserved in ["-s3alias", "--ol-s3"] {
        if bucket.ends_with(reserved) {
            return Some(format!("{bucket:?} must not end with the reserved suffix {reserved:?}"));
        }
    }
    None
}

/// Why `prefix` is not a key prefix for the bucket, if it is not.
pub fn prefix_problem(prefix: &str) -> Option<String> {
    if prefix.is_empty() {
        Some("must not be empty (leave prefix out for none)".to_string())
    } else if prefix.len() > MAX_PREFIX {
        Some(format!("must be at most {MAX_PREFIX} bytes (S3 keys are at most 1024)"))
    } else if prefix.starts_with('/') {
        Some(format!("{prefix:?} must not begin with '/': keys are relative to the bucket, e.g. clusters/ecs/"))
    } else if prefix.chars().any(char::is_control) {
        Some(format!("{prefix:?} must not contain control characters"))
    } else {
        None
    }
}

/// Why `key` is not a ConfigMap key, if it is not (Kubernetes' rule).
pub fn config_map_key_problem(key: &str) -> Option<String> {
    let valid = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    (!valid)
        .then(|| format!("{key:?} is not a ConfigMap key: letters, digits, '-', '_' and '.', e.g. {DEFAULT_CA_KEY}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for good in [
            "https://s3.example.com",
            "https://s3.example.com/",
            "http://minio.storage:9000",
            "https://10.0.0.5:9443",
            "http://[fd00::1]:9000",
            "https://[::1]",
            "https://S3.Example.COM",
        ] {
            assert_eq!(endpoint_problem(good), None, "{good}");
        }
        for (bad, why) in [
            ("s3.example.com", "http:// or https://"),
            ("ftp://s3.example.com", "http:// or https://"),
            ("https://", "no valid host"),
            ("https:///bucket", "scheme, host and port only"),
            ("https://s3.example.com/my-bucket", "scheme, host and port only"),
            ("https://s3.example.com?region=x", "scheme, host and port only"),
            ("https://key:secret@s3.example.com", "credentials"),
            ("https://s3 example.com", "spaces"),
            ("https://s3_example.com", "no valid host"),
            ("https://s3.example.com:", "invalid port"),
            ("https://s3.example.com:0", "invalid port"),
            ("https://s3.example.com:65536", "invalid port"),
            ("https://s3.example.com:http", "invalid port"),
            ("https://s3.example.com:+443", "invalid port"),
            ("http://[fd00::1", "IPv6"),
            ("http://[]:9000", "IPv6"),
            ("http://[fd00::1]9000", "no valid host"),
        ] {
            let problem = endpoint_problem(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(problem.contains(why), "{bad}: {problem}");
        }
    }

    #[test]
    fn buckets() {
        for good in ["ecs", "ecs-tier2", "logs.example.com", "a1b", &"b".repeat(63), "1bucket9"] {
            assert_eq!(bucket_problem(good), None, "{good}");
        }
        for (bad, why) in [
            ("ab", "3 to 63"),
            (&"b".repeat(64) as &str, "3 to 63"),
            ("Ecs-Tier2", "lower case"),
            ("ecs_tier2", "lower case"),
            ("-ecs", "begin and end"),
            ("ecs-", "begin and end"),
            ("ecs..tier2", "begin and end"),
            ("ecs.-tier2", "begin and end"),
            (".ecs", "begin and end"),
            ("192.168.5.4", "IP address"),
            ("xn--ecs", "reserved prefix"),
            ("sthree-ecs", "reserved prefix"),
            ("ecs-s3alias", "reserved suffix"),
            ("ecs--ol-s3", "reserved suffix"),
        ] {
            let problem = bucket_problem(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(problem.contains(why), "{bad}: {problem}");
        }
    }

    #[test]
    fn prefixes() {
        for good in ["clusters/ecs/", "ecs", "a b/c", &"p".repeat(MAX_PREFIX)] {
            assert_eq!(prefix_problem(good), None, "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("/clusters", "begin with '/'"),
            ("a\nb", "control"),
            (&"p".repeat(MAX_PREFIX + 1) as &str, "at most"),
        ] {
            let problem = prefix_problem(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(problem.contains(why), "{bad:?}: {problem}");
        }
    }

    #[test]
    fn config_map_keys() {
        for good in ["ca.crt", "ca-bundle.pem", "CA_1", ".hidden"] {
            assert_eq!(config_map_key_problem(good), None, "{good}");
        }
        for bad in ["", ".", "..", "ca/crt", "ca crt", &"k".repeat(254)] {
            assert!(config_map_key_problem(bad).is_some(), "{bad:?} accepted");
        }
    }
}
