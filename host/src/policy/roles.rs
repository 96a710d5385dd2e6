//! What each kind of plugin is for, and so what it may emit: a component reconciler emits the kinds of
//! its component, under that component's fixed label; a Tier-2 provider emits only what the node pods
//! need from it (claims, volumes with a capability, configuration), never workloads or Services.

use super::{Finding, PolicyContext, Rule};
use crate::kinds::{self, ManagedKind};
use serde_json::Value;

/// A reconciler's name, the `component` label of everything it emits, and its kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconcilerRole {
    pub name: &'static str,
    pub component: &'static str,
    pub kinds: &'static [&'static str],
}

pub const RECONCILERS: &[ReconcilerRole] = &[
    ReconcilerRole {
        name: "bookkeeper",
        component: "bookie",
        // Jobs: the decommission of a bookie being removed.
        kinds: &["ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget", "Job"],
    },
    ReconcilerRole {
        name: "controller",
        component: "ecs-controller",
        kinds: &["ConfigMap", "Service", "Deployment", "PodDisruptionBudget"],
    },
    ReconcilerRole {
        name: "node",
        component: "ecs-node",
        kinds: &["ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget"],
    },
];

/// What a Tier-2 provider may emit.
pub const TIER2_KINDS: &[&str] = &["ConfigMap", "PersistentVolumeClaim", "PersistentVolume"];

/// The role a plugin plays in a render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Reconciler(ReconcilerRole),
    /// A Tier-2 provider, with the component label it declared.
    Tier2 {
        component: String,
    },
}

impl Role {
    /// The reconciler role of `name`, if it is a reconciler's name.
    pub fn reconciler(name: &str) -> Option<Role> {
        RECONCILERS.iter().find(|r| r.name == name).map(|r| Role::Reconciler(*r))
    }

    pub fn component(&self) -> &str {
        match self {
            Role::Reconciler(r) => r.component,
            Role::Tier2 { component } => component,
        }
    }

    pub fn kinds(&self) -> &'static [&'static str] {
        match self {
            Role::Reconciler(r) => r.kinds,
            Role::Tier2 { .. } => TIER2_KINDS,
        }
    }

    fn describe(&self) -> String {
        match self {
            Role::Reconciler(r) => format!("the {} reconciler", r.name),
            Role::Tier2 { .. } => "a Tier-2 provider".to_string(),
        }
    }
}

/// Whether `component` may be declared by a plugin of this kind and name: reconcilers must declare
/// their own, Tier-2 providers none of the reconcilers' (they would take the nodes' names).
pub fn component_problem(reconciler: Option<&str>, component: &str) -> Option<String> {
    let valid = !component.is_empty()
        && component.len() <= 20
        && component.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !component.starts_with('-')
        && !component.ends_with('-');
    if !valid {
        return Some(format!("component {component:?} must be a DNS label of at most 20 characters"));
    }
    match reconciler.and_then(|name| RECONCILERS.iter().find(|r| r.name == name)) {
        Some(role) if role.component != component => {
            Some(format!("the {} reconciler's component is {:?}, not {component:?}", role.name, role.component))
        }
        Some(_) => None,
        None if RECONCILERS.iter().any(|r| r.component == component) => {
            Some(format!("component {component:?} belongs to a reconciler"))
        }
        None => None,
    }
}

/// The managed kind of `object` if this plugin may emit it; else a finding.
pub fn allowed_kind(ctx: &PolicyContext<'_>, object: &Value, out: &mut Vec<Finding>) -> Option<&'static ManagedKind> {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    let allowed = ctx.role.kinds();
    let Some(managed) = kinds::of(object).filter(|k| allowed.contains(&k.kind)) else {
        out.push(Finding::new(
            Rule::Kinds,
            "",
            format!(
                "kind {api_version}/{kind} is not one {} may emit (allowed: {})",
                ctx.role.describe(),
                allowed.join(", ")
            ),
        ));
        return None;
    };
    if let Some(cap) = managed.capability
        && !ctx.granted.contains(cap)
    {
        out.push(Finding::new(
            Rule::Capabilities,
            "",
            format!("{kind} needs the capability {cap:?}, which this plugin was not granted"),
        ));
        return None;
    }
    Some(managed)
}
