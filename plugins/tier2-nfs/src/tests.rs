use crate::Nfs;
use ecs_plugin_sdk::spec::Tier2Spec;
use ecs_plugin_sdk::{EnvVar, FieldError, PluginError, PluginKind, Tier2Input, Tier2Provider, testing};
use serde_json::{Value, json};

/// The provider input the host builds for the seed README's example cluster (NFS Tier-2 on the claim
/// `ecs-tier2`).
fn seed_input() -> Tier2Input {
    testing::tier2_input(testing::cluster().build())
}

fn input_with(config: Value) -> Tier2Input {
    Tier2Input { config, ..seed_input() }
}

#[test]
fn describes_itself() {
    let info = Nfs::describe();
    testing::assert_plugin_info(&info, "tier2-nfs", env!("CARGO_PKG_VERSION"), PluginKind::Tier2Provider, "tier2", &[]);
}

#[test]
fn seed_example_is_valid() {
    let input = seed_input();
    assert_eq!(input.config_path, format!("{}.filesystem", Tier2Spec::PATH));
    assert_eq!(Nfs::validate(&input), Vec::<FieldError>::new());
}

#[test]
fn seed_example_mounts_the_claim_at_mnt_tier2() {
    let wiring = Nfs::provide(&seed_input()).unwrap();
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
fn unparsable_config_is_reported_at_the_field() {
    let input = input_with(json!({"persistentVolumeClaim": {}}));
    let errors = Nfs::validate(&input);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "spec.ecs.tier2.filesystem.persistentVolumeClaim.claimName");
    assert_eq!(errors[0].message, "missing field `claimName`");
    assert_eq!(Nfs::provide(&input), Err(PluginError::InvalidInput(errors)));
    let input = input_with(json!("ecs-tier2"));
    assert_eq!(Nfs::validate(&input)[0].path, "spec.ecs.tier2.filesystem");
}

#[test]
fn output_is_deterministic() {
    let input = seed_input();
    assert_eq!(Nfs::provide(&input), Nfs::provide(&input));
}
