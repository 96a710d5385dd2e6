//! An example of a dropped-in Tier-2 provider: any S3-compatible object store (AWS S3, MinIO, Ceph
//! RGW...), written against the public SDK only, the way a storage vendor would.
//!
//! Select it with `spec.ecs.tier2.plugin: {name: tier2-s3, config: {...}, secrets: [...],
//! configMaps: [...]}` and load it with `--plugin-dir`; it needs no capability. Its recorded cases
//! live in `cases/`.
//!
//! ```yaml
//! plugin:
//!   name: tier2-s3
//!   secrets: [s3-credentials]         # holds ACCESS_KEY_ID and SECRET_KEY
//!   configMaps: [s3-ca]               # only with caBundle
//!   config:
//!     endpoint: https://s3.example.com   # http(s)://host[:port]
//!     bucket: ecs-tier2
//!     prefix: clusters/ecs/           # optional
//!     region: us-east-1               # optional
//!     pathStyle: true                 # default false (virtual-hosted)
//!     credentialsSecret: {name: s3-credentials}
//!     caBundle: {configMap: s3-ca, key: ca.crt}   # optional; key defaults to ca.crt
//! ```

mod config;
mod wiring;

use config::Config;
use ecs_plugin_sdk::{FieldError, PluginError, PluginInfo, PluginKind, Tier2Input, Tier2Provider, Tier2Wiring, tier2};

pub struct S3;

impl Tier2Provider for S3 {
    fn describe() -> PluginInfo {
        ecs_plugin_sdk::plugin_info!("tier2-s3", PluginKind::Tier2Provider, "tier2", &[])
    }

    fn validate(input: &Tier2Input) -> Vec<FieldError> {
        tier2::config_problems(input, |c: &Config, path| config::validate(c, path, &input.cluster.spec))
    }

    fn provide(input: &Tier2Input) -> Result<Tier2Wiring, PluginError> {
        let config: Config =
            tier2::validated_config(input, |c: &Config, path| config::validate(c, path, &input.cluster.spec))?;
        wiring::wiring(&config)
    }
}

ecs_plugin_sdk::export_tier2_provider!(S3);

#[cfg(test)]
mod tests {
    use super::*;
    use ecs_plugin_sdk::{EnvVar, SecretEnv, testing};
    use serde_json::{Value, json};

    const CONFIG_PATH: &str = "spec.ecs.tier2.plugin.config";

    fn minimal() -> Value {
        json!({
            "endpoint": "https://s3.example.com",
            "bucket": "ecs-tier2",
            "credentialsSecret": {"name": "s3-credentials"}
        })
    }

    /// The seed's cluster selecting `tier2-s3` with `config`, letting it use the Secret
    /// `s3-credentials` and the ConfigMap `s3-ca`.
    fn input(config: Value) -> Tier2Input {
        let plugin = json!({"plugin": {
            "name": "tier2-s3", "config": config, "secrets": ["s3-credentials"], "configMaps": ["s3-ca"]
        }});
        let input = testing::seed_tier2_input(plugin);
        assert_eq!(input.config_path, CONFIG_PATH);
        input
    }

    /// `minimal()` with some fields replaced (`null` removes one).
    fn with(changes: Value) -> Value {
        let mut config = minimal();
        testing::merge(&mut config, changes);
        config.as_object_mut().unwrap().retain(|_, v| !v.is_null());
        config
    }

