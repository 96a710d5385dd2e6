use crate::Filestore;
use ecs_plugin_sdk::{EnvVar, FieldError, PluginError, PluginKind, Tier2Input, Tier2Provider, testing};
use serde_json::{Value, json};

fn filestore(config: Value) -> Value {
    json!({"filestore": config})
}

/// The provider input the host builds for the seed README's example cluster, with a Filestore share
/// (of `config`) as Tier-2, in `namespace`.
fn input_for(config: Value, namespace: &str) -> Tier2Input {
    testing::tier2_input(testing::cluster().namespace(namespace).tier2(filestore(config)).build())
}

/// The seed with its Google Filestore section's share as Tier-2.
fn seed_input() -> Tier2Input {
    input_for(json!({"server": "10.123.189.202", "path": "/vol1", "capacity": "1T"}), "ecs-io")
}

fn input_with(config: Value) -> Tier2Input {
    Tier2Input { config, ..seed_input() }
}

#[test]
fn describes_itself() {
    let info = Filestore::describe();
    testing::assert_plugin_info(
        &info,
        "tier2-filestore",
        env!("CARGO_PKG_VERSION"),
        PluginKind::Tier2Provider,
        "tier2",
        &["emits:PersistentVolume"],
    );
}

#[test]
fn seed_example_is_valid() {
    let input = seed_input();
    assert_eq!(input.config_path, "spec.ecs.tier2.filestore");
    assert_eq!(Filestore::validate(&input), Vec::<FieldError>::new());
}

#[test]
fn nodes_are_wired_like_nfs_on_the_created_claim() {
    let wiring = Filestore::provide(&seed_input()).unwrap();
    assert_eq!(wiring.env, vec![EnvVar::new("TIER2_STORAGE", "FILESYSTEM"), EnvVar::new("NFS_MOUNT", "/mnt/tier2")]);
    assert_eq!(wiring.volumes, vec![json!({"name": "tier2", "persistentVolumeClaim": {"claimName": "ecs-tier2"}})]);
    assert_eq!(wiring.mounts, vec![json!({"name": "tier2", "mountPath": "/mnt/tier2"})]);
    assert!(wiring.secret_env.is_empty());
    assert!(wiring.jvm_options.is_empty());
}

#[test]
fn emits_the_volume_then_the_claim_bound_to_each_other() {
    let wiring = Filestore::provide(&seed_input()).unwrap();
    let labels = json!({"app": "ecs-cluster", "ecs_cluster": "ecs", "component": "tier2"});
    assert_eq!(
        wiring.objects,
        vec![
            json!({
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": "ecs-ecs-io-tier2", "labels": labels},
                "spec": {
                    "capacity": {"storage": "1T"},
                    "accessModes": ["ReadWriteMany"],
                    "nfs": {"server": "10.123.189.202", "path": "/vol1"},
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": "",
                    "claimRef": {"namespace": "ecs-io", "name": "ecs-tier2"}
                }
            }),
            json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "ecs-tier2", "namespace": "ecs-io", "labels": labels},
                "spec": {
                    "storageClassName": "",
                    "accessModes": ["ReadWriteMany"],
                    "resources": {"requests": {"storage": "1T"}},
                    "volumeName": "ecs-ecs-io-tier2"
                }
            }),
        ]
    );
}

#[test]
fn volume_name_includes_the_namespace() {
    let config = seed_input().config;
    let a = Filestore::provide(&input_for(config.clone(), "team-a")).unwrap();
    let b = Filestore::provide(&input_for(config, "team-b")).unwrap();
    assert_eq!(a.objects[0]["metadata"]["name"], "ecs-team-a-tier2");
    assert_eq!(b.objects[0]["metadata"]["name"], "ecs-team-b-tier2");
    assert!(a.objects[0]["metadata"].get("namespace").is_none());
}

#[test]
fn capacity_defaults_to_one_tebibyte() {
    let input = input_for(json!({"server": "filestore.internal", "path": "/vol1"}), "default");
    assert!(Filestore::validate(&input).is_empty());
    let wiring = Filestore::provide(&input).unwrap();
    assert_eq!(wiring.objects[0]["spec"]["capacity"]["storage"], "1Ti");
    assert_eq!(wiring.objects[1]["spec"]["resources"]["requests"]["storage"], "1Ti");
}

#[test]
fn every_problem_is_reported_at_its_path() {
    let input = input_with(json!({"server": "", "path": "vol1", "capacity": "lots"}));
    let errors = Filestore::validate(&input);
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["spec.ecs.tier2.filestore.server", "spec.ecs.tier2.filestore.path", "spec.ecs.tier2.filestore.capacity"]
    );
    assert_eq!(Filestore::provide(&input), Err(PluginError::InvalidInput(errors)));
}

#[test]
fn servers_must_be_ipv4_addresses_or_hostnames() {
    for good in ["10.123.189.202", "filestore", "nfs-1.example.com", "NFS.Example.com"] {
        let input = input_with(json!({"server": good, "path": "/vol1", "capacity": "1Ti"}));
        assert!(Filestore::validate(&input).is_empty(), "{good}");
    }
    for bad in ["10.0.0.256", "10.0.0", "nfs server", "-nfs", "nfs_1", "a..b", "10.0.0.1:/vol1"] {
        let input = input_with(json!({"server": bad, "path": "/vol1", "capacity": "1Ti"}));
        let errors = Filestore::validate(&input);
        assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
        assert_eq!(errors[0].path, "spec.ecs.tier2.filestore.server");
    }
}

#[test]
fn capacities_must_be_quantities() {
    for good in ["1T", "1Ti", "500Gi", "1.5Ti", "2048", "10k", "3E"] {
        let input = input_with(json!({"server": "10.0.0.2", "path": "/vol1", "capacity": good}));
        assert!(Filestore::validate(&input).is_empty(), "{good}");
    }
    for bad in ["", "Ti", "1TB", "1 Ti", "-1Ti", "0", "0Gi", "1.Ti", ".5Ti", "1e12", "1ki"] {
        let input = input_with(json!({"server": "10.0.0.2", "path": "/vol1", "capacity": bad}));
        let errors = Filestore::validate(&input);
        assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
        assert_eq!(errors[0].path, "spec.ecs.tier2.filestore.capacity");
    }
}

#[test]
fn missing_fields_are_reported_at_their_path() {
    let input = input_with(json!({"path": "/vol1"}));
    let errors = Filestore::validate(&input);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "spec.ecs.tier2.filestore.server");
    assert!(matches!(Filestore::provide(&input), Err(PluginError::InvalidInput(_))));
}

#[test]
fn output_is_deterministic() {
    let input = seed_input();
    assert_eq!(Filestore::provide(&input), Filestore::provide(&input));
}
