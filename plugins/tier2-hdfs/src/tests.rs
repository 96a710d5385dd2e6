use crate::Hdfs;
use ecs_plugin_sdk::{EnvVar, FieldError, PluginError, PluginKind, Tier2Input, Tier2Provider, testing};
use serde_json::{Value, json};

/// The provider input the host builds for the seed README's example cluster, with HDFS (of `hdfs`) as
/// Tier-2.
fn input_for(hdfs: Value) -> Tier2Input {
    testing::seed_tier2_input(json!({"hdfs": hdfs}))
}

fn seed_input() -> Tier2Input {
    input_for(json!({"uri": "hdfs://namenode:8020", "root": "/ecs/data", "replicationFactor": 2}))
}

fn input_with(config: Value) -> Tier2Input {
    Tier2Input { config, ..seed_input() }
}

fn uri_errors(uri: &str) -> Vec<FieldError> {
    Hdfs::validate(&input_with(json!({"uri": uri})))
}

#[test]
fn describes_itself() {
    let info = Hdfs::describe();
    testing::assert_plugin_info(
        &info,
        "tier2-hdfs",
        env!("CARGO_PKG_VERSION"),
        PluginKind::Tier2Provider,
        "tier2",
        &[],
    );
}

#[test]
fn seed_example_is_valid() {
    let input = seed_input();
    assert_eq!(input.config_path, "spec.ecs.tier2.hdfs");
    assert_eq!(Hdfs::validate(&input), Vec::<FieldError>::new());
}

#[test]
fn replication_factor_is_passed_as_setting_and_system_property() {
    let wiring = Hdfs::provide(&seed_input()).unwrap();
    assert_eq!(
        wiring.env,
        vec![
            EnvVar::new("TIER2_STORAGE", "HDFS"),
            EnvVar::new("HDFS_URL", "hdfs://namenode:8020"),
            EnvVar::new("HDFS_ROOT", "/ecs/data"),
            EnvVar::new("HDFS_REPLICATION", "2"),
        ]
    );
    assert_eq!(wiring.jvm_options, vec!["-Dhdfs.replication=2".to_string()]);
    assert!(wiring.secret_env.is_empty());
    assert!(wiring.volumes.is_empty() && wiring.mounts.is_empty() && wiring.objects.is_empty());
}

#[test]
fn root_and_replication_have_defaults() {
    let wiring = Hdfs::provide(&input_for(json!({"uri": "hdfs://namenode:8020"}))).unwrap();
    assert!(wiring.env.contains(&EnvVar::new("HDFS_ROOT", "/ecs")));
    assert!(wiring.env.contains(&EnvVar::new("HDFS_REPLICATION", "3")));
    assert_eq!(wiring.jvm_options, vec!["-Dhdfs.replication=3".to_string()]);
}

#[test]
fn every_problem_is_reported_at_its_path() {
    let input = input_with(json!({"uri": "http://namenode:8020", "root": "ecs", "replicationFactor": 0}));
    let errors = Hdfs::validate(&input);
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["spec.ecs.tier2.hdfs.uri", "spec.ecs.tier2.hdfs.root", "spec.ecs.tier2.hdfs.replicationFactor"]
    );
    assert_eq!(Hdfs::provide(&input), Err(PluginError::InvalidInput(errors)));
}

#[test]
fn uris_need_the_hdfs_scheme_and_a_host() {
    for good in [
        "hdfs://namenode",
        "hdfs://namenode:8020",
        "hdfs://namenode.hadoop.svc:8020/",
        "hdfs://10.0.0.5:9000",
        "hdfs://[fd00::5]:8020",
        "hdfs://ecs@namenode:8020",
    ] {
        assert!(uri_errors(good).is_empty(), "{good}");
    }
    for bad in [
        "",
        "namenode:8020",
        "HDFS://namenode",
        "hdfs://",
        "hdfs:///ecs",
        "hdfs://:8020",
        "hdfs://namenode:port",
        "hdfs://namenode:70000",
        "hdfs://name node",
        "hdfs://[fd00::5",
    ] {
        let errors = uri_errors(bad);
        assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
        assert_eq!(errors[0].path, "spec.ecs.tier2.hdfs.uri");
    }
}

#[test]
fn replication_factor_is_bounded() {
    for (factor, ok) in [(1, true), (512, true), (0, false), (-1, false), (513, false)] {
        let errors = Hdfs::validate(&input_with(json!({"uri": "hdfs://nn", "replicationFactor": factor})));
        assert_eq!(errors.is_empty(), ok, "{factor}: {errors:?}");
    }
}

#[test]
fn missing_uri_is_reported_at_its_path() {
    let input = input_with(json!({"root": "/ecs"}));
    let errors = Hdfs::validate(&input);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "spec.ecs.tier2.hdfs.uri");
    assert!(matches!(Hdfs::provide(&input), Err(PluginError::InvalidInput(_))));
}

#[test]
fn output_is_deterministic() {
    let input = seed_input();
    assert_eq!(Hdfs::provide(&input), Hdfs::provide(&input));
}
