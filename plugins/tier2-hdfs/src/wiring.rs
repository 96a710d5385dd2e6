//! The HDFS Tier-2 settings of the nodes.

use ecs_plugin_sdk::spec::HdfsSpec;
use ecs_plugin_sdk::{EnvVar, Tier2Wiring};

pub fn wiring(spec: &HdfsSpec) -> Tier2Wiring {
    let replication = spec.replication_factor.to_string();
    Tier2Wiring {
        env: vec![
            EnvVar::new("TIER2_STORAGE", "HDFS"),
            EnvVar::new("HDFS_URL", &spec.uri),
            EnvVar::new("HDFS_ROOT", &spec.root),
            EnvVar::new("HDFS_REPLICATION", &replication),
        ],
        // Upstream dropped the replication factor. It is passed both as a setting and as a system
        // property, so that it takes effect whichever one the node image reads.
        jvm_options: vec![format!("-Dhdfs.replication={replication}")],
        ..Default::default()
    }
}
