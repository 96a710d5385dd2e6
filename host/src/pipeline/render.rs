//! The reconcile core, shared by `ecs-operator render` and the controller: validate the spec with
//! the plugins, call the Tier-2 provider, then each component reconciler, and pass every plan
//! through the output policy. No I/O besides plugin calls; the result is the complete desired state.

use super::load::sorted;
use crate::kinds;
use crate::plugins::{PluginSet, RECONCILERS};
use crate::policy::{self, Emitted, PolicyContext, PolicyViolation, Role};
use crate::runtime::{Fault, Plugin, PluginCallError};
use ecs_plugin_sdk::k8s::{LABEL_CLUSTER, LABEL_COMPONENT};
use ecs_plugin_sdk::spec::Tier2Spec;
use ecs_plugin_sdk::{
    Cleanup, Cluster, ComponentStatus, Event, FieldError, ReconcileInput, ScaleDown, Tier2Input, Versions,
};
use serde_json::Value;

/// An event a plugin asked for, with the plugin's name.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginEvent {
    pub plugin: String,
    pub event: Event,
}

/// The desired state of one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// Every object, stamped, in apply order.
    pub objects: Vec<Value>,
    /// One per component reconciler, in the order they ran.
    pub components: Vec<ComponentStatus>,
    pub events: Vec<PluginEvent>,
    pub versions: Versions,
    /// What the host removes outside Kubernetes when the cluster is deleted (checked by the policy).
    pub cleanup: Vec<Cleanup>,
}

/// What the host's day-2 machinery tells the reconcilers this time: the version each component
/// runs (the rollout) and the bookies' scale-down step, if one is in progress.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Directives {
    pub versions: Versions,
    pub bookie_scale_down: Option<ScaleDown>,
}

impl Directives {
    /// The spec's own: its target versions, no scale-down (offline rendering).
    pub fn of(versions: &Versions) -> Self {
        Directives { versions: versions.clone(), bookie_scale_down: None }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("invalid spec:\n{}", lines(.0))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Plugin(#[from] PluginCallError),
    #[error(transparent)]
    Policy(#[from] PolicyViolation),
}

fn lines(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
}

/// The version each component runs (upgrades are orchestrated by the controller, which passes its
/// own; offline it is the spec's target).
pub fn target_versions(cluster: &Cluster) -> Versions {
    Versions::targets(&cluster.spec)
}

/// Observed objects that belong to `component` of this cluster.
fn owned_by(observed: &[Value], cluster: &str, component: &str) -> Vec<Value> {
    observed
        .iter()
        .filter(|o| {
            let labels = o.pointer("/metadata/labels");
            labels.and_then(|l| l.get(LABEL_CLUSTER)).and_then(Value::as_str) == Some(cluster)
                && labels.and_then(|l| l.get(LABEL_COMPONENT)).and_then(Value::as_str) == Some(component)
        })
        .cloned()
        .collect()
}

struct Tier2Choice<'a> {
    plugin: &'a Plugin,
    input: Tier2Input,
}

fn choose_tier2<'a>(
    plugins: &'a PluginSet,
    cluster: &Cluster,
    observed: &[Value],
) -> Result<Tier2Choice<'a>, RenderError> {
    let mut selections = cluster.spec.ecs.tier2.selections();
    if selections.len() != 1 {
        return Err(RenderError::Invalid(vec![FieldError::new(
            Tier2Spec::PATH,
            "exactly one Tier-2 provider must be set: filesystem, filestore, hdfs, ecs or plugin",
        )]));
    }
    let selection = selections.remove(0);
    let plugin = plugins
        .get(&selection.plugin)
        .filter(|p| p.info.kind == ecs_plugin_sdk::PluginKind::Tier2Provider)
        .ok_or_else(|| {
            let path = if cluster.spec.ecs.tier2.plugin.is_some() {
                format!("{}.plugin.name", Tier2Spec::PATH)
            } else {
                selection.config_path.clone()
            };
            RenderError::Invalid(vec![FieldError::new(
                path,
                format!(
                    "no loaded Tier-2 plugin is named {:?} (loaded: {})",
                    selection.plugin,
                    plugins.tier2_names().join(", ")
                ),
            )])
        })?;
    let input = Tier2Input {
        cluster: cluster.clone(),
        config: selection.config,
        config_path: selection.config_path,
        observed: owned_by(observed, &cluster.name, &plugin.info.component),
    };
    Ok(Tier2Choice { plugin, input })
}

