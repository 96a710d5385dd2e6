//! The `node` reconciler: the ECS segment store nodes, wired to the cluster's Tier-2 provider.
//!
//! Emits, in this order: the node ConfigMap, the headless Service, the StatefulSet, the
//! PodDisruptionBudget, and one Service per node when external access is enabled. The Tier-2 provider's
//! own objects (e.g. Filestore's PersistentVolume and claim) are not part of this plan: the host applies
//! them itself. Pure logic lives in the modules below so that it is unit-tested natively; this file only
//! wires it to the plugin contract.

mod config;
mod objects;
mod validate;
mod wiring;

#[cfg(test)]
mod tests;

use ecs_plugin_sdk::{
    Cleanup, Cluster, FieldError, Plan, PluginError, PluginInfo, PluginKind, ReconcileInput, Reconciler, k8s,
};

/// Value of the `component` label on every object this plugin emits.
pub const COMPONENT: &str = "ecs-node";

/// The segment store's client port.
pub const SERVER_PORT: i32 = 12345;

/// The node reconciler.
pub struct Node;

impl Reconciler for Node {
    fn describe() -> PluginInfo {
        ecs_plugin_sdk::plugin_info!("node", PluginKind::Reconciler, COMPONENT, &[])
    }

    fn validate(cluster: &Cluster) -> Vec<FieldError> {
        validate::validate(cluster)
    }

    fn reconcile(input: &ReconcileInput) -> Result<Plan, PluginError> {
        let cluster = &input.cluster;
        // The host validates first; checking again keeps a bad spec from ever reaching the API server.
        ecs_plugin_sdk::validate::ensure_valid(validate::validate(cluster))?;
        // The provider's settings, secrets, volumes and JVM flags for the node pods. Its own objects are
        // not here: the host strips them from the wiring and applies them itself.
        let tier2 = input.tier2.as_ref().ok_or_else(|| {
            PluginError::Failed(
                "no Tier-2 wiring was given: the segment store nodes cannot run without Tier-2 storage \
                 (spec.ecs.tier2)"
                    .to_string(),
            )
        })?;
        wiring::check(tier2)?;
        let image = objects::image(cluster, &input.versions.node);

        let mut stateful_set = k8s::document(&objects::stateful_set(cluster, &image, tier2))?;
        wiring::apply(tier2, &mut stateful_set)?;

        let mut objects = vec![
            k8s::document(&config::config_map(cluster, tier2)?)?,
            k8s::document(&objects::headless_service(cluster))?,
            stateful_set,
            k8s::document(&objects::pod_disruption_budget(cluster))?,
        ];
        for service in objects::external_services(cluster) {
            objects.push(k8s::document(&service)?);
        }

        let replicas = cluster.spec.ecs.node_replicas;
        Ok(Plan {
            objects,
            status: k8s::component_status(cluster, COMPONENT, replicas, &input.observed),
            events: Vec::new(),
            // Its metadata lives in the cluster's ZooKeeper tree, which goes with the cluster.
            cleanup: vec![Cleanup::cluster_tree(&cluster.name)],
        })
    }
}

ecs_plugin_sdk::export_reconciler!(Node);
