//! Checks of `spec.ecs.tier2.hdfs` beyond what the CRD schema enforces.

use ecs_plugin_sdk::FieldError;
use ecs_plugin_sdk::spec::HdfsSpec;

/// HDFS's own ceiling (`dfs.replication.max` defaults to 512), also the CRD schema's maximum.
pub const MAX_REPLICATION: i32 = 512;

/// Every problem in the configuration; paths start with `config_path`.
pub fn validate(spec: &HdfsSpec, config_path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(problem) = uri_problem(&spec.uri) {
        errors.push(FieldError::new(format!("{config_path}.uri"), problem));
    }
    if !spec.root.starts_with('/') {
        errors.push(FieldError::new(
            format!("{config_path}.root"),
            format!("{:?} must be an absolute path, e.g. /ecs", spec.root),
        ));
    }
    if !(1..=MAX_REPLICATION).contains(&spec.replication_factor) {
        errors.push(FieldError::new(
            format!("{config_path}.replicationFactor"),
            format!("{} must be between 1 and {MAX_REPLICATION}", spec.replication_factor),
        ));
    }
    errors
}

/// Why `uri` is not an `hdfs://host[:port][/path]` NameNode URI, if it is not.
fn uri_problem(uri: &str) -> Option<String> {
    let Some(rest) = uri.strip_prefix("hdfs://") else {
        return Some(format!("{uri:?} must start with hdfs://, e.g. hdfs://namenode:8020"));
    };
    if uri.chars().any(char::is_whitespace) {
        return Some(format!("{uri:?} must not contain whitespace"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    // A bracketed IPv6 literal has colons of its own; the port, if any, follows the bracket.
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, after)) => (addr, after.strip_prefix(':').or((!after.is_empty()).then_some(after))),
            None => ("", None),
        },
        None => match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Some(format!("{uri:?} must name the NameNode host, e.g. hdfs://namenode:8020"));
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Some(format!("{uri:?} has an invalid port {port:?}"));
    }
    None
}
