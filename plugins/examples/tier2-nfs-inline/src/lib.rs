//! An example of a dropped-in Tier-2 provider, written the way a storage vendor would: it mounts an
//! NFS export straight into the segment store pods (no PersistentVolume or claim to manage).
//!
//! Select it with `spec.ecs.tier2.plugin: {name: tier2-nfs-inline, config: {server, path}}` and load
//! it with `--plugin-dir`. Its recorded cases live in `cases/`.

use ecs_plugin_sdk::k8s::document;
use ecs_plugin_sdk::{
    CONTRACT_VERSION, EnvVar, FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring,
    parse_config,
};
use k8s_openapi::api::core::v1::{NFSVolumeSource, Volume, VolumeMount};
use serde::Deserialize;

const MOUNT_PATH: &str = "/mnt/tier2";

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    /// NFS server host name or IP address.
    server: String,
    /// Exported directory, absolute.
    path: String,
    #[serde(default)]
    read_only: bool,
}

pub struct NfsInline;

fn check(input: &Tier2Input) -> Result<Config, Vec<FieldError>> {
    let config: Config = parse_config(input)?;
    let mut errors = Vec::new();
    let at = |field: &str| format!("{}.{field}", input.config_path);
    if config.server.trim().is_empty() || config.server.contains(char::is_whitespace) {
        errors.push(FieldError::new(at("server"), "must be a host name or IP address"));
    }
    if !config.path.starts_with('/') {
        errors.push(FieldError::new(at("path"), "must be an absolute path"));
    }
    if errors.is_empty() { Ok(config) } else { Err(errors) }
}

impl Tier2Provider for NfsInline {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "tier2-nfs-inline".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Tier2Provider,
            contract: CONTRACT_VERSION.into(),
            component: "tier2".into(),
            capabilities: vec![],
        }
    }

    fn validate(input: &Tier2Input) -> Vec<FieldError> {
        check(input).err().unwrap_or_default()
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        let config = check(input).map_err(PluginError::InvalidInput)?;
        let volume = Volume {
            name: "tier2".into(),
            nfs: Some(NFSVolumeSource { server: config.server, path: config.path, read_only: Some(config.read_only) }),
            ..Default::default()
        };
        let mount = VolumeMount { name: "tier2".into(), mount_path: MOUNT_PATH.into(), ..Default::default() };
        Ok(Tier2Wiring {
            env: vec![EnvVar::new("TIER2_STORAGE", "FILESYSTEM"), EnvVar::new("NFS_MOUNT", MOUNT_PATH)],
            volumes: vec![document(&volume)?],
            mounts: vec![document(&mount)?],
            ..Default::default()
        })
    }
}

ecs_plugin_sdk::export_tier2_provider!(NfsInline);

#[cfg(test)]
mod tests {
    use super::*;
    use ecs_plugin_sdk::Cluster;
    use serde_json::json;

    fn input(config: serde_json::Value) -> Tier2Input {
        let spec = serde_json::from_value(json!({"ecs": {"tier2": {"plugin": {"name": "tier2-nfs-inline"}}}})).unwrap();
        Tier2Input {
            cluster: Cluster { name: "ecs".into(), namespace: "default".into(), uid: String::new(), generation: 1, spec },
            config,
            config_path: "spec.ecs.tier2.plugin.config".into(),
            observed: vec![],
        }
    }

    #[test]
    fn wires_an_inline_nfs_volume() {
        let wiring = NfsInline::provide(&input(json!({"server": "10.0.0.2", "path": "/exports/ecs"}))).unwrap();
        assert_eq!(wiring.volumes[0]["nfs"]["server"], "10.0.0.2");
        assert_eq!(wiring.mounts[0]["mountPath"], MOUNT_PATH);
        assert_eq!(wiring.env[0], EnvVar::new("TIER2_STORAGE", "FILESYSTEM"));
    }

    #[test]
    fn reports_problems_under_the_config_path() {
        let errors = NfsInline::validate(&input(json!({"server": "", "path": "exports"})));
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["spec.ecs.tier2.plugin.config.server", "spec.ecs.tier2.plugin.config.path"]);
        let unknown = NfsInline::validate(&input(json!({"server": "s", "path": "/p", "sever": "typo"})));
        assert!(unknown[0].message.contains("unknown field"), "{unknown:?}");
    }
}
