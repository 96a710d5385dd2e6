//! Names, labels, annotations and selectors: everything that ties an object to a cluster stays
//! within the cluster that emitted it.
//!
//! - A namespaced object's name is `<cluster>-<component>` or begins with `<cluster>-<component>-`;
//!   a cluster-scoped one's begins with `<cluster>-<namespace>-<component>`. A name that is also
//!   another cluster's (`ecs` emitting `ecs-x-ecs-node`, cluster `ecs-x`'s) is refused.
//! - The labels that decide membership (`app`, `ecs_cluster`, `component`, the managed-by label) are
//!   set by the host; a plugin may repeat them with the host's values, and set no others.
//! - Selectors are exact labels that include `ecs_cluster: <cluster>`: they select only this
//!   cluster's pods.

use super::shape::join;
use super::{Finding, HOST_PREFIX, PolicyContext, Rule};
use crate::kinds::ManagedKind;
use ecs_plugin_sdk::k8s::{
    APP, LABEL_APP, LABEL_CLUSTER, LABEL_COMPONENT, LABEL_MANAGED_BY, LABEL_POD_NAME, MANAGED_BY,
};
use serde_json::{Map, Value};

/// The labels the host sets: on objects (`object`), or on pod templates (no managed-by label: pods
/// are the workload controllers', not the operator's).
pub fn host_labels(cluster: &str, component: &str, object: bool) -> Vec<(&'static str, String)> {
    let mut labels = vec![
        (LABEL_APP, APP.to_string()),
        (LABEL_CLUSTER, cluster.to_string()),
        (LABEL_COMPONENT, component.to_string()),
    ];
    if object {
        labels.push((LABEL_MANAGED_BY, MANAGED_BY.to_string()));
    }
    labels
}

/// Name, namespace, labels and annotations of an object.
pub fn check_metadata(ctx: &PolicyContext<'_>, kind: &ManagedKind, object: &Value, out: &mut Vec<Finding>) {
    let metadata = object.get("metadata").and_then(Value::as_object);
    let name = metadata.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or_default();
    check_name(ctx, kind, name, out);
    match metadata.and_then(|m| m.get("namespace")).and_then(Value::as_str) {
        Some(ns) if !kind.namespaced => out.push(Finding::new(
            Rule::Names,
            "metadata.namespace",
            format!("{} is cluster-scoped and takes no namespace (got {ns:?})", kind.kind),
        )),
        Some(ns) if ns != ctx.cluster.namespace => out.push(Finding::new(
            Rule::Names,
            "metadata.namespace",
            format!("{ns:?} is not the cluster's namespace {:?}", ctx.cluster.namespace),
        )),
        _ => {}
    }
    let empty = Map::new();
    let labels = metadata.and_then(|m| m.get("labels")).and_then(Value::as_object).unwrap_or(&empty);
    check_labels(ctx, "metadata.labels", labels, true, out);
    let annotations = metadata.and_then(|m| m.get("annotations")).and_then(Value::as_object).unwrap_or(&empty);
    for key in annotations.keys() {
        // The only annotation any kind takes is a Service's DNS name (checked with the Service).
        if kind.kind == "Service" && key == super::objects::EXTERNAL_DNS_HOSTNAME {
            continue;
        }
        let why = if key.starts_with(HOST_PREFIX) { "is set by the host" } else { "is not one a plugin may set" };
        out.push(Finding::new(Rule::Annotations, &format!("metadata.annotations[{key}]"), format!("annotation {why}")));
    }
}

fn check_name(ctx: &PolicyContext<'_>, kind: &ManagedKind, name: &str, out: &mut Vec<Finding>) {
    let cluster = &ctx.cluster.name;
    let component = ctx.component();
    let prefix = |owner: &str, component: &str| {
        if kind.namespaced {
            format!("{owner}-{component}")
        } else {
            format!("{owner}-{}-{component}", ctx.cluster.namespace)
        }
    };
    let within = |name: &str, prefix: &str| name == prefix || name.starts_with(&format!("{prefix}-"));
    let own = prefix(cluster, component);
    if !within(name, &own) {
        out.push(Finding::new(Rule::Names, "metadata.name", format!("{name:?} does not begin with {own:?}")));
        return;
    }
    // Services and StatefulSets become DNS labels (and pod names); others are DNS subdomains.
    let max = if matches!(kind.kind, "Service" | "StatefulSet") { 63 } else { 253 };
    if !is_dns_name(name, max, kind.kind != "Service" && kind.kind != "StatefulSet") {
        out.push(Finding::new(
            Rule::Names,
            "metadata.name",
            format!("{name:?} is not a valid DNS name of at most {max} characters"),
        ));
    }
    // Cluster `ecs` may emit `ecs-bookie-headless`, but not `ecs-x-ecs-node` while cluster `ecs-x` exists.
    for sibling in ctx.siblings.iter().filter(|s| s.starts_with(&format!("{cluster}-"))) {
        if let Some(taken) = ctx.components.iter().find(|c| within(name, &prefix(sibling, c))) {
            out.push(Finding::new(
                Rule::Names,
                "metadata.name",
                format!("{name:?} is cluster {sibling:?}'s (its {taken} component's name)"),
            ));
        }
    }
}

