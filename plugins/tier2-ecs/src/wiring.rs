//! The EXTENDEDS3 Tier-2 settings of the nodes.

use ecs_plugin_sdk::spec::EcsObjectStoreSpec;
use ecs_plugin_sdk::{EnvVar, SecretEnv, Tier2Wiring};

/// Prefix of every EXTENDEDS3 setting, and of the credentials read from the Secret: its keys
/// `ACCESS_KEY_ID` and `SECRET_KEY` become `EXTENDEDS3_ACCESS_KEY_ID` and `EXTENDEDS3_SECRET_KEY`.
pub const PREFIX: &str = "EXTENDEDS3_";

/// Expects a validated spec (exactly one of `uri`/`configUri`, at most one of `root`/`prefix`).
pub fn wiring(spec: &EcsObjectStoreSpec) -> Tier2Wiring {
    let mut env = vec![EnvVar::new("TIER2_STORAGE", "EXTENDEDS3")];
    // A full configuration URI already carries the endpoint, so it wins over (and excludes) `uri`.
    match (&spec.config_uri, &spec.uri) {
        (Some(config_uri), _) => env.push(EnvVar::new(format!("{PREFIX}CONFIGURI"), config_uri)),
        (None, Some(uri)) => env.push(EnvVar::new(format!("{PREFIX}URI"), uri)),
        (None, None) => {}
    }
    env.push(EnvVar::new(format!("{PREFIX}BUCKET"), &spec.bucket));
    // `root` is the older name of `prefix`; both mean the key prefix inside the bucket.
    if let Some(prefix) = spec.prefix.as_ref().or(spec.root.as_ref()) {
        env.push(EnvVar::new(format!("{PREFIX}PREFIX"), prefix));
    }
    env.push(EnvVar::new(format!("{PREFIX}NAMESPACE"), &spec.namespace));
    Tier2Wiring {
        env,
        // Credentials stay in their Secret: the nodes read them with `envFrom`, never via a ConfigMap.
        secret_env: vec![SecretEnv { secret_name: spec.credentials.clone(), prefix: PREFIX.to_string() }],
        ..Default::default()
    }
}
