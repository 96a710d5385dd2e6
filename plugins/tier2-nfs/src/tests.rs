use crate::Nfs;
use ecs_plugin_sdk::spec::{ECSClusterSpec, Tier2Spec};
use ecs_plugin_sdk::{
    CONTRACT_VERSION, Cluster, EnvVar, FieldError, PluginError, PluginKind, Tier2Input, Tier2Provider,
};
use serde_json::{Value, json};

/// The seed README's example cluster (NFS Tier-2 on the claim `ecs-tier2`).
fn seed_spec() -> ECSClusterSpec {
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
            "tier2": {"filesystem": {"persistentVolumeClaim": {"claimName": "ecs-tier2"}}}
        }
    }))
    .unwrap()
}

/// The provider input the host builds from a spec: its one Tier-2 selection.
fn input_for(spec: ECSClusterSpec) -> Tier2Input {
    let selection = spec.ecs.tier2.selections().remove(0);
    Tier2Input {
        cluster: Cluster { name: "ecs".into(), namespace: "default".into(), uid: String::new(), generation: 1, spec },
        config: selection.config,
        config_path: selection.config_path,
        observed: Vec::new(),
    }
}

fn input_with(config: Value) -> Tier2Input {
    let mut input = input_for(seed_spec());
    input.config = config;
    input
}

#[test]
fn describes_itself() {
    let info = Nfs::describe();
    assert_eq!(info.name, "tier2-nfs");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.kind, PluginKind::Tier2Provider);
    assert_eq!(info.contract, CONTRACT_VERSION);
    assert_eq!(info.component, "tier2");
    assert!(info.capabilities.is_empty());
}

#[test]
fn seed_example_is_valid() {
    let input = input_for(seed_spec());
    assert_eq!(input.config_path, format!("{}.filesystem", Tier2Spec::PATH));
    assert_eq!(Nfs::validate(&input), Vec::<FieldError>::new());
}

#[test]
fn seed_example_mounts_the_claim_at_mnt_tier2() {
    let wiring = Nfs::provide(&input_for(seed_spec())).unwrap();
    assert_eq!(wiring.env, vec![EnvVar::new("TIER2_STORAGE", "FILESYSTEM"), EnvVar::new("NFS_MOUNT", "/mnt/tier2")]);
    assert_eq!(wiring.volumes, vec![json!({"name": "tier2", "persistentVolumeClaim": {"claimName": "ecs-tier2"}})]);
    assert_eq!(wiring.mounts, vec![json!({"name": "tier2", "mountPath": "/mnt/tier2"})]);
    assert!(wiring.secret_env.is_empty());
    assert!(wiring.jvm_options.is_empty());
    assert!(wiring.objects.is_empty());
}

#[test]
fn read_only_claim_is_passed_on() {
    let input = input_with(json!({"persistentVolumeClaim": {"claimName": "ecs-tier2", "readOnly": true}}));
    let wiring = Nfs::provide(&input).unwrap();
    assert_eq!(
        wiring.volumes,
        vec![json!({"name": "tier2", "persistentVolumeClaim": {"claimName": "ecs-tier2", "readOnly": true}})]
    );
}

#[test]
fn invalid_claim_names_are_rejected_at_their_path() {
    for bad in ["", "Ecs-Tier2", "-tier2", "tier2-", "tier_2", "a..b", &"a".repeat(254)] {
        let input = input_with(json!({"persistentVolumeClaim": {"claimName": bad}}));
        let errors = Nfs::validate(&input);
        assert_eq!(errors.len(), 1, "{bad:?}: {errors:?}");
        assert_eq!(errors[0].path, "spec.ecs.tier2.filesystem.persistentVolumeClaim.claimName");
        assert_eq!(Nfs::provide(&input), Err(PluginError::InvalidInput(errors)));
    }
    let ok = input_with(json!({"persistentVolumeClaim": {"claimName": "tier2.nfs-0"}}));
    assert!(Nfs::validate(&ok).is_empty());
}

#[test]
fn unparsable_config_is_reported_at_the_config_path() {
    let input = input_with(json!({"persistentVolumeClaim": {}}));
    let errors = Nfs::validate(&input);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "spec.ecs.tier2.filesystem");
    assert_eq!(Nfs::provide(&input), Err(PluginError::InvalidInput(errors)));
}

#[test]
fn output_is_deterministic() {
    let input = input_for(seed_spec());
    assert_eq!(Nfs::provide(&input), Nfs::provide(&input));
}
