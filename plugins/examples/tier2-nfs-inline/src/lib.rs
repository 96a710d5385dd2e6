//! An example of a dropped-in Tier-2 provider, written the way a storage vendor would: it mounts an
//! NFS export straight into the segment store pods (no PersistentVolume or claim to manage).
//!
//! Select it with `spec.ecs.tier2.plugin: {name: tier2-nfs-inline, config: {server, path}}` and load
//! it with `--plugin-dir`. Its recorded cases live in `cases/`.

use ecs_plugin_sdk::{FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring, tier2};
use k8s_openapi::api::core::v1::{NFSVolumeSource, Volume};
use serde::Deserialize;

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

/// Problems of a parsed configuration; paths start with `config_path`.
fn check(config: &Config, config_path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let at = |field: &str| format!("{config_path}.{field}");
    if config.server.trim().is_empty() || config.server.contains(char::is_whitespace) {
        errors.push(FieldError::new(at("server"), "must be a host name or IP address"));
    }
    if !config.path.starts_with('/') {
        errors.push(FieldError::new(at("path"), "must be an absolute path"));
    }
    errors
}

impl Tier2Provider for NfsInline {
    fn describe() -> PluginInfo {
        // An inline NFS volume is not allowed by Pod Security "restricted": the operator's admin grants
        // it to this plugin (`--grant tier2-nfs-inline=volumes:nfs`), and the namespace needs "baseline".
        let info =
            ecs_plugin_sdk::plugin_info!("tier2-nfs-inline", PluginKind::Tier2Provider, "tier2", &["volumes:nfs"]);
        if cfg!(feature = "v2") { PluginInfo { version: format!("{}+v2", info.version), ..info } } else { info }
    }

    fn validate(input: &Tier2Input) -> Vec<FieldError> {
        tier2::config_problems(input, check)
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        let config: Config = tier2::validated_config(input, check)?;
        let export = format!("{}:{}", config.server, config.path);
        // Mounted at /mnt/tier2 and announced to the nodes as a FILESYSTEM Tier-2, like a claimed volume.
        let mut wiring = tier2::mounted_filesystem(Volume {
            nfs: Some(NFSVolumeSource { server: config.server, path: config.path, read_only: Some(config.read_only) }),
            ..Default::default()
        })?;
        if cfg!(feature = "v2") {
            wiring.env.push(ecs_plugin_sdk::EnvVar::new("NFS_EXPORT", export));
        }
        Ok(wiring)
    }
}

ecs_plugin_sdk::export_tier2_provider!(NfsInline);

#[cfg(test)]
mod tests {
    use super::*;
    use ecs_plugin_sdk::{EnvVar, testing};
    use serde_json::json;

    fn input(config: serde_json::Value) -> Tier2Input {
        let spec = json!({"ecs": {"tier2": {"plugin": {"name": "tier2-nfs-inline"}}}});
        let input = testing::tier2_input_with(testing::cluster().namespace("default").spec(spec).build(), config);
        assert_eq!(input.config_path, "spec.ecs.tier2.plugin.config");
        input
    }

    #[test]
    fn wires_an_inline_nfs_volume() {
        let wiring = NfsInline::provide(&input(json!({"server": "10.0.0.2", "path": "/exports/ecs"}))).unwrap();
        assert_eq!(wiring.volumes[0]["nfs"]["server"], "10.0.0.2");
        assert_eq!(wiring.mounts[0]["mountPath"], "/mnt/tier2");
        assert_eq!(wiring.env[0], EnvVar::new("TIER2_STORAGE", "FILESYSTEM"));
    }

    #[test]
    fn reports_problems_under_the_config_path() {
        let errors = NfsInline::validate(&input(json!({"server": "", "path": "exports"})));
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["spec.ecs.tier2.plugin.config.server", "spec.ecs.tier2.plugin.config.path"]);
        let unknown = NfsInline::validate(&input(json!({"server": "s", "path": "/p", "sever": "typo"})));
        assert!(unknown[0].message.contains("unknown field"), "{unknown:?}");
        assert_eq!(unknown[0].path, "spec.ecs.tier2.plugin.config.sever");
    }
}
