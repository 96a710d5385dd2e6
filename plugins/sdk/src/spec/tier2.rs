//! `spec.ecs.tier2`: exactly one long-term storage provider.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Exactly one of the fields must be set. Each built-in variant is served by a built-in Tier-2 plugin;
/// `plugin` selects a dropped-in provider by name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "(has(self.filesystem) ? 1 : 0) + (has(self.filestore) ? 1 : 0) + (has(self.hdfs) ? 1 : 0) + (has(self.ecs) ? 1 : 0) + (has(self.plugin) ? 1 : 0) == 1"
).message("exactly one Tier-2 provider must be set: filesystem, filestore, hdfs, ecs or plugin"))]
pub struct Tier2Spec {
    /// An NFS (or any ReadWriteMany) volume claimed by an existing PersistentVolumeClaim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<FilesystemSpec>,
    /// A Google Filestore share: the operator creates the PersistentVolume and claim for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filestore: Option<FilestoreSpec>,
    /// HDFS (must support append).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdfs: Option<HdfsSpec>,
    /// A DellEMC ECS object store (S3 extended API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs: Option<EcsObjectStoreSpec>,
    /// A dropped-in Tier-2 plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginTier2Spec>,
}

/// Which provider a Tier-2 spec selects: the plugin name, its configuration and the config's path.
#[derive(Clone, Debug, PartialEq)]
pub struct Tier2Selection {
    pub plugin: String,
    pub config: serde_json::Value,
    pub config_path: String,
}

impl Tier2Spec {
    pub const PATH: &'static str = "spec.ecs.tier2";

    /// The set variants, as (field name, plugin name, config). A valid spec has exactly one.
    pub fn selections(&self) -> Vec<Tier2Selection> {
        fn pick<T: Serialize>(out: &mut Vec<Tier2Selection>, field: &str, plugin: &str, value: &Option<T>) {
            if let Some(v) = value {
                out.push(Tier2Selection {
                    plugin: plugin.to_string(),
                    config: serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                    config_path: format!("{}.{field}", Tier2Spec::PATH),
                });
            }
        }
        let mut out = Vec::new();
        pick(&mut out, "filesystem", "tier2-nfs", &self.filesystem);
        pick(&mut out, "filestore", "tier2-filestore", &self.filestore);
        pick(&mut out, "hdfs", "tier2-hdfs", &self.hdfs);
        pick(&mut out, "ecs", "tier2-ecs", &self.ecs);
        if let Some(p) = &self.plugin {
            out.push(Tier2Selection {
                plugin: p.name.clone(),
                config: p.config.clone(),
                config_path: format!("{}.plugin.config", Tier2Spec::PATH),
            });
        }
        out
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilesystemSpec {
    pub persistent_volume_claim: ClaimRef,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRef {
    #[schemars(length(min = 1))]
    pub claim_name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilestoreSpec {
    /// IP address of the Filestore instance.
    #[schemars(length(min = 1))]
    pub server: String,
    /// Exported path of the fileshare, e.g. `/vol1`.
    #[schemars(length(min = 1))]
    pub path: String,
    /// Size of the share, as a Kubernetes quantity.
    #[serde(default = "default_filestore_capacity")]
    pub capacity: String,
}

fn default_filestore_capacity() -> String {
    "1Ti".to_string()
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HdfsSpec {
    /// NameNode URI, e.g. `hdfs://namenode:8020`.
    #[schemars(length(min = 1))]
    pub uri: String,
    /// Directory under which ECS stores its data.
    #[serde(default = "default_hdfs_root")]
    pub root: String,
    /// HDFS block replication factor for ECS's files.
    #[serde(default = "default_replication")]
    #[schemars(range(min = 1, max = 512))]
    pub replication_factor: i32,
}

fn default_hdfs_root() -> String {
    "/ecs".to_string()
}

fn default_replication() -> i32 {
    3
}

/// DellEMC ECS object store. Credentials come from a Secret holding `ACCESS_KEY_ID` and `SECRET_KEY`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.uri) != has(self.configUri)").message("set exactly one of uri or configUri"))]
#[x_kube(validation = kube::core::Rule::new("!(has(self.root) && has(self.prefix))").message("set at most one of root or prefix"))]
pub struct EcsObjectStoreSpec {
    /// Endpoint URI, e.g. `https://ecs.example.com:9021`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Full S3 extended configuration URI (alternative to `uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_uri: Option<String>,
    #[schemars(length(min = 1))]
    pub bucket: String,
    /// Key prefix inside the bucket (older name of `prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// ECS namespace of the bucket.
    #[schemars(length(min = 1))]
    pub namespace: String,
    /// Name of the Secret (in the cluster's namespace) with `ACCESS_KEY_ID` and `SECRET_KEY`.
    #[schemars(length(min = 1))]
    pub credentials: String,
}

/// A Tier-2 provider loaded from `--plugin-dir`, selected by its plugin name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginTier2Spec {
    #[schemars(length(min = 1))]
    pub name: String,
    /// Free-form configuration handed to the plugin as-is.
    #[serde(default = "empty_object")]
    #[schemars(schema_with = "free_form_object")]
    pub config: serde_json::Value,
    /// Secrets of the cluster's namespace the plugin may hand the nodes (as environment with a
    /// prefix, or as a volume), e.g. its credentials. It may use no other Secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// ConfigMaps of the namespace the plugin may mount in the nodes, e.g. a CA bundle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_maps: Vec<String>,
    /// Existing PersistentVolumeClaims the plugin may mount in the nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub persistent_volume_claims: Vec<String>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}
