//! `status`: written by the operator only.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ECSClusterStatus {
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Version every component runs: the last version an upgrade completed (or, with no
    /// `spec.version`, the one all pods run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    /// Version the cluster is moving to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    /// The version `spec.version` may go back to (a rollback); any other downgrade is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub previous_version: Option<String>,
    /// Versions the cluster has fully run, oldest first (the last ten).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub version_history: Vec<String>,
    /// The version each component is rendered with; they differ only during an upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<ComponentVersions>,
    /// The upgrade or rollback in progress, or the last one that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeStatus>,
    /// The bookies' scale-down in progress (one bookie at a time), or the step that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScaleDownStatus>,
    /// Pods the cluster should have, all components together.
    #[serde(default)]
    pub replicas: i32,
    /// Pods that are ready.
    #[serde(default)]
    pub ready_replicas: i32,
    #[serde(default)]
    pub members: Members,
    /// Per component (`bookie`, `ecs-controller`, `ecs-node`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, ComponentStatus>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Members {
    #[serde(default)]
    pub ready: Vec<String>,
    #[serde(default)]
    pub unready: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    pub desired_replicas: i32,
    pub ready_replicas: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentVersions {
    pub bookkeeper: String,
    pub controller: String,
    pub node: String,
}

/// Where a version change stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum UpgradePhase {
    /// Moving to a newer version: bookkeeper, then the segment store nodes, then the controller.
    Upgrading,
    /// Moving back to the previous version, in the reverse order.
    RollingBack,
    /// Stopped: a replaced pod failed. No further pod is touched until `spec.version` changes.
    Failed,
    /// A failed upgrade was rolled back by itself (`spec.upgrade.autoRollback`); `spec.version`
    /// still names the version that failed.
    RolledBack,
}

impl UpgradePhase {
    pub fn in_progress(self) -> bool {
        matches!(self, UpgradePhase::Upgrading | UpgradePhase::RollingBack)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStatus {
    pub phase: UpgradePhase,
    /// The version the pods are leaving.
    #[schemars(length(max = 128))]
    pub from_version: String,
    /// The version the pods are moving to.
    #[schemars(length(max = 128))]
    pub to_version: String,
    /// The component being rolled: `bookkeeper`, `node` or `controller`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Pods of that component on the new version, e.g. `bookkeeper 2/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    pub started_at: String,
    /// When a pod last became Ready on the new version (or the step began): the ready timeout
    /// counts from here.
    pub last_progress_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<UpgradeFailure>,
}

/// Why an upgrade stopped.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeFailure {
    pub pod: String,
    /// e.g. `ImagePullBackOff`, `CrashLoopBackOff`, `ReadyTimeout`.
    pub reason: String,
    pub message: String,
}

/// Where the removal of one bookie stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ScaleDownPhase {
    /// The next bookie waits: for an upgrade to finish, or for every bookie to be Ready.
    Waiting,
    /// The bookie's pod is stopping (the StatefulSet has one fewer replica).
    Stopping,
    /// Its decommission Job runs: its ledgers are re-replicated, then its cookie removed.
    Decommissioning,
    /// The Job failed or ran out of time: the bookie's volumes are kept; nothing moves on.
    Failed,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleDownStatus {
    pub phase: ScaleDownPhase,
    /// Bookies when the scale-down started.
    pub from_replicas: i32,
    /// Bookies it goes to (`spec.bookkeeper.replicas`).
    pub to_replicas: i32,
    /// The bookie being removed (its pod's name) and its ordinal.
    #[schemars(length(max = 253))]
    pub bookie: String,
    pub ordinal: i32,
    /// Its decommission Job, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    pub started_at: String,
    /// What it waits for, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ScaleDownPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            ScaleDownPhase::Waiting => "Waiting",
            ScaleDownPhase::Stopping => "Stopping",
            ScaleDownPhase::Decommissioning => "Decommissioning",
            ScaleDownPhase::Failed => "Failed",
        }
    }
}

/// A standard Kubernetes condition (`type`, `status`, `reason`, `message`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