    fn paths(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.path.strip_prefix(CONFIG_PATH).unwrap_or(&e.path)).collect()
    }

    #[test]
    fn describes_itself_without_capabilities() {
        let info = S3::describe();
        testing::assert_plugin_info(
            &info,
            "tier2-s3",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Tier2Provider,
            "tier2",
            &[],
        );
    }

    #[test]
    fn minimal_config_wires_extended_s3_settings_and_the_secret() {
        let input = input(minimal());
        assert_eq!(S3::validate(&input), Vec::<FieldError>::new());
        let wiring = S3::provide(&input).unwrap();
        assert_eq!(
            wiring.env,
            vec![
                EnvVar::new("TIER2_STORAGE", "EXTENDEDS3"),
                EnvVar::new("EXTENDEDS3_URI", "https://s3.example.com"),
                EnvVar::new("EXTENDEDS3_BUCKET", "ecs-tier2"),
                EnvVar::new("EXTENDEDS3_PATH_STYLE", "false"),
            ]
        );
        assert_eq!(
            wiring.secret_env,
            vec![SecretEnv { secret_name: "s3-credentials".into(), prefix: "EXTENDEDS3_".into() }]
        );
        assert!(wiring.volumes.is_empty() && wiring.mounts.is_empty());
        assert!(wiring.jvm_options.is_empty() && wiring.objects.is_empty());
    }

    #[test]
    fn every_option_is_wired() {
        let config = with(json!({
            "endpoint": "https://rgw.storage.svc:8443", "bucket": "logs.ecs", "prefix": "clusters/ecs/",
            "region": "eu-west-1", "pathStyle": true, "caBundle": {"configMap": "s3-ca", "key": "bundle.pem"}
        }));
        let wiring = S3::provide(&input(config)).unwrap();
        assert_eq!(
            wiring.env,
            vec![
                EnvVar::new("TIER2_STORAGE", "EXTENDEDS3"),
                EnvVar::new("EXTENDEDS3_URI", "https://rgw.storage.svc:8443"),
                EnvVar::new("EXTENDEDS3_BUCKET", "logs.ecs"),
                EnvVar::new("EXTENDEDS3_PREFIX", "clusters/ecs/"),
                EnvVar::new("EXTENDEDS3_REGION", "eu-west-1"),
                EnvVar::new("EXTENDEDS3_PATH_STYLE", "true"),
                EnvVar::new("EXTENDEDS3_CA_BUNDLE_PATH", "/mnt/tier2-ca/ca.crt"),
            ]
        );
        assert_eq!(
            wiring.volumes,
            vec![
                json!({"name": "tier2-ca", "configMap": {"name": "s3-ca", "items": [{"key": "bundle.pem", "path": "ca.crt"}]}})
            ]
        );
        assert_eq!(wiring.mounts, vec![json!({"name": "tier2-ca", "mountPath": "/mnt/tier2-ca", "readOnly": true})]);
    }

    #[test]
    fn the_ca_key_defaults_to_ca_crt() {
        let wiring = S3::provide(&input(with(json!({"caBundle": {"configMap": "s3-ca"}})))).unwrap();
        assert_eq!(wiring.volumes[0]["configMap"]["items"][0]["key"], "ca.crt");
    }

    #[test]
    fn each_problem_names_its_field() {
        for (changes, field) in [
            (json!({"endpoint": "s3.example.com"}), ".endpoint"),
            (json!({"endpoint": null}), ".endpoint"),
            (json!({"bucket": "ECS_Tier2"}), ".bucket"),
            (json!({"bucket": null}), ".bucket"),
            (json!({"bucket": "logs.ecs"}), ".pathStyle"),
            (json!({"prefix": "/clusters"}), ".prefix"),
            (json!({"region": "US East"}), ".region"),
            (json!({"pathStyle": "yes"}), ".pathStyle"),
            (json!({"credentialsSecret": null}), ".credentialsSecret"),
            (json!({"credentialsSecret": {"name": null}}), ".credentialsSecret.name"),
            (json!({"credentialsSecret": {"name": "S3 creds"}}), ".credentialsSecret.name"),
            (json!({"credentialsSecret": {"name": "other-tenant"}}), ".credentialsSecret.name"),
            (json!({"credentialsSecret": {"accessKeyId": "AKIA"}}), ".credentialsSecret.accessKeyId"),
            (json!({"caBundle": {"configMap": "other-ca"}}), ".caBundle.configMap"),
            (json!({"caBundle": {"configMap": "s3-ca", "key": "ca/crt"}}), ".caBundle.key"),
            (json!({"endpoint": "http://minio:9000", "caBundle": {"configMap": "s3-ca"}}), ".caBundle"),
            (json!({"secretAccessKey": "inline"}), ".secretAccessKey"),
        ] {
            let input = input(with(changes.clone()));
            let errors = S3::validate(&input);
            assert_eq!(paths(&errors), vec![field], "{changes}: {errors:?}");
            assert_eq!(S3::provide(&input), Err(PluginError::InvalidInput(errors)), "{changes}");
        }
    }

    #[test]
    fn secrets_and_config_maps_must_be_listed_for_the_plugin() {
        let errors = S3::validate(&input(with(json!({"credentialsSecret": {"name": "other-tenant"}}))));
        assert_eq!(
            errors[0].message,
            "Secret \"other-tenant\" must also be listed in spec.ecs.tier2.plugin.secrets: the plugin may use only \
             the Secrets listed there"
        );
        let errors = S3::validate(&input(with(json!({"caBundle": {"configMap": "other-ca"}}))));
        assert!(errors[0].message.contains("spec.ecs.tier2.plugin.configMaps"), "{errors:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let config = json!({
            "endpoint": "ftp://s3", "bucket": "a_b", "prefix": "/x", "region": "-",
            "credentialsSecret": {"name": "-"}, "caBundle": {"configMap": "-", "key": ""}
        });
        let errors = S3::validate(&input(config));
        assert_eq!(
            paths(&errors),
            vec![
                ".endpoint",
                ".bucket",
                ".prefix",
                ".region",
                ".credentialsSecret.name",
                ".caBundle.configMap",
                ".caBundle.key",
                ".caBundle"
            ]
        );
    }

    #[test]
    fn plain_http_and_dotted_buckets_with_path_style_are_fine() {
        for config in [
            with(json!({"endpoint": "http://minio.storage:9000", "pathStyle": true})),
            with(json!({"bucket": "logs.ecs", "pathStyle": true})),
            with(json!({"endpoint": "http://minio.storage:9000", "bucket": "logs.ecs"})),
        ] {
            assert_eq!(S3::validate(&input(config.clone())), Vec::<FieldError>::new(), "{config}");
        }
    }

    #[test]
    fn output_is_deterministic() {
        let input = input(with(json!({"caBundle": {"configMap": "s3-ca"}, "region": "us-east-1"})));
        assert_eq!(S3::provide(&input), S3::provide(&input));
    }
}
