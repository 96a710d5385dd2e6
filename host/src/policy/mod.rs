//! The output policy: what a plugin's output may contain, decided by allow-lists and enforced by the
//! host, never trusted to plugins. Anything not listed is refused, with a finding that names the rule
//! and the JSON path. One finding rejects the whole plan: nothing is half-applied.
//!
//! - [`roles`]: which plugin may emit which kinds, under which component;
//! - [`shape`] + [`shapes`]: the field allow-lists of every kind (unknown fields, types, bounds);
//! - [`names`]: names, labels, annotations and selectors stay within the cluster;
//! - [`pod`]: pod templates: Pod Security "restricted" ([`pod_security`]) plus this operator's rules;
//! - [`objects`]: per-kind rules (Service types, claims, volumes);
//! - [`tier2`]: the Tier-2 wiring (settings, secrets, volumes, mounts, JVM options), checked and
//!   attributed to the provider before the node reconciler uses it;
//! - [`cleanup`]: what a reconciler asks the host to remove outside Kubernetes on deletion;
//! - [`references`]: across the whole plan, every Secret, ConfigMap, claim, volume, service account
//!   and image a plan uses is one the plan creates or the spec names.
//!
//! The host then stamps the standard labels and the owner reference.

mod cleanup;
mod names;
mod objects;
mod pod;
pub mod pod_security;
mod references;
pub mod roles;
mod shape;
mod shapes;
mod tier2;

pub use cleanup::check_cleanup;
pub use roles::Role;
pub use tier2::check_wiring;

use crate::kinds;
use ecs_plugin_sdk::Cluster;
use ecs_plugin_sdk::spec::{API_VERSION, KIND};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fmt;

/// Annotation on cluster-scoped objects (which cannot have an owner reference to a namespaced
/// ECSCluster): the UID of the cluster that owns them.
pub const OWNER_UID_ANNOTATION: &str = "ecs.ecs.io/owner-uid";
/// Annotations and labels under this prefix are the host's.
pub const HOST_PREFIX: &str = "ecs.ecs.io/";

/// The rule a finding breaks; its name appears in every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// The plugin may not emit this kind.
    Kinds,
    /// The plugin was not granted a capability it needs.
    Capabilities,
    /// A field (or value type) the allow-list does not list.
    AllowedFields,
    /// Sizes and counts: replicas, resources, list lengths.
    Bounds,
    /// Names: `<cluster>-<component>` prefix, valid DNS names, no other cluster's names.
    Names,
    /// Labels that decide membership are the host's.
    Labels,
    Annotations,
    /// Selectors select only this cluster's pods.
    Selectors,
    /// Only what the plan creates or the spec names is referenced.
    References,
    /// The Pod Security Standards "restricted" profile, with the check's name as PodSecurity prints it.
    PodSecurity(&'static str),
    /// This operator's pod rules beyond Pod Security (placement, priority, mounts, environment).
    Pods,
    /// Service types and exposure.
    Services,
    /// What a Tier-2 provider may hand the nodes (settings, JVM options, secret prefixes).
    Tier2Settings,
    /// Every object once per plan.
    Plan,
    /// What the host removes outside Kubernetes on deletion: the cluster's own tree only.
    Cleanup,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Rule::Kinds => "kinds",
            Rule::Capabilities => "capabilities",
            Rule::AllowedFields => "allowed-fields",
            Rule::Bounds => "bounds",
            Rule::Names => "names",
            Rule::Labels => "labels",
            Rule::Annotations => "annotations",
            Rule::Selectors => "selectors",
            Rule::References => "references",
            Rule::PodSecurity(check) => return write!(f, "pod-security: {check}"),
            Rule::Pods => "pods",
            Rule::Services => "services",
            Rule::Tier2Settings => "tier2-settings",
            Rule::Plan => "plan",
            Rule::Cleanup => "cleanup",
        };
        f.write_str(name)
    }
}

/// One thing the policy refuses: the rule, where, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub rule: Rule,
    /// JSON path inside the object, e.g. `spec.template.spec.nodeName`.
    pub path: String,
    pub message: String,
}

impl Finding {
    pub fn new(rule: Rule, path: &str, message: impl Into<String>) -> Self {
        Finding { rule, path: path.to_string(), message: message.into() }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "[{}] {}", self.rule, self.message)
        } else {
            write!(f, "[{}] {}: {}", self.rule, self.path, self.message)
        }
    }
}

/// Findings shown in a violation's message; the rest are counted.
const SHOWN: usize = 3;

/// A plan the policy refuses: which plugin, which object, every finding.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("plugin {plugin} emitted {object}, which the output policy forbids: {reason}; the whole plan was rejected")]
pub struct PolicyViolation {
    pub plugin: String,
    /// `Kind/name`, or what part of the plugin's output it is (e.g. `Tier-2 wiring`).
    pub object: String,
    /// The findings, joined (the first few, then how many more).
    pub reason: String,
    pub findings: Vec<Finding>,
}

