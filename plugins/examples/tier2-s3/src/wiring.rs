//! What the segment store nodes get from a (validated) configuration: ECS's S3 extended storage
//! settings (`TIER2_STORAGE=EXTENDEDS3`, the `EXTENDEDS3_*` keys the built-in `tier2-ecs` provider
//! also uses), the credentials Secret read at run time, and the CA bundle mounted from its ConfigMap.

use crate::config::Config;
use ecs_plugin_sdk::{EnvVar, PluginError, SecretEnv, Tier2Wiring, k8s};
use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, KeyToPath, Volume, VolumeMount};

/// Prefix of every setting, and of the credentials read from the Secret: its keys `ACCESS_KEY_ID`
/// and `SECRET_KEY` become `EXTENDEDS3_ACCESS_KEY_ID` and `EXTENDEDS3_SECRET_KEY`.
pub const PREFIX: &str = "EXTENDEDS3_";
/// The pod volume holding the CA bundle, and where the node container sees it.
pub const CA_VOLUME: &str = "tier2-ca";
pub const CA_DIR: &str = "/mnt/tier2-ca";
/// The bundle's file name in [`CA_DIR`], whatever its key in the ConfigMap.
pub const CA_FILE: &str = "ca.crt";

pub fn wiring(config: &Config) -> Result<Tier2Wiring, PluginError> {
    let setting = |name: &str, value: &str| EnvVar::new(format!("{PREFIX}{name}"), value);
    let mut env = vec![
        EnvVar::new("TIER2_STORAGE", "EXTENDEDS3"),
        setting("URI", &config.endpoint),
        setting("BUCKET", &config.bucket),
    ];
    if let Some(prefix) = &config.prefix {
        env.push(setting("PREFIX", prefix));
    }
    if let Some(region) = &config.region {
        env.push(setting("REGION", region));
    }
    // Always stated: S3 clients differ in their default addressing.
    env.push(setting("PATH_STYLE", if config.path_style { "true" } else { "false" }));

    let mut wiring = Tier2Wiring {
        // Credentials stay in their Secret: the nodes read it with `envFrom`, never via a ConfigMap.
        secret_env: vec![SecretEnv { secret_name: config.credentials_secret.name.clone(), prefix: PREFIX.to_string() }],
        ..Default::default()
    };
    if let Some(ca) = &config.ca_bundle {
        // Only the bundle's key, under a fixed file name: the ConfigMap may hold other keys.
        let volume = Volume {
            name: CA_VOLUME.to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: ca.config_map.clone(),
                items: Some(vec![KeyToPath { key: ca.key.clone(), path: CA_FILE.to_string(), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mount = VolumeMount {
            name: CA_VOLUME.to_string(),
            mount_path: CA_DIR.to_string(),
            read_only: Some(true),
            ..Default::default()
        };
        wiring.volumes.push(k8s::document(&volume)?);
        wiring.mounts.push(k8s::document(&mount)?);
        env.push(setting("CA_BUNDLE_PATH", &format!("{CA_DIR}/{CA_FILE}")));
    }
    wiring.env = env;
    Ok(wiring)
}