/// A DNS label (`a-b`), or with `dots` a DNS subdomain (`a-b.c`), of at most `max` characters.
pub fn is_dns_name(name: &str, max: usize, dots: bool) -> bool {
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !name.is_empty() && name.len() <= max && if dots { name.split('.').all(label) } else { label(name) }
}

/// Labels a plugin set: only the host's keys, with the host's values.
pub fn check_labels(
    ctx: &PolicyContext<'_>,
    path: &str,
    labels: &Map<String, Value>,
    object: bool,
    out: &mut Vec<Finding>,
) {
    let host = host_labels(&ctx.cluster.name, ctx.component(), object);
    for (key, value) in labels {
        let at = format!("{path}[{key}]");
        match host.iter().find(|(k, _)| k == key) {
            Some((_, expected)) if value.as_str() == Some(expected) => {}
            Some((_, expected)) => out.push(Finding::new(
                Rule::Labels,
                &at,
                format!("is set by the host to {expected:?}: labels that decide membership are not a plugin's"),
            )),
            None => out.push(Finding::new(
                Rule::Labels,
                &at,
                format!(
                    "is not a label a plugin may set (the host sets {})",
                    host.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }
}

/// What a selector is for: a workload's own pods, a Service's or a budget's, or scheduling terms.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Selecting {
    /// A StatefulSet's or Deployment's: exactly its own component's pods.
    Workload,
    /// A Service may also pick one StatefulSet pod by name.
    Service,
    /// PodDisruptionBudgets, affinity and spreading terms.
    Pods,
}

/// `labels` (a selector's `matchLabels`, or a Service's `selector`) select only this cluster's pods.
pub fn check_selector(
    ctx: &PolicyContext<'_>,
    path: &str,
    labels: Option<&Value>,
    of: Selecting,
    out: &mut Vec<Finding>,
) {
    let Some(labels) = labels.and_then(Value::as_object).filter(|l| !l.is_empty()) else {
        out.push(Finding::new(
            Rule::Selectors,
            path,
            format!("must select by label, including {LABEL_CLUSTER}: {:?}", ctx.cluster.name),
        ));
        return;
    };
    if labels.get(LABEL_CLUSTER).and_then(Value::as_str) != Some(ctx.cluster.name.as_str()) {
        out.push(Finding::new(
            Rule::Selectors,
            path,
            format!(
                "must include {LABEL_CLUSTER}: {:?}, so that it selects only this cluster's pods",
                ctx.cluster.name
            ),
        ));
    }
    for (key, value) in labels {
        let value = value.as_str().unwrap_or_default();
        let at = join(path, key);
        let ok = match key.as_str() {
            LABEL_CLUSTER => true,
            LABEL_APP => value == APP,
            LABEL_COMPONENT if of == Selecting::Workload => value == ctx.component(),
            LABEL_COMPONENT => ctx.components.contains(value),
            // The pod must be one of the plan's StatefulSets' (checked with the whole plan).
            LABEL_POD_NAME => of == Selecting::Service,
            _ => false,
        };
        if !ok {
            out.push(Finding::new(
                Rule::Selectors,
                &at,
                format!("{key}={value:?} is not a label this cluster's pods carry"),
            ));
        }
    }
    if of == Selecting::Workload && labels.get(LABEL_COMPONENT).and_then(Value::as_str) != Some(ctx.component()) {
        out.push(Finding::new(
            Rule::Selectors,
            path,
            format!("must include {LABEL_COMPONENT}: {:?}, the workload's own pods", ctx.component()),
        ));
    }
}
