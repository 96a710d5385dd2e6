use crate::Filestore;
use ecs_plugin_sdk::spec::ECSClusterSpec;
use ecs_plugin_sdk::{
    CONTRACT_VERSION, Cluster, EnvVar, FieldError, PluginError, PluginKind, Tier2Input, Tier2Provider,
};
use serde_json::{Value, json};

/// The seed README's example cluster, with its Google Filestore section's share as Tier-2.
fn seed_spec(tier2: Value) -> ECSClusterSpec {
    serde_json::from_value(json!({
        "zookeeperUri": "zk-client:2181",
        "bookkeeper": {
            "image": {"repository": "ecs/bookkeeper", "tag": "0.4.0", "pullPolicy": "IfNotPresent"},
            "replicas": 3,
            "storage": {
                "ledgerVolumeClaimTemplate": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                    "resources": {"requests": {"storage": "10Gi"}}},
                "journalVolumeClaimTemplate": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                    "resources": {"requests": {"storage": "10Gi"}}}
            },
            "autoRecovery": true
        },
        "ecs": {
            "controllerReplicas": 1,
            "nodeReplicas": 3,
            "cacheVolumeClaimTemplate": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                "resources": {"requests": {"storage": "20Gi"}}},
            "image": {"repository": "ecs/ecs", "tag": "0.4.0", "pullPolicy": "IfNotPresent"},
            "tier2": tier2
        }
    }))
    .unwrap()
}

fn filestore(config: Value) -> Value {
    json!({"filestore": config})
}

/// The provider input the host builds from a spec: its one Tier-2 selection.
fn input_for(spec: ECSClusterSpec, namespace: &str) -> Tier2Input {
    let selection = spec.ecs.tier2.selections().remove(0);
    Tier2Input {
        cluster: Cluster { name: "ecs".into(), namespace: namespace.into(), uid: String::new(), generation: 1, spec },
        config: selection.config,
        config_path: selection.config_path,
        observed: Vec::new(),
    }
}

fn seed_input() -> Tier2Input {
    input_for(seed_spec(filestore(json!({"server": "10.123.189.202", "path": "/vol1", "capacity": "1T"}))), "ecs-io")
}

fn input_with(config: Value) -> Tier2Input {
    let mut input = seed_input();
    input.config = config;
    input
}

#[test]
fn describes_itself() {
    let info = Filestore::describe();
    assert_eq!(info.name, "tier2-filestore");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.kind, PluginKind::Tier2Provider);
    assert_eq!(info.contract, CONTRACT_VERSION);
    assert_eq!(info.component, "tier2");
    assert_eq!(info.capabilities, vec!["emits:PersistentVolume".to_string()]);
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
    let spec = seed_input().cluster.spec;
    let a = Filestore::provide(&input_for(spec.clone(), "team-a")).unwrap();
    let b = Filestore::provide(&input_for(spec, "team-b")).unwrap();
    assert_eq!(a.objects[0]["metadata"]["name"], "ecs-team-a-tier2");
    assert_eq!(b.objects[0]["metadata"]["name"], "ecs-team-b-tier2");
    assert!(a.objects[0]["metadata"].get("namespace").is_none());
}

#[test]
fn capacity_defaults_to_one_tebibyte() {
    let input = input_for(seed_spec(filestore(json!({"server": "filestore.internal", "path": "/vol1"}))), "default");
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
fn missing_fields_are_reported_at_the_config_path() {
    let input = input_with(json!({"path": "/vol1"}));
    let errors = Filestore::validate(&input);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "spec.ecs.tier2.filestore");
    assert!(matches!(Filestore::provide(&input), Err(PluginError::InvalidInput(_))));
}

#[test]
fn output_is_deterministic() {
    let input = seed_input();
    assert_eq!(Filestore::provide(&input), Filestore::provide(&input));
}
