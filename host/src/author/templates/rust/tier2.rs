//! {{name}}: a Tier-2 provider for ecs-operator. It mounts an NFS export straight into the segment
//! store pods (no PersistentVolume or claim to manage). A cluster selects it with
//!
//! ```yaml
//! spec:
//!   ecs:
//!     tier2:
//!       plugin:
//!         name: {{name}}
//!         config: {server: 10.0.0.2, path: /exports/ecs}
//! ```
//!
//! An inline NFS volume needs the `volumes:nfs` capability, which the operator's administrator grants
//! (`--grant {{name}}=volumes:nfs`); `ecs-operator plugin test` grants what the plugin declares.
//!
//! `ecs-operator plugin build` builds the component; `ecs-operator plugin test` runs the recorded
//! cases in `cases/`; `cargo test` runs the unit tests below natively. The host calls `describe`,
//! `validate` and `provide` on a fresh instance each time: keep no state, and expect no files,
//! network, environment or clock.

use ecs_plugin_sdk::{FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring, tier2};
use k8s_openapi::api::core::v1::{NFSVolumeSource, Volume};
use serde::Deserialize;

/// `spec.ecs.tier2.plugin.config`, as the cluster's spec gives it.
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

pub struct Plugin;

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

impl Tier2Provider for Plugin {
    fn describe() -> PluginInfo {
        // Name, kind, the `component` label of objects it emits, and the capabilities it needs: an
        // inline NFS volume is not allowed by Pod Security "restricted", so the operator's admin
        // grants it to this plugin, and the namespace needs "baseline".
        ecs_plugin_sdk::plugin_info!("{{name}}", PluginKind::Tier2Provider, "tier2", &["volumes:nfs"])
    }

    fn validate(input: &Tier2Input) -> Vec<FieldError> {
        // A parse error is reported at the field's own path, e.g. spec.ecs.tier2.plugin.config.server.
        tier2::config_problems(input, check)
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        // The host validates first; checking again keeps a bad configuration from the nodes.
        let config: Config = tier2::validated_config(input, check)?;
        // Mounted at /mnt/tier2 and announced to the nodes as a FILESYSTEM Tier-2.
        tier2::mounted_filesystem(Volume {
            nfs: Some(NFSVolumeSource { server: config.server, path: config.path, read_only: Some(config.read_only) }),
            ..Default::default()
        })
    }
}

ecs_plugin_sdk::export_tier2_provider!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use ecs_plugin_sdk::{EnvVar, testing};
    use serde_json::json;

    fn input(config: serde_json::Value) -> Tier2Input {
        let spec = json!({"ecs": {"tier2": {"plugin": {"name": "{{name}}"}}}});
        testing::tier2_input_with(testing::cluster().namespace("default").spec(spec).build(), config)
    }

    #[test]
    fn wires_an_inline_nfs_volume() {
        let wiring = Plugin::provide(&input(json!({"server": "10.0.0.2", "path": "/exports/ecs"}))).unwrap();
        assert_eq!(wiring.volumes[0]["nfs"]["server"], "10.0.0.2");
        assert_eq!(wiring.mounts[0]["mountPath"], "/mnt/tier2");
        assert_eq!(wiring.env[0], EnvVar::new("TIER2_STORAGE", "FILESYSTEM"));
    }

    #[test]
    fn reports_problems_under_the_config_path() {
        let errors = Plugin::validate(&input(json!({"server": "", "path": "exports"})));
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["spec.ecs.tier2.plugin.config.server", "spec.ecs.tier2.plugin.config.path"]);
    }
}
