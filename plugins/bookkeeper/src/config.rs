//! The bookie ConfigMap: every setting reaches the bookie container as an environment variable
//! (`envFrom`), `BK_<key>` ones being BookKeeper configuration overrides.

use crate::COMPONENT;
use crate::objects::stateful_set_name;
use ecs_plugin_sdk::{Cluster, k8s};
use k8s_openapi::api::core::v1::ConfigMap;
use std::collections::BTreeMap;

/// Heap and direct memory for a bookie; exiting on OOM lets Kubernetes restart a wedged JVM.
pub const MEM_DEFAULTS: &[&str] =
    &["-Xms1g", "-XX:MaxDirectMemorySize=1g", "-XX:+ExitOnOutOfMemoryError", "-XX:+CrashOnOutOfMemoryError"];

/// Short GC pauses keep journal write latency low.
pub const GC_DEFAULTS: &[&str] = &["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=10"];

pub const LEDGERS_DIR: &str = "/bk/ledgers";
pub const JOURNAL_DIR: &str = "/bk/journal";
pub const INDEX_DIR: &str = "/bk/index";

/// The bookies' ZooKeeper tree (ledgers, cookies, the auditor's state): under the cluster's own.
pub fn zookeeper_root(cluster: &str) -> String {
    format!("/ecs/{cluster}/bookkeeper")
}

/// The ConfigMap `<n>-bookie`, shared by every bookie pod.
pub fn config_map(cluster: &Cluster) -> ConfigMap {
    k8s::config_map(k8s::meta(cluster, stateful_set_name(&cluster.name), COMPONENT), data(cluster))
}

/// The ConfigMap's data; a BTreeMap so that the output is ordered and deterministic.
pub fn data(cluster: &Cluster) -> BTreeMap<String, String> {
    let n = &cluster.name;
    let zk = &cluster.spec.zookeeper_uri;
    let bk = &cluster.spec.bookkeeper;
    let jvm = &bk.jvm_options;

    let mut data = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        data.insert(key.to_string(), value);
    };
    put("ZK_URL", zk.clone());
    put("ECS_CLUSTER_NAME", n.clone());
    put("WAIT_FOR", zk.clone());
    // Pod IPs change on restart; the stable pod hostname keeps a bookie's identity (and its ledgers).
    put("BK_useHostNameAsBookieID", "true".to_string());
    // Per-cluster root, so that clusters sharing one ZooKeeper do not see each other's ledgers.
    put("BK_zkLedgersRootPath", format!("{}/ledgers", zookeeper_root(n)));
    put("BK_journalDirectory", JOURNAL_DIR.to_string());
    put("BK_ledgerDirectories", LEDGERS_DIR.to_string());
    if bk.storage.index_volume_claim_template.is_some() {
        put("BK_indexDirectories", INDEX_DIR.to_string());
    }
    put("BOOKIE_MEM_OPTS", k8s::merge_jvm_options(MEM_DEFAULTS, &jvm.memory_opts).join(" "));
    put("BOOKIE_GC_OPTS", k8s::merge_jvm_options(GC_DEFAULTS, &jvm.gc_opts).join(" "));
    put("BOOKIE_EXTRA_OPTS", k8s::merge_jvm_options(&[], &jvm.extra_opts).join(" "));
    put("BK_AUTORECOVERY", bk.auto_recovery.to_string());
    if bk.auto_recovery {
        put("BK_lostBookieRecoveryDelay", "60".to_string());
    }
    // Last, so that a user's option overrides a default `BK_` key of the same name.
    for (key, value) in &bk.options {
        put(&format!("BK_{key}"), value.clone());
    }
    data
}
