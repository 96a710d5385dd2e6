//! The Controller reconciler: the ECS Controller of an ECS cluster (REST and gRPC front door).
//!
//! Emits, in this order: the controller ConfigMap, the Service, the Deployment and the
//! PodDisruptionBudget. Pure logic lives in the modules below so that it is unit-tested natively; this
//! file only wires it to the plugin contract.

mod config;
mod objects;
mod validate;

#[cfg(test)]
mod tests;

use ecs_plugin_sdk::{
    Cleanup, Cluster, FieldError, Plan, PluginError, PluginInfo, PluginKind, ReconcileInput, Reconciler, k8s,
};

/// Value of the `component` label on every object this plugin emits.
pub const COMPONENT: &str = "ecs-controller";

/// REST management port.
pub const REST_PORT: i32 = 10080;
/// gRPC port clients connect to (`tcp://<n>-ecs-controller.<ns>:9090`).
pub const GRPC_PORT: i32 = 9090;

/// The Controller reconciler.
pub struct Controller;

impl Reconciler for Controller {
    fn describe() -> PluginInfo {
        ecs_plugin_sdk::plugin_info!("controller", PluginKind::Reconciler, COMPONENT, &[])
    }

    fn validate(cluster: &Cluster) -> Vec<FieldError> {
        validate::validate(&cluster.spec)
    }

    fn reconcile(input: &ReconcileInput) -> Result<Plan, PluginError> {
        let cluster = &input.cluster;
        // The host validates first; checking again keeps a bad spec from ever reaching the API server.
        ecs_plugin_sdk::validate::ensure_valid(validate::validate(&cluster.spec))?;
        let image = objects::image(cluster, &input.versions.controller);
        let objects = vec![
            k8s::document(&config::config_map(cluster))?,
            k8s::document(&objects::service(cluster))?,
            k8s::document(&objects::deployment(cluster, &image))?,
            k8s::document(&objects::pod_disruption_budget(cluster))?,
        ];
        let replicas = cluster.spec.ecs.controller_replicas;
        Ok(Plan {
            objects,
            status: k8s::component_status(cluster, COMPONENT, replicas, &input.observed),
            events: Vec::new(),
            // Its metadata lives in the cluster's ZooKeeper tree, which goes with the cluster.
            cleanup: vec![Cleanup::cluster_tree(&cluster.name)],
        })
    }
}

ecs_plugin_sdk::export_reconciler!(Controller);
