//! The controller ConfigMap: every setting reaches the container as an environment variable
//! (`envFrom`); ECS settings travel as `-Dkey=value` in `JAVA_OPTS`.

use crate::objects::name;
use crate::{COMPONENT, GRPC_PORT, REST_PORT};
use ecs_plugin_sdk::{Cluster, k8s};
use k8s_openapi::api::core::v1::ConfigMap;
use std::collections::BTreeMap;

/// Container-aware heap sizing; exiting on OOM lets Kubernetes restart a wedged JVM.
pub const JVM_DEFAULTS: &[&str] = &[
    "-Xms512m",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:+CrashOnOutOfMemoryError",
    "-XX:+UseContainerSupport",
    "-XX:MaxRAMPercentage=50.0",
];

/// The ECS setting naming the cluster; an option of the same name overrides it.
pub const CLUSTER_NAME_PROPERTY: &str = "ecsservice.clusterName";

/// The ConfigMap `<n>-ecs-controller`.
pub fn config_map(cluster: &Cluster) -> ConfigMap {
    k8s::config_map(k8s::meta(cluster, name(&cluster.name), COMPONENT), data(cluster))
}

/// The ConfigMap's data; a BTreeMap so that the output is ordered and deterministic.
pub fn data(cluster: &Cluster) -> BTreeMap<String, String> {
    let zk = &cluster.spec.zookeeper_uri;
    BTreeMap::from([
        ("CLUSTER_NAME".to_string(), cluster.name.clone()),
        ("ZK_URL".to_string(), zk.clone()),
        ("WAIT_FOR".to_string(), zk.clone()),
        ("REST_SERVER_PORT".to_string(), REST_PORT.to_string()),
        ("CONTROLLER_SERVER_PORT".to_string(), GRPC_PORT.to_string()),
        ("JAVA_OPTS".to_string(), java_opts(cluster).join(" ")),
    ])
    // No TOKEN_SIGNING_KEY: upstream hard-coded a secret here; secrets never go into a ConfigMap.
}

/// JVM flags (defaults merged with the user's), then the cluster name, then each ECS option by key.
pub fn java_opts(cluster: &Cluster) -> Vec<String> {
    let ecs = &cluster.spec.ecs;
    let jvm = &ecs.controller_jvm_options;
    let user: Vec<&String> = jvm.memory_opts.iter().chain(&jvm.gc_opts).chain(&jvm.extra_opts).collect();
    let mut opts = k8s::merge_jvm_options(JVM_DEFAULTS, &user);

    let cluster_name = ecs.options.get(CLUSTER_NAME_PROPERTY).unwrap_or(&cluster.name);
    opts.push(format!("-D{CLUSTER_NAME_PROPERTY}={cluster_name}"));
    // `options` is a BTreeMap: iteration is sorted by key.
    for (key, value) in &ecs.options {
        if key != CLUSTER_NAME_PROPERTY {
            opts.push(format!("-D{key}={value}"));
        }
    }
    opts
}
