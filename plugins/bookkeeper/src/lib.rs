//! The BookKeeper reconciler: the bookies (Tier-1 storage) of an ECS cluster.
//!
//! Emits, in this order: the bookie ConfigMap, the headless Service, the StatefulSet and the
//! PodDisruptionBudget. Pure logic lives in the modules below so that it is unit-tested natively; this
//! file only wires it to the plugin contract.

mod config;
mod objects;
mod scale;
mod validate;

#[cfg(test)]
mod tests;

use ecs_plugin_sdk::{Cluster, FieldError, Plan, PluginError, PluginInfo, PluginKind, ReconcileInput, Reconciler, k8s};

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
        let objects = vec![
            k8s::document(&config::config_map(cluster))?,
            k8s::document(&objects::headless_service(cluster))?,
            k8s::document(&objects::stateful_set(cluster, &image))?,
            k8s::document(&objects::pod_disruption_budget(cluster))?,
        ];
        let replicas = cluster.spec.bookkeeper.replicas;
        Ok(Plan {
            objects,
            status: k8s::component_status(cluster, COMPONENT, replicas, &input.observed),
            events: scale::scale_down_events(cluster, &input.observed),
        })
    }
}

ecs_plugin_sdk::export_reconciler!(Bookkeeper);
