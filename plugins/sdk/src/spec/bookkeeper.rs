//! `spec.bookkeeper`: the BookKeeper bookies (Tier-1 storage).

use super::{ImageSpec, JvmOptions, Options, rwo_claim};
use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, ResourceRequirements};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Fewest bookies the schema allows; the ledger placement (`quorum`) usually needs more.
pub const MIN_BOOKIES: i32 = 1;
pub const MAX_REPLICAS: i32 = 1000;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookkeeperSpec {
    #[serde(default = "default_image")]
    pub image: ImageSpec,

    /// Number of bookies: at least the ensemble size and write quorum (3 unless set in the options).
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 1000))]
    pub replicas: i32,

    #[serde(default)]
    pub storage: BookkeeperStorage,

    /// Run the auto-recovery daemon in every bookie, re-replicating ledgers of lost bookies.
    #[serde(default = "default_true")]
    pub auto_recovery: bool,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// BookKeeper settings, passed as `BK_<key>` environment variables.
    #[serde(default, skip_serializing_if = "Options::is_empty")]
    pub options: Options,

    #[serde(default, skip_serializing_if = "JvmOptions::is_empty")]
    pub jvm_options: JvmOptions,

    /// How long the decommission of a bookie being removed may take (re-replicating its ledgers)
    /// before the scale-down stops as failed, keeping the bookie's volumes.
    #[serde(default = "default_decommission_timeout")]
    #[schemars(range(min = 60, max = 604800))]
    pub decommission_timeout_seconds: i32,
}

/// Six hours: re-replicating a full bookie's ledgers takes a while.
pub const DEFAULT_DECOMMISSION_TIMEOUT_SECONDS: i32 = 6 * 3600;

fn default_decommission_timeout() -> i32 {
    DEFAULT_DECOMMISSION_TIMEOUT_SECONDS
}

impl Default for BookkeeperSpec {
    fn default() -> Self {
        BookkeeperSpec {
            image: default_image(),
            replicas: default_replicas(),
            storage: BookkeeperStorage::default(),
            auto_recovery: true,
            service_account_name: None,
            resources: None,
            options: Options::new(),
            jvm_options: JvmOptions::default(),
            decommission_timeout_seconds: DEFAULT_DECOMMISSION_TIMEOUT_SECONDS,
        }
    }
}

/// Claim templates of each bookie's volumes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookkeeperStorage {
    /// Ledger storage, mounted at /bk/ledgers.
    #[serde(default = "default_bookie_claim")]
    pub ledger_volume_claim_template: PersistentVolumeClaimSpec,
    /// Journal, mounted at /bk/journal.
    #[serde(default = "default_bookie_claim")]
    pub journal_volume_claim_template: PersistentVolumeClaimSpec,
    /// Optional separate index storage, mounted at /bk/index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_volume_claim_template: Option<PersistentVolumeClaimSpec>,
}

impl Default for BookkeeperStorage {
    fn default() -> Self {
        BookkeeperStorage {
            ledger_volume_claim_template: default_bookie_claim(),
            journal_volume_claim_template: default_bookie_claim(),
            index_volume_claim_template: None,
        }
    }
}

fn default_image() -> ImageSpec {
    ImageSpec::new("ecs/bookkeeper")
}

/// Enough for the default ledger placement (an ensemble of 3).
pub const DEFAULT_BOOKIES: i32 = 3;

fn default_replicas() -> i32 {
    DEFAULT_BOOKIES
}

fn default_bookie_claim() -> PersistentVolumeClaimSpec {
    rwo_claim("10Gi")
}

pub(crate) fn default_true() -> bool {
    true
}
