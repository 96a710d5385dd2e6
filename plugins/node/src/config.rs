//! The node ConfigMap: every setting reaches the segment store container as an environment variable
//! (`envFrom`), the Tier-2 provider's included.

use crate::COMPONENT;
use crate::objects::stateful_set_name;
use ecs_plugin_sdk::{Cluster, PluginError, Tier2Wiring, k8s};
use k8s_openapi::api::core::v1::ConfigMap;
use std::collections::BTreeMap;

/// The controller's gRPC port, which the nodes register with.
pub const CONTROLLER_GRPC_PORT: i32 = 9090;
/// The bookies' client port.
pub const BOOKIE_PORT: i32 = 3181;
/// The nodes wait for this many bookies at most before starting (a ledger ensemble defaults to 3).
pub const WAIT_FOR_BOOKIES: i32 = 3;

/// Direct memory backs the read cache; exiting on OOM lets Kubernetes restart a wedged JVM; the heap
/// follows the container's memory limit.
pub const JVM_DEFAULTS: &[&str] = &[
    "-Xms1g",
    "-XX:MaxDirectMemorySize=1g",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:+CrashOnOutOfMemoryError",
    "-XX:+UseContainerSupport",
    "-XX:MaxRAMPercentage=50.0",
];

/// Keys the node sets itself, in the ConfigMap or (POD_NAME, POD_NAMESPACE) in the container's `env`,
/// which would win over `envFrom`. A Tier-2 provider may set none of them, even when the node leaves
/// one out (e.g. `log.level` without debug logging): what a provider may set must not depend on the
/// rest of the spec.
pub const RESERVED_KEYS: &[&str] = &[
    "CLUSTER_NAME",
    "ZK_URL",
    "CONTROLLER_URL",
    "WAIT_FOR",
    "JAVA_OPTS",
    "log.level",
    "K8_EXTERNAL_ACCESS",
    "EXTERNAL_DOMAIN_NAME",
    "POD_NAME",
    "POD_NAMESPACE",
];

/// The ConfigMap `<n>-ecs-node`, shared by every node pod.
pub fn config_map(cluster: &Cluster, tier2: &Tier2Wiring) -> Result<ConfigMap, PluginError> {
    Ok(k8s::config_map(k8s::meta(cluster, stateful_set_name(&cluster.name), COMPONENT), data(cluster, tier2)?))
}

/// The ConfigMap's data; a BTreeMap so that the output is ordered and deterministic.
pub fn data(cluster: &Cluster, tier2: &Tier2Wiring) -> Result<BTreeMap<String, String>, PluginError> {
    let n = &cluster.name;
    let ns = &cluster.namespace;
    let spec = &cluster.spec;

    let mut data = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        data.insert(key.to_string(), value);
    };
    put("CLUSTER_NAME", n.clone());
    put("ZK_URL", spec.zookeeper_uri.clone());
    put("CONTROLLER_URL", format!("tcp://{n}-ecs-controller.{ns}:{CONTROLLER_GRPC_PORT}"));
    put("WAIT_FOR", wait_for(cluster));
    put("JAVA_OPTS", java_opts(cluster, &tier2.jvm_options).join(" "));
    if spec.ecs.debug_logging {
        put("log.level", "DEBUG".to_string());
    }
    let external = &spec.external_access;
    if external.enabled {
        put("K8_EXTERNAL_ACCESS", "true".to_string());
        if let Some(domain) = &external.domain_name {
            put("EXTERNAL_DOMAIN_NAME", domain.clone());
        }
    }

    for var in &tier2.env {
        if RESERVED_KEYS.contains(&var.name.as_str()) {
            return Err(PluginError::Failed(format!(
                "the Tier-2 provider sets {}, which the node sets itself",
                var.name
            )));
        }
        // Two values for one key: whichever won would be an accident of ordering.
        if data.insert(var.name.clone(), var.value.clone()).is_some() {
            return Err(PluginError::Failed(format!("the Tier-2 provider sets {} more than once", var.name)));
        }
    }
    Ok(data)
}

/// The first bookies (at most [`WAIT_FOR_BOOKIES`]), by their stable StatefulSet DNS names.
pub fn wait_for(cluster: &Cluster) -> String {
    let n = &cluster.name;
    let ns = &cluster.namespace;
    let bookies = cluster.spec.bookkeeper.replicas.clamp(0, WAIT_FOR_BOOKIES);
    (0..bookies).map(|i| format!("{n}-bookie-{i}.{n}-bookie-headless.{ns}:{BOOKIE_PORT}")).collect::<Vec<_>>().join(",")
}

/// The defaults, overridden by the provider's flags, then by the user's; then the cluster's identity and
/// the ECS options as system properties (in key order).
pub fn java_opts(cluster: &Cluster, tier2_jvm_options: &[String]) -> Vec<String> {
    let ecs = &cluster.spec.ecs;
    let jvm = &ecs.node_jvm_options;
    let user: Vec<&String> =
        tier2_jvm_options.iter().chain(&jvm.memory_opts).chain(&jvm.gc_opts).chain(&jvm.extra_opts).collect();
    let mut opts = k8s::merge_jvm_options(JVM_DEFAULTS, &user);
    opts.push(format!("-Decsservice.clusterName={}", cluster.name));
    for (key, value) in &ecs.options {
        opts.push(format!("-D{key}={value}"));
    }
    opts
}
