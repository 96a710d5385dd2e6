use crate::EcsObjectStore;
use ecs_plugin_sdk::{EnvVar, FieldError, PluginError, PluginKind, SecretEnv, Tier2Input, Tier2Provider, testing};
use serde_json::{Value, json};

/// The provider input the host builds for the seed README's example cluster, with a DellEMC ECS object
/// store (of `ecs`) as Tier-2.
fn input_for(ecs: Value) -> Tier2Input {
    testing::seed_tier2_input(json!({"ecs": ecs}))
}

fn base_config() -> Value {
    json!({
        "uri": "https://ecs.example.com:9021",
        "bucket": "ecs-tier2",
        "prefix": "cluster-a",
        "namespace": "streaming",
        "credentials": "ecs-credentials"
    })
}

/// The base configuration with some fields replaced (`null` removes one).
fn config_with(changes: Value) -> Value {
    let mut config = base_config();
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            config.as_object_mut().unwrap().remove(key);
        } else {
            config[key] = value.clone();
        }
    }
    config
}

fn input_with(changes: Value) -> Tier2Input {
    let mut input = input_for(base_config());
    input.config = config_with(changes);
    input
}

fn paths(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn describes_itself() {
    let info = EcsObjectStore::describe();
    testing::assert_plugin_info(&info, "tier2-ecs", env!("CARGO_PKG_VERSION"), PluginKind::Tier2Provider, "tier2", &[]);
}

#[test]
fn seed_cluster_on_ecs_is_valid() {
    let input = input_for(base_config());
    assert_eq!(input.config_path, "spec.ecs.tier2.ecs");
    assert_eq!(EcsObjectStore::validate(&input), Vec::<FieldError>::new());
}

#[test]
fn settings_go_to_env_and_credentials_stay_in_their_secret() {
    let wiring = EcsObjectStore::provide(&input_for(base_config())).unwrap();
    assert_eq!(
        wiring.env,
        vec![
            EnvVar::new("TIER2_STORAGE", "EXTENDEDS3"),
            EnvVar::new("EXTENDEDS3_URI", "https://ecs.example.com:9021"),
            EnvVar::new("EXTENDEDS3_BUCKET", "ecs-tier2"),
            EnvVar::new("EXTENDEDS3_PREFIX", "cluster-a"),
            EnvVar::new("EXTENDEDS3_NAMESPACE", "streaming"),
        ]
    );
    assert_eq!(
        wiring.secret_env,
        vec![SecretEnv { secret_name: "ecs-credentials".into(), prefix: "EXTENDEDS3_".into() }]
    );
    assert!(wiring.volumes.is_empty() && wiring.mounts.is_empty());
    assert!(wiring.jvm_options.is_empty() && wiring.objects.is_empty());
}

#[test]
fn config_uri_replaces_uri() {
    let config_uri = "https://ecs.example.com:9021?identity=x&namespace=streaming";
    let input = input_with(json!({"uri": null, "configUri": config_uri}));
    let wiring = EcsObjectStore::provide(&input).unwrap();
    assert!(wiring.env.contains(&EnvVar::new("EXTENDEDS3_CONFIGURI", config_uri)));
    assert!(!wiring.env.iter().any(|e| e.name == "EXTENDEDS3_URI"));
}

#[test]
fn root_is_the_older_name_of_prefix() {
    let wiring = EcsObjectStore::provide(&input_with(json!({"prefix": null, "root": "old-root"}))).unwrap();
    assert!(wiring.env.contains(&EnvVar::new("EXTENDEDS3_PREFIX", "old-root")));
    let wiring = EcsObjectStore::provide(&input_with(json!({"prefix": null}))).unwrap();
    assert!(!wiring.env.iter().any(|e| e.name == "EXTENDEDS3_PREFIX"));
}

#[test]
fn exactly_one_endpoint_is_required() {
    let neither = EcsObjectStore::validate(&input_with(json!({"uri": null})));
    assert_eq!(paths(&neither), vec!["spec.ecs.tier2.ecs.uri"]);
    let both = EcsObjectStore::validate(&input_with(json!({"configUri": "https://ecs.example.com"})));
    assert_eq!(paths(&both), vec!["spec.ecs.tier2.ecs.configUri"]);
}

#[test]
fn root_and_prefix_are_exclusive() {
    let errors = EcsObjectStore::validate(&input_with(json!({"root": "old-root"})));
    assert_eq!(paths(&errors), vec!["spec.ecs.tier2.ecs.prefix"]);
}

#[test]
fn endpoints_must_be_http_urls() {
    for good in ["http://ecs:9020", "https://10.0.0.1:9021/", "https://ecs.example.com"] {
        assert!(EcsObjectStore::validate(&input_with(json!({"uri": good}))).is_empty(), "{good}");
    }
    for bad in ["", "ecs.example.com", "ftp://ecs", "https://", "https:///path", "https://ecs example"] {
        let errors = EcsObjectStore::validate(&input_with(json!({"uri": bad})));
        assert_eq!(paths(&errors), vec!["spec.ecs.tier2.ecs.uri"], "{bad}");
        let errors = EcsObjectStore::validate(&input_with(json!({"uri": null, "configUri": bad})));
        assert_eq!(paths(&errors), vec!["spec.ecs.tier2.ecs.configUri"], "{bad}");
    }
}

#[test]
fn every_problem_is_reported_and_provide_refuses() {
    let input = input_with(json!({
        "uri": "ecs:9021", "root": "r", "bucket": "", "namespace": " ", "credentials": "ECS_Credentials"
    }));
    let errors = EcsObjectStore::validate(&input);
    assert_eq!(
        paths(&errors),
        vec![
            "spec.ecs.tier2.ecs.uri",
            "spec.ecs.tier2.ecs.prefix",
            "spec.ecs.tier2.ecs.bucket",
            "spec.ecs.tier2.ecs.namespace",
            "spec.ecs.tier2.ecs.credentials",
        ]
    );
    assert_eq!(EcsObjectStore::provide(&input), Err(PluginError::InvalidInput(errors)));
}

#[test]
fn credentials_must_name_a_secret() {
    for bad in ["", "-secret", "Secret", "secret_1", &"s".repeat(254)] {
        let errors = EcsObjectStore::validate(&input_with(json!({"credentials": bad})));
        assert_eq!(paths(&errors), vec!["spec.ecs.tier2.ecs.credentials"], "{bad}");
    }
}

#[test]
fn missing_fields_are_reported_at_their_path() {
    let input = input_with(json!({"bucket": null}));
    let errors = EcsObjectStore::validate(&input);
    assert_eq!(paths(&errors), vec!["spec.ecs.tier2.ecs.bucket"]);
    assert!(matches!(EcsObjectStore::provide(&input), Err(PluginError::InvalidInput(_))));
}

#[test]
fn output_is_deterministic() {
    let input = input_for(base_config());
    assert_eq!(EcsObjectStore::provide(&input), EcsObjectStore::provide(&input));
}
