//! `spec.ecs`: the ECS Controller and the Segment Store nodes, and their Tier-2.

use super::{ImageSpec, JvmOptions, Options, Tier2Spec, rwo_claim};
use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, ResourceRequirements};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcsSpec {
    /// Number of controllers.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1000))]
    pub controller_replicas: i32,

    /// Number of segment store nodes.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1000))]
    pub node_replicas: i32,

    /// Claim template of each node's cache volume, mounted at /tmp/ecs/cache.
    #[serde(default = "default_cache_claim")]
    pub cache_volume_claim_template: PersistentVolumeClaimSpec,

    /// What happens to the cache claims of nodes removed by a scale-down: `Retain` (a node scaled
    /// back up finds its cache) or `Delete`.
    #[serde(default)]
    pub cache_volume_claim_retention: ClaimRetention,

    #[serde(default = "default_image")]
    pub image: ImageSpec,

    /// Long-term storage: exactly one provider.
    pub tier2: Tier2Spec,

    /// ECS settings (`key: "value"`), passed to the controller and the nodes as `-Dkey=value`.
    #[serde(default, skip_serializing_if = "Options::is_empty")]
    pub options: Options,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_service_account_name: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_service_account_name: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_resources: Option<ResourceRequirements>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_resources: Option<ResourceRequirements>,

    #[serde(default, skip_serializing_if = "JvmOptions::is_empty")]
    pub controller_jvm_options: JvmOptions,

    #[serde(default, skip_serializing_if = "JvmOptions::is_empty")]
    pub node_jvm_options: JvmOptions,

    /// Log at DEBUG level in the segment store nodes.
    #[serde(default)]
    pub debug_logging: bool,
}

/// A StatefulSet's `persistentVolumeClaimRetentionPolicy.whenScaled`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ClaimRetention {
    #[default]
    Retain,
    Delete,
}

impl ClaimRetention {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimRetention::Retain => "Retain",
            ClaimRetention::Delete => "Delete",
        }
    }
}

fn one() -> i32 {
    1
}

fn default_cache_claim() -> PersistentVolumeClaimSpec {
    rwo_claim("20Gi")
}

fn default_image() -> ImageSpec {
    ImageSpec::new("ecs/ecs")
}