fn reconciler<'a>(plugins: &'a PluginSet, name: &str) -> &'a Plugin {
    plugins.get(name).expect("PluginSet::load guarantees the reconcilers")
}

/// Every problem the plugins find in the spec (sorted); empty when the spec is valid.
pub fn validate(plugins: &PluginSet, cluster: &Cluster) -> Result<Vec<FieldError>, RenderError> {
    let tier2 = match choose_tier2(plugins, cluster, &[]) {
        Ok(choice) => choice,
        Err(RenderError::Invalid(errors)) => return Ok(errors),
        Err(e) => return Err(e),
    };
    let mut errors = plugins.runtime.validate_tier2(tier2.plugin, &tier2.input)?;
    for name in RECONCILERS {
        errors.extend(plugins.runtime.validate_cluster(reconciler(plugins, name), cluster)?);
    }
    Ok(sorted(errors))
}

/// What the output policy needs besides the plugin: the cluster and its neighbours.
struct Scope<'a> {
    plugins: &'a PluginSet,
    cluster: &'a Cluster,
    siblings: &'a [String],
    components: std::collections::BTreeSet<String>,
}

impl Scope<'_> {
    /// Runs `f` with the policy context of `plugin` in `role`.
    fn with<T>(
        &self,
        plugin: &Plugin,
        role: Role,
        wiring_volumes: &[Value],
        f: impl FnOnce(&PolicyContext<'_>) -> T,
    ) -> T {
        let granted = self.plugins.grants.effective(plugin);
        f(&PolicyContext {
            cluster: self.cluster,
            plugin: &plugin.info.name,
            role,
            granted: &granted,
            siblings: self.siblings,
            components: &self.components,
            wiring_volumes,
        })
    }

    /// A reconciler's objects after the output policy, stamped; the node may mount the Tier-2
    /// provider's volumes (`wiring_volumes`), which passed the policy as the provider's.
    fn enforce(
        &self,
        plugin: &Plugin,
        role: Role,
        objects: Vec<Value>,
        wiring_volumes: &[Value],
    ) -> Result<Vec<Emitted>, PolicyViolation> {
        self.with(plugin, role, wiring_volumes, |ctx| policy::enforce(ctx, objects))
    }

    /// The Tier-2 provider's objects, then its wiring, through the policy.
    fn enforce_tier2(
        &self,
        plugin: &Plugin,
        wiring: &mut ecs_plugin_sdk::Tier2Wiring,
    ) -> Result<Vec<Emitted>, PolicyViolation> {
        let role = Role::Tier2 { component: plugin.info.component.clone() };
        self.with(plugin, role, &[], |ctx| {
            let provided = policy::enforce(ctx, std::mem::take(&mut wiring.objects))?;
            policy::check_wiring(ctx, wiring, &provided)?;
            Ok(provided)
        })
    }
}

/// The field errors of a plugin that rejected its input; any other failure stays a plugin fault.
fn invalid_input(e: PluginCallError) -> Result<Vec<FieldError>, RenderError> {
    match e.fault {
        Fault::InvalidInput(errors) => Ok(errors),
        _ => Err(RenderError::Plugin(e)),
    }
}

/// The complete desired state of `cluster`, given what is observed of it.
pub fn render(
    plugins: &PluginSet,
    cluster: &Cluster,
    observed: &[Value],
    versions: &Versions,
) -> Result<Rendered, RenderError> {
    render_among(plugins, cluster, observed, &Directives::of(versions), &[])
}

