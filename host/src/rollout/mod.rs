//! Rolling changes through the pods, one at a time (pure: no I/O).
//!
//! The host, not the plugins, decides when pods restart: plugins render whatever versions they are
//! given, the host stamps each workload's pod template ([`template`]), reads what the workloads and
//! their pods show ([`view`]), and moves a state machine kept in the cluster's status ([`machine`]):
//! a `spec.version` change upgrades bookkeeper, then the segment store nodes, then the controller;
//! a rollback goes back in the reverse order; any other pod-template change rolls the same way.
//! StatefulSets use the `OnDelete` strategy, so a pod restarts only when the host deletes it
//! ([`machine::restarts`]); the controller's Deployment replaces one pod at a time by itself.

pub mod machine;
pub mod template;
pub mod view;

#[cfg(test)]
mod tests;

pub use machine::{Restart, RolloutEvent, Step, advance, restarts};
pub use view::{ComponentView, Driver, PodView};

/// The components in upgrade order (the reconciler plugins' names); a rollback runs in reverse.
pub const ORDER: [&str; 3] = ["bookkeeper", "node", "controller"];

/// Pod-template annotation: the version the host rendered the component with.
pub const VERSION_ANNOTATION: &str = "ecs.ecs.io/version";
/// Pod-template annotation: a hash of the rest of the template. A pod whose annotation differs
/// from its workload's runs an older template.
pub const TEMPLATE_HASH_ANNOTATION: &str = "ecs.ecs.io/template-hash";

/// Container waiting reasons that mean a replaced pod will not become Ready by itself.
pub const FAILING_REASONS: [&str; 4] = ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName"];

/// The template hash of each component's workload among rendered `objects`, by plugin name;
/// `components` maps component labels to plugin names.
pub fn desired_hashes(
    objects: &[serde_json::Value],
    components: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    objects
        .iter()
        .filter_map(|o| {
            let label = view::component_label(o)?;
            let hash = template::hash(o)?;
            Some((components.get(label)?.clone(), hash.to_string()))
        })
        .collect()
}

/// Annotation `ecs-operator record` puts on a recorded cluster: replaying it offline decides
/// timeouts as of that moment.
pub const RECORDED_AT_ANNOTATION: &str = "ecs.ecs.io/recorded-at";

/// How many completed versions `status.versionHistory` keeps.
pub const HISTORY: usize = 10;
