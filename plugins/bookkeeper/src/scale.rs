//! Scale-down warnings. The StatefulSet removes the highest ordinals; their claims are retained (the
//! operator never deletes bookie data), so the user is told which bookies go and what is left behind.

use crate::objects::{INDEX, JOURNAL, LEDGER, stateful_set_name};
use ecs_plugin_sdk::{Cluster, Event, EventType, k8s};
use k8s_openapi::api::apps::v1::StatefulSet;
use serde_json::Value;

pub const REASON: &str = "BookieScaleDown";

/// A Warning when the observed StatefulSet has more replicas than the spec asks for.
pub fn scale_down_events(cluster: &Cluster, observed: &[Value]) -> Vec<Event> {
    let name = stateful_set_name(&cluster.name);
    let desired = cluster.spec.bookkeeper.replicas;
    let current = k8s::observed_of::<StatefulSet>(observed)
        .into_iter()
        .filter(|s| s.metadata.name.as_deref() == Some(name.as_str()))
        // Kubernetes defaults an unset replica count to 1.
        .map(|s| s.spec.replicas.unwrap_or(1))
        .max();
    match current {
        Some(current) if current > desired => vec![Event {
            type_: EventType::Warning,
            reason: REASON.to_string(),
            message: message(cluster, current, desired),
        }],
        _ => Vec::new(),
    }
}

fn message(cluster: &Cluster, current: i32, desired: i32) -> String {
    let name = stateful_set_name(&cluster.name);
    let bk = &cluster.spec.bookkeeper;
    let (first, last) = (desired, current - 1);
    // A range rather than a list keeps the message bounded however far the cluster shrinks.
    let removed = if first == last {
        format!("bookie {name}-{first} (ordinal {first})")
    } else {
        format!("bookies {name}-{first} to {name}-{last} (ordinals {first} to {last})")
    };
    let mut templates = vec![LEDGER, JOURNAL];
    if bk.storage.index_volume_claim_template.is_some() {
        templates.push(INDEX);
    }
    let claims: Vec<String> = templates.iter().map(|t| format!("{t}-{name}-<ordinal>")).collect();
    let next = if bk.auto_recovery {
        "once auto-recovery has re-replicated their ledgers, delete the claims by hand"
    } else {
        "autoRecovery is off: re-replicate their ledgers (bookkeeper shell recover), then delete the \
         claims by hand"
    };
    format!(
        "Scaling bookies from {current} to {desired}: removing {removed}. Their PersistentVolumeClaims \
         ({}) are kept, as the operator never deletes bookie data; {next}.",
        claims.join(", ")
    )
}