/// [`render`] for a cluster whose namespace holds the other clusters `siblings`: names that are
/// theirs are refused.
pub fn render_among(
    plugins: &PluginSet,
    cluster: &Cluster,
    observed: &[Value],
    directives: &Directives,
    siblings: &[String],
) -> Result<Rendered, RenderError> {
    let versions = &directives.versions;
    let span = tracing::debug_span!("render", cluster = %cluster.name, namespace = %cluster.namespace);
    let _enter = span.enter();
    let runtime = &plugins.runtime;
    // Reconcilers reject a spec they find invalid with `invalid-input` (the contract), so one call
    // each both validates and renders; every problem of every plugin is collected before failing.
    // The Tier-2 provider may be a third party's, so its `validate` runs explicitly.
    let mut problems = Vec::new();
    let tier2 = choose_tier2(plugins, cluster, observed)?;
    problems.extend(runtime.validate_tier2(tier2.plugin, &tier2.input)?);
    let mut wiring = None;
    if problems.is_empty() {
        match runtime.provide(tier2.plugin, &tier2.input) {
            Ok(w) => wiring = Some(w),
            Err(e) => problems.extend(invalid_input(e)?),
        }
    }
    let scope = Scope { plugins, cluster, siblings, components: plugins.components() };
    let mut objects = match wiring.as_mut() {
        Some(w) => scope.enforce_tier2(tier2.plugin, w)?,
        None => Vec::new(),
    };

    let mut components = Vec::new();
    let mut events = Vec::new();
    let mut cleanup = Vec::new();
    for name in RECONCILERS {
        let plugin = reconciler(plugins, name);
        // Only the segment store consumes Tier-2; the provider's own objects were taken above.
        let tier2 = if name == "node" {
            match &wiring {
                Some(w) => Some(w.clone()),
                None => {
                    // No wiring to reconcile with: still report the node's own problems.
                    problems.extend(runtime.validate_cluster(plugin, cluster)?);
                    continue;
                }
            }
        } else {
            None
        };
        let input = ReconcileInput {
            cluster: cluster.clone(),
            observed: owned_by(observed, &cluster.name, &plugin.info.component),
            tier2,
            versions: versions.clone(),
            scale_down: directives.bookie_scale_down.filter(|_| name == "bookkeeper"),
        };
        match runtime.reconcile(plugin, &input) {
            Ok(plan) => {
                let role = Role::reconciler(name).expect("RECONCILERS are the reconciler roles");
                let volumes =
                    wiring.as_ref().filter(|_| name == "node").map(|w| w.volumes.as_slice()).unwrap_or_default();
                objects.extend(scope.enforce(plugin, role, plan.objects, volumes)?);
                components.push(plan.status);
                let name = &plugin.info.name;
                policy::check_cleanup(cluster, name, &plan.cleanup)?;
                cleanup.extend(plan.cleanup);
                events.extend(plan.events.into_iter().map(|event| PluginEvent { plugin: name.clone(), event }));
            }
            Err(e) => problems.extend(invalid_input(e)?),
        }
    }
    if !problems.is_empty() {
        return Err(RenderError::Invalid(sorted(problems)));
    }

    policy::check_plan(cluster, &objects)?;
    let mut objects: Vec<Value> = objects.into_iter().map(|e| e.object).collect();
    super::config_hash::stamp(&mut objects);
    let by_label = plugins
        .reconciler_components()
        .iter()
        .map(|(label, name)| (label.clone(), versions.get(name).to_string()))
        .collect();
    crate::rollout::template::stamp(&mut objects, &by_label);
    objects.sort_by_key(kinds::apply_rank);
    cleanup.sort();
    cleanup.dedup();
    Ok(Rendered { objects, components, events, versions: versions.clone(), cleanup })
}