/// `s` on one line: control characters (and the Unicode line separators) escaped. Findings quote
/// what a plugin wrote (field names, object names, values), and they end up in logs, status and
/// Events, where a newline could forge a line.
fn single_line(s: &str) -> String {
    if !s.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl PolicyViolation {
    pub fn new(plugin: &str, object: impl Into<String>, findings: Vec<Finding>) -> Self {
        let mut findings: Vec<Finding> = findings
            .into_iter()
            .map(|f| Finding { rule: f.rule, path: single_line(&f.path), message: single_line(&f.message) })
            .collect();
        let object = single_line(&object.into());
        findings.sort();
        findings.dedup();
        let mut reason = findings.iter().take(SHOWN).map(ToString::to_string).collect::<Vec<_>>().join("; ");
        if findings.len() > SHOWN {
            reason.push_str(&format!("; and {} more", findings.len() - SHOWN));
        }
        PolicyViolation { plugin: plugin.to_string(), object, reason, findings }
    }

    /// Whether any finding breaks `rule`.
    pub fn breaks(&self, rule: Rule) -> bool {
        self.findings.iter().any(|f| f.rule == rule)
    }
}

/// Who emitted an output, for which cluster, with which grants.
pub struct PolicyContext<'a> {
    pub cluster: &'a Cluster,
    pub plugin: &'a str,
    pub role: Role,
    /// Capabilities the plugin declared and was granted.
    pub granted: &'a BTreeSet<String>,
    /// The other clusters of the namespace: names of theirs are not this cluster's to take.
    pub siblings: &'a [String],
    /// Every component label in use (reconcilers' and loaded Tier-2 providers').
    pub components: &'a BTreeSet<String>,
    /// Tier-2 volumes the provider's wiring passed ([`check_wiring`]); the node may mount them.
    pub wiring_volumes: &'a [Value],
}

impl PolicyContext<'_> {
    pub fn component(&self) -> &str {
        self.role.component()
    }
}

/// An object that passed [`enforce`], stamped, with who emitted it.
#[derive(Clone, Debug, PartialEq)]
pub struct Emitted {
    pub plugin: String,
    pub component: String,
    pub object: Value,
}

/// `Kind/name` of an object, or its position when it has no kind.
fn label_of(object: &Value, index: usize) -> String {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if kind.is_empty() { format!("object #{index}") } else { format!("{kind}/{name}") }
}

/// Checks every object of one plugin's output and returns them stamped, or the first object's
/// violation (with every finding about that object).
pub fn enforce(ctx: &PolicyContext<'_>, objects: Vec<Value>) -> Result<Vec<Emitted>, PolicyViolation> {
    objects
        .into_iter()
        .enumerate()
        .map(|(i, object)| {
            let label = label_of(&object, i);
            let findings = check_object(ctx, &object);
            if !findings.is_empty() {
                return Err(PolicyViolation::new(ctx.plugin, label, findings));
            }
            Ok(Emitted {
                plugin: ctx.plugin.to_string(),
                component: ctx.component().to_string(),
                object: stamp(ctx, object),
            })
        })
        .collect()
}

/// Every finding about one object, on its own (plan-wide rules come later, in [`check_plan`]).
fn check_object(ctx: &PolicyContext<'_>, object: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    if !object.is_object() {
        out.push(Finding::new(Rule::AllowedFields, "", "is not a JSON object"));
        return out;
    }
    let Some(kind) = roles::allowed_kind(ctx, object, &mut out) else { return out };
    if let Some(shape) = shapes::of_kind(kind.kind) {
        shape::check(object, shape, "", &mut out);
    }
    if !out.is_empty() {
        // The semantic rules below read fields by their allowed shapes.
        return out;
    }
    names::check_metadata(ctx, kind, object, &mut out);
    objects::check(ctx, kind, object, &mut out);
    out
}

/// The host's labels, namespace, and ownership (an owner reference, or for cluster-scoped objects
/// the owner-UID annotation) on an object that passed the policy.
fn stamp(ctx: &PolicyContext<'_>, mut object: Value) -> Value {
    let cluster = ctx.cluster;
    let namespaced = kinds::of(&object).is_none_or(|k| k.namespaced);
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else { return object };
    if namespaced {
        metadata.insert("namespace".into(), cluster.namespace.clone().into());
    }
    let labels = metadata.entry("labels").or_insert_with(|| json!({}));
    if let Some(labels) = labels.as_object_mut() {
        for (key, value) in names::host_labels(&cluster.name, ctx.component(), true) {
            labels.insert(key.into(), value.into());
        }
    }
    if !cluster.uid.is_empty() {
        if namespaced {
            metadata.insert(
                "ownerReferences".into(),
                json!([{
                    "apiVersion": API_VERSION,
                    "kind": KIND,
                    "name": cluster.name,
                    "uid": cluster.uid,
                    "controller": true,
                    "blockOwnerDeletion": true,
                }]),
            );
        } else {
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(OWNER_UID_ANNOTATION.into(), cluster.uid.clone().into());
            }
        }
    }
    // A Job's pods are not members of the component: a label of their own keeps them out of its
    // workload's, Service's and PodDisruptionBudget's selectors.
    let pod_component = match object.get("kind").and_then(Value::as_str) {
        Some("Job") => format!("{}-job", ctx.component()),
        _ => ctx.component().to_string(),
    };
    if let Some(template) = object.pointer_mut("/spec/template").and_then(Value::as_object_mut) {
        let metadata = template.entry("metadata").or_insert_with(|| json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            let labels = metadata.entry("labels").or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                for (key, value) in names::host_labels(&cluster.name, &pod_component, false) {
                    labels.insert(key.into(), value.into());
                }
            }
        }
    }
    object
}

/// Checks across a whole plan: every object once, and every reference to something the plan
/// creates or the spec names.
pub fn check_plan(cluster: &Cluster, plan: &[Emitted]) -> Result<(), PolicyViolation> {
    let mut seen: std::collections::BTreeMap<(String, String), &str> = Default::default();
    for e in plan {
        let label = label_of(&e.object, 0);
        let kind = e.object.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
        let name = e.object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        if let Some(first) = seen.insert((kind, name), &e.plugin) {
            let finding = Finding::new(Rule::Plan, "", format!("plugin {first} already emitted it"));
            return Err(PolicyViolation::new(&e.plugin, label, vec![finding]));
        }
    }
    references::check(cluster, plan)
}

#[cfg(test)]
mod tests;
