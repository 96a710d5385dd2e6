//! The Tier-2 wiring: what a provider hands the segment store nodes. Checked here, before the node
//! reconciler builds its pods from it, so that a violation names the provider.
//!
//! - settings (`env`) and secret prefixes come from an allow-list of Tier-2 setting names
//!   (`TIER2_*`, `NFS_*`, `HDFS_*`, `EXTENDEDS3_*`, `S3_*`, ...), never names that load code;
//! - secrets are ones the spec names; volumes are claims, ConfigMaps or Secrets that the provider
//!   creates or the spec names, or an inline NFS share with the `volumes:nfs` capability;
//! - mounts go under `/mnt/`, and JVM options are `-D<tier2 setting>=<value>` only.

use super::pod::{check_mount, path_problem, reserved_env, volume_sources};
use super::references::SpecReferences;
use super::shape::{self, join};
use super::{Emitted, Finding, PolicyContext, PolicyViolation, Rule, shapes};
use crate::kinds::CAP_NFS_VOLUME;
use ecs_plugin_sdk::Tier2Wiring;
use serde_json::Value;

/// Name spaces of the settings a Tier-2 provider may give the nodes.
const SETTING_PREFIXES: &[&str] = &["TIER2_", "NFS_", "FILESYSTEM_", "HDFS_", "EXTENDEDS3_", "S3_", "GCS_", "AZURE_"];
/// Keys of the nodes' own configuration, which a provider may not replace.
const NODE_SETTINGS: &[&str] = &[
    "JAVA_OPTS",
    "CLASSPATH",
    "PATH",
    "HOME",
    "ZK_URL",
    "CONTROLLER_URL",
    "CLUSTER_NAME",
    "WAIT_FOR",
    "POD_NAME",
    "POD_NAMESPACE",
];
/// JVM system properties a provider may set: `-D<prefix>...=<value>`.
const PROPERTY_PREFIXES: &[&str] = &["tier2.", "nfs.", "filesystem.", "hdfs.", "extendeds3.", "s3.", "gcs.", "azure."];
/// Where a provider's volumes are mounted.
const MOUNT_ROOT: &str = "/mnt/";
const MAX_VALUE: usize = 4096;

/// Checks a provider's wiring; `provided` are its own objects, already through the policy.
pub fn check_wiring(
    ctx: &PolicyContext<'_>,
    wiring: &Tier2Wiring,
    provided: &[Emitted],
) -> Result<(), PolicyViolation> {
    let mut out = Vec::new();
    let spec = SpecReferences::of(&ctx.cluster.spec);
    for (i, var) in wiring.env.iter().enumerate() {
        let at = format!("env[{i}]");
        if let Some(why) = setting_problem(&var.name) {
            out.push(Finding::new(Rule::Tier2Settings, &join(&at, "name"), why));
        }
        if var.value.len() > MAX_VALUE || var.value.contains('\0') {
            out.push(Finding::new(
                Rule::Bounds,
                &join(&at, "value"),
                format!("must be at most {MAX_VALUE} bytes, without NUL"),
            ));
        }
    }
    for (i, secret) in wiring.secret_env.iter().enumerate() {
        let at = format!("secretEnv[{i}]");
        if !spec.secrets.contains(&secret.secret_name) {
            out.push(Finding::new(
                Rule::References,
                &join(&at, "secretName"),
                format!("Secret {:?} is not named in the spec", secret.secret_name),
            ));
        }
        if !secret.prefix.ends_with('_') || setting_problem(&format!("{}X", secret.prefix)).is_some() {
            out.push(Finding::new(
                Rule::Tier2Settings,
                &join(&at, "prefix"),
                format!(
                    "{:?} must be a Tier-2 setting prefix ending in '_' (one of {}...)",
                    secret.prefix,
                    SETTING_PREFIXES.join(", ")
                ),
            ));
        }
    }
    let names = |kind: &str| -> Vec<&str> {
        provided
            .iter()
            .filter(|e| e.object.get("kind").and_then(Value::as_str) == Some(kind))
            .filter_map(|e| e.object.pointer("/metadata/name").and_then(Value::as_str))
            .collect()
    };
    let (own_claims, own_config_maps) = (names("PersistentVolumeClaim"), names("ConfigMap"));
    for (i, volume) in wiring.volumes.iter().enumerate() {
        let at = format!("volumes[{i}]");
        let before = out.len();
        shape::check(volume, &shapes::VOLUME, &at, &mut out);
        if out.len() > before {
            continue;
        }
        let sources = volume_sources(volume);
        let refused = |why: String| Finding::new(Rule::References, &at, why);
        match sources.as_slice() {
            ["persistentVolumeClaim"] => {
                let claim = volume.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str).unwrap_or_default();
                if !own_claims.contains(&claim) && !spec.claims.contains(claim) {
                    out.push(refused(format!("claim {claim:?} is neither the provider's nor named in the spec")));
                }
            }
            ["configMap"] => {
                let name = volume.pointer("/configMap/name").and_then(Value::as_str).unwrap_or_default();
                if !own_config_maps.contains(&name) && !spec.config_maps.contains(name) {
                    out.push(refused(format!("ConfigMap {name:?} is neither the provider's nor named in the spec")));
                }
            }
            ["secret"] => {
                let name = volume.pointer("/secret/secretName").and_then(Value::as_str).unwrap_or_default();
                if !spec.secrets.contains(name) {
                    out.push(refused(format!("Secret {name:?} is not named in the spec")));
                }
            }
            ["nfs"] if ctx.granted.contains(CAP_NFS_VOLUME) => {}
            ["nfs"] => out.push(Finding::new(
                Rule::Capabilities,
                &format!("{at}.nfs"),
                format!("inline NFS volumes need the capability {CAP_NFS_VOLUME:?}, which this plugin was not granted"),
            )),
            other => out.push(Finding::new(
                Rule::AllowedFields,
                &at,
                format!(
                    "a Tier-2 volume has exactly one source of persistentVolumeClaim, configMap, secret or nfs, not {other:?}"
                ),
            )),
        }
    }
    for (i, mount) in wiring.mounts.iter().enumerate() {
        let at = format!("mounts[{i}]");
        let before = out.len();
        shape::check(mount, &shapes::VOLUME_MOUNT, &at, &mut out);
        if out.len() > before {
            continue;
        }
        check_mount(&at, mount, &mut out);
        let path = mount.get("mountPath").and_then(Value::as_str).unwrap_or_default();
        if !path.starts_with(MOUNT_ROOT) || path_problem(path, true).is_some() {
            out.push(Finding::new(
                Rule::Pods,
                &join(&at, "mountPath"),
                format!("Tier-2 volumes are mounted under {MOUNT_ROOT}"),
            ));
        }
        let name = mount.get("name").and_then(Value::as_str);
        if !wiring.volumes.iter().any(|v| v.get("name").and_then(Value::as_str) == name) {
            out.push(Finding::new(Rule::References, &join(&at, "name"), "refers to no volume of the wiring"));
        }
    }
    for (i, option) in wiring.jvm_options.iter().enumerate() {
        if let Some(why) = jvm_option_problem(option) {
            out.push(Finding::new(Rule::Tier2Settings, &format!("jvmOptions[{i}]"), why));
        }
    }
    if out.is_empty() { Ok(()) } else { Err(PolicyViolation::new(ctx.plugin, "its Tier-2 wiring", out)) }
}

