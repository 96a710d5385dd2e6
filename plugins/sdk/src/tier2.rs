//! What Tier-2 providers share: reading and checking their configuration, and the FILESYSTEM wiring
//! of a volume mounted at `/mnt/tier2`.

use crate::k8s;
use crate::model::{EnvVar, FieldError, PluginError, Tier2Input, Tier2Wiring};
use k8s_openapi::api::core::v1::Volume;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Name of the pod volume (and its mount) that holds a filesystem Tier-2.
pub const VOLUME: &str = "tier2";
/// Where the nodes see a filesystem Tier-2 (`NFS_MOUNT`).
pub const MOUNT_PATH: &str = "/mnt/tier2";

/// Reads a provider's configuration into its typed form. A problem is reported at the path of the
/// field it concerns, below `config_path` (e.g. `spec.ecs.tier2.hdfs.uri` for a missing `uri`).
pub fn parse_config<T: DeserializeOwned>(input: &Tier2Input) -> Result<T, Vec<FieldError>> {
    serde_path_to_error::deserialize(input.config.clone()).map_err(|e| {
        let mut path = input.config_path.clone();
        if e.path().iter().next().is_some() {
            let at = e.path().to_string();
            let separator = if at.starts_with('[') { "" } else { "." };
            path = format!("{path}{separator}{at}");
        }
        let message = e.inner().to_string();
        // serde reports a missing field on the object that lacks it: name the field itself.
        if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
            path = format!("{path}.{field}");
        }
        vec![FieldError::new(path, message)]
    })
}

/// The configuration, parsed ([`parse_config`]) and then checked by `validate` (given the config and
/// `config_path`, returning every problem): the typed config when it has no problem.
pub fn check_config<T: DeserializeOwned>(
    input: &Tier2Input,
    validate: impl FnOnce(&T, &str) -> Vec<FieldError>,
) -> Result<T, Vec<FieldError>> {
    let config = parse_config(input)?;
    let errors = validate(&config, &input.config_path);
    if errors.is_empty() { Ok(config) } else { Err(errors) }
}

/// [`check_config`] for `provide`: the problems as [`PluginError::InvalidInput`]. The host validates
/// first; checking again keeps a bad configuration from ever reaching the nodes.
pub fn validated_config<T: DeserializeOwned>(
    input: &Tier2Input,
    validate: impl FnOnce(&T, &str) -> Vec<FieldError>,
) -> Result<T, PluginError> {
    check_config(input, validate).map_err(PluginError::InvalidInput)
}

/// [`check_config`] for `validate`: every problem, none when the configuration is good.
pub fn config_problems<T: DeserializeOwned>(
    input: &Tier2Input,
    validate: impl FnOnce(&T, &str) -> Vec<FieldError>,
) -> Vec<FieldError> {
    check_config(input, validate).err().unwrap_or_default()
}

/// FILESYSTEM Tier-2 on `volume` (its source; the name is set here): the nodes mount it at
/// [`MOUNT_PATH`] and are told so.
///
/// For a claim, [`mounted_claim`] is leaner: a typed `Volume` brings the serializer of every volume
/// source Kubernetes has into the plugin (the bulk of a small provider's code).
pub fn mounted_filesystem(volume: Volume) -> Result<Tier2Wiring, PluginError> {
    let volume = Volume { name: VOLUME.to_string(), ..volume };
    Ok(filesystem_wiring(k8s::document(&volume)?))
}

/// FILESYSTEM Tier-2 on the PersistentVolumeClaim `claim_name`, mounted at [`MOUNT_PATH`].
/// `readOnly` is only stated when asked for, so that the default output stays minimal.
pub fn mounted_claim(claim_name: &str, read_only: bool) -> Result<Tier2Wiring, PluginError> {
    let mut claim = json!({"claimName": claim_name});
    if read_only {
        claim["readOnly"] = Value::Bool(true);
    }
    Ok(filesystem_wiring(json!({"name": VOLUME, "persistentVolumeClaim": claim})))
}

fn filesystem_wiring(volume: Value) -> Tier2Wiring {
    Tier2Wiring {
        env: vec![EnvVar::new("TIER2_STORAGE", "FILESYSTEM"), EnvVar::new("NFS_MOUNT", MOUNT_PATH)],
        volumes: vec![volume],
        mounts: vec![json!({"name": VOLUME, "mountPath": MOUNT_PATH})],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{FilestoreSpec, FilesystemSpec, HdfsSpec};
    use crate::testing;

    fn path_of<T: DeserializeOwned + std::fmt::Debug>(tier2: serde_json::Value, config: serde_json::Value) -> String {
        let input = testing::tier2_input_with(testing::cluster().tier2(tier2).build(), config);
        parse_config::<T>(&input).unwrap_err().remove(0).path
    }

    #[test]
    fn problems_are_reported_at_the_field() {
        let hdfs = json!({"hdfs": {"uri": "hdfs://nn"}});
        assert_eq!(path_of::<HdfsSpec>(hdfs.clone(), json!({"root": "/ecs"})), "spec.ecs.tier2.hdfs.uri");
        assert_eq!(
            path_of::<HdfsSpec>(hdfs.clone(), json!({"uri": "hdfs://nn", "replicationFactor": "3"})),
            "spec.ecs.tier2.hdfs.replicationFactor"
        );
        assert_eq!(path_of::<HdfsSpec>(hdfs, json!([])), "spec.ecs.tier2.hdfs");
        let nfs = json!({"filesystem": {"persistentVolumeClaim": {"claimName": "c"}}});
        assert_eq!(
            path_of::<FilesystemSpec>(nfs, json!({"persistentVolumeClaim": {}})),
            "spec.ecs.tier2.filesystem.persistentVolumeClaim.claimName"
        );
        let filestore = json!({"filestore": {"server": "s", "path": "/p"}});
        assert_eq!(path_of::<FilestoreSpec>(filestore, json!({"path": "/vol1"})), "spec.ecs.tier2.filestore.server");
    }

    #[test]
    fn claim_wiring() {
        let wiring = mounted_claim("c", false).unwrap();
        assert_eq!(
            wiring.env,
            vec![EnvVar::new("TIER2_STORAGE", "FILESYSTEM"), EnvVar::new("NFS_MOUNT", "/mnt/tier2")]
        );
        assert_eq!(wiring.volumes, vec![json!({"name": "tier2", "persistentVolumeClaim": {"claimName": "c"}})]);
        assert_eq!(wiring.mounts, vec![json!({"name": "tier2", "mountPath": "/mnt/tier2"})]);
        let read_only = mounted_claim("c", true).unwrap();
        assert_eq!(read_only.volumes[0]["persistentVolumeClaim"]["readOnly"], true);
    }
}
