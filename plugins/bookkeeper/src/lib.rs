//! The BookKeeper reconciler: the bookies (Tier-1 storage) of an ECS cluster.
//!
//! Emits, in this order: the bookie ConfigMap, the headless Service, the StatefulSet and the
//! PodDisruptionBudget; during a scale-down, the decommission Job of the bookie the host retires.
//! On deletion the host removes the bookies' ZooKeeper tree (ledgers and cookies) for it. Pure logic lives in the modules below so that it is unit-tested natively; this
//! file only wires it to the plugin contract.

mod config;
mod decommission;
mod objects;
mod validate;

#[cfg(test)]
mod tests;

use ecs_plugin_sdk::{
    Cleanup, Cluster, FieldError, Plan, PluginError, PluginInfo, PluginKind, ReconcileInput, Reconciler, k8s,
};

/// Value of the `component` label on every object this plugin emits.
pub const COMPONENT: &str = "bookie";

/// The bookie's client port.
pub const BOOKIE_PORT: i32 = 3181;

/// The BookKeeper reconciler.
pub struct Bookkeeper;

impl Reconciler for Bookkeeper {
    fn describe() -> PluginInfo {
        ecs_plugin_sdk::plugin_info!("bookkeeper", PluginKind::Reconciler, COMPONENT, &[])
    }

    fn validate(cluster: &Cluster) -> Vec<FieldError> {
        validate::validate(&cluster.spec)
    }

    fn reconcile(input: &ReconcileInput) -> Result<Plan, PluginError> {
        let cluster = &input.cluster;
        // The host validates first; checking again keeps a bad spec from ever reaching the API server.
        ecs_plugin_sdk::validate::ensure_valid(validate::validate(&cluster.spec))?;
        let image = objects::image(cluster, &input.versions.bookkeeper);
        // A scale-down runs one bookie at a time, as the host directs; otherwise the spec's count.
        let replicas = input.scale_down.map_or(cluster.spec.bookkeeper.replicas, |s| s.replicas as i32);
        let mut objects = vec![
            k8s::document(&config::config_map(cluster))?,
            k8s::document(&objects::headless_service(cluster))?,
            k8s::document(&objects::stateful_set(cluster, &image, replicas))?,
            k8s::document(&objects::pod_disruption_budget(cluster))?,
        ];
        if let Some(ordinal) = input.scale_down.and_then(|s| s.retire) {
            objects.push(k8s::document(&decommission::job(cluster, &image, ordinal))?);
        }
        Ok(Plan {
            objects,
            status: k8s::component_status(cluster, COMPONENT, cluster.spec.bookkeeper.replicas, &input.observed),
            events: Vec::new(),
            cleanup: vec![Cleanup::ZookeeperTree(config::zookeeper_root(&cluster.name))],
        })
    }
}

ecs_plugin_sdk::export_reconciler!(Bookkeeper);