/// Why `name` is not a Tier-2 setting a provider may give the nodes.
fn setting_problem(name: &str) -> Option<String> {
    if let Some(why) = reserved_env(name) {
        return Some(why);
    }
    if NODE_SETTINGS.contains(&name) {
        return Some(format!("{name} is the node's own setting"));
    }
    let valid = name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') && name.len() <= 128;
    let listed = SETTING_PREFIXES.iter().any(|p| name.len() > p.len() && name.starts_with(p));
    (!valid || !listed).then(|| {
        format!("{name:?} is not a Tier-2 setting: names are upper case and begin with {}", SETTING_PREFIXES.join(", "))
    })
}

/// Why a JVM option is not one a provider may pass: only `-D<tier2 property>=<plain value>`.
fn jvm_option_problem(option: &str) -> Option<String> {
    let reserved = ["-XX", "-javaagent", "-agent", "-Xbootclasspath", "-Djava.", "-Djdk.", "-Dsun.", "-Dcom.sun."];
    if reserved.iter().any(|r| option.starts_with(r)) {
        return Some(format!("{option:?} is reserved: it changes what the JVM runs or loads"));
    }
    let Some((key, value)) = option.strip_prefix("-D").and_then(|p| p.split_once('=')) else {
        return Some(format!("{option:?} is not a system property (-D<name>=<value>)"));
    };
    if !PROPERTY_PREFIXES.iter().any(|p| key.starts_with(p))
        || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Some(format!("{key:?} is not a Tier-2 property (names begin with {})", PROPERTY_PREFIXES.join(", ")));
    }
    // JAVA_OPTS is split on spaces: a value with a space, quote or shell character would add options.
    if value.len() > 1024 || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-:/@%+,=".contains(&b)) {
        return Some(format!("the value of {key} must be plain (letters, digits and ._-:/@%+,=), at most 1024 bytes"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings() {
        assert_eq!(setting_problem("TIER2_STORAGE"), None);
        assert_eq!(setting_problem("EXTENDEDS3_BUCKET"), None);
        assert!(setting_problem("LD_PRELOAD").unwrap().contains("reserved"));
        assert!(setting_problem("JAVA_TOOL_OPTIONS").unwrap().contains("reserved"));
        assert!(setting_problem("ZK_URL").unwrap().contains("node's own"));
        assert!(setting_problem("TIER2_").unwrap().contains("not a Tier-2 setting"));
        assert!(setting_problem("tier2_x").unwrap().contains("not a Tier-2 setting"));
        assert!(setting_problem("FOO").unwrap().contains("not a Tier-2 setting"));
    }

    #[test]
    fn jvm_options() {
        assert_eq!(jvm_option_problem("-Dhdfs.replication=3"), None);
        assert!(jvm_option_problem("-XX:OnOutOfMemoryError=sh").unwrap().contains("reserved"));
        assert!(jvm_option_problem("-javaagent:/x.jar").unwrap().contains("reserved"));
        assert!(jvm_option_problem("-Djava.library.path=/x").unwrap().contains("reserved"));
        assert!(jvm_option_problem("-Dhdfs.x=1 -XX:+Foo").unwrap().contains("plain"));
        assert!(jvm_option_problem("-Dlog.level=DEBUG").unwrap().contains("not a Tier-2 property"));
        assert!(jvm_option_problem("-Xmx1g").unwrap().contains("not a system property"));
    }
}
