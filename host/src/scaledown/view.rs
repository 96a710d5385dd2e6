//! What the scale-down reads: the bookies' StatefulSet, their pods, their decommission Jobs and the
//! claims of each ordinal, from the cluster's observed objects (its own) and its claims.

use ecs_plugin_sdk::k8s::{LABEL_CLUSTER, LABEL_COMPONENT};
use serde_json::Value;
use std::collections::BTreeMap;

/// The bookies' component label and reconciler.
pub const COMPONENT: &str = "bookie";

/// Where a decommission Job stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    Running,
    Succeeded,
    Failed { reason: String, message: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobView {
    pub name: String,
    pub state: JobState,
    pub uid: String,
    /// Its `creationTimestamp` (RFC 3339, UTC: ordered as text).
    pub created: String,
}

/// A claim of a bookie, as observed: deleted only by this UID.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClaimRef {
    pub name: String,
    pub uid: String,
    pub deleting: bool,
}

fn job_name(stateful_set: &str, ordinal: &str) -> String {
    format!("{stateful_set}-decommission-{ordinal}")
}

/// A bookie's claim (by its component label), whatever its ordinal.
pub fn bookie_claim(claim: &Value) -> Option<ClaimRef> {
    if !is_bookie(claim) {
        return None;
    }
    Some(ClaimRef {
        name: str_at(claim, "/metadata/name")?.to_string(),
        uid: str_at(claim, "/metadata/uid")?.to_string(),
        deleting: claim.pointer("/metadata/deletionTimestamp").is_some(),
    })
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bookies {
    /// The StatefulSet's name and replica count, once it exists.
    pub stateful_set: Option<(String, u32)>,
    /// Pods by ordinal: whether each is Ready (and not terminating).
    pub pods: BTreeMap<u32, bool>,
    /// Decommission Jobs by the ordinal they retire.
    pub jobs: BTreeMap<u32, JobView>,
    /// Claims by ordinal (`<template>-<statefulset>-<ordinal>` for the StatefulSet's templates).
    pub claims: BTreeMap<u32, Vec<ClaimRef>>,
}

fn str_at<'a>(o: &'a Value, pointer: &str) -> Option<&'a str> {
    o.pointer(pointer).and_then(Value::as_str)
}

fn is_bookie(o: &Value) -> bool {
    str_at(o, &format!("/metadata/labels/{LABEL_COMPONENT}")) == Some(COMPONENT)
}

fn ordinal_after(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    // Canonical digits only: `04` is not ordinal 4.
    if rest.is_empty() || (rest.len() > 1 && rest.starts_with('0')) || !rest.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // Ordinals are bounded by the replicas the schema allows; a larger one is not a member's.
    rest.parse().ok().filter(|o| *o < 100_000)
}

fn job_state(job: &Value) -> JobState {
    let conditions = job.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten();
    for c in conditions {
        if str_at(c, "/status") != Some("True") {
            continue;
        }
        match str_at(c, "/type") {
            Some("Complete" | "SuccessCriteriaMet") => return JobState::Succeeded,
            Some("Failed" | "FailureTarget") => {
                return JobState::Failed {
                    reason: str_at(c, "/reason").unwrap_or("Failed").to_string(),
                    message: str_at(c, "/message").unwrap_or_default().to_string(),
                };
            }
            _ => {}
        }
    }
    JobState::Running
}

fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp").is_none()
        && pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| str_at(c, "/type") == Some("Ready") && str_at(c, "/status") == Some("True"))
}

impl Bookies {
    /// `observed`: the cluster's own objects and pods; `claims`: the claims labelled for the
    /// cluster (StatefulSets' claims carry their template's labels, not an owner).
    pub fn read(cluster: &str, observed: &[Value], claims: &[Value]) -> Bookies {
        let mut view = Bookies::default();
        let kind = |o: &Value, k: &str| str_at(o, "/kind") == Some(k);
        let Some(sts) = observed.iter().find(|o| kind(o, "StatefulSet") && is_bookie(o)) else { return view };
        let name = str_at(sts, "/metadata/name").unwrap_or_default().to_string();
        // Kubernetes defaults an unset replica count to 1.
        let replicas = sts.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1) as u32;
        let pod_prefix = format!("{name}-");
        for pod in observed.iter().filter(|o| kind(o, "Pod") && is_bookie(o)) {
            if let Some(ordinal) = ordinal_after(str_at(pod, "/metadata/name").unwrap_or_default(), &pod_prefix) {
                view.pods.insert(ordinal, pod_ready(pod));
            }
        }
        let job_prefix = job_name(&name, "");
        // A Job being deleted is gone already as far as the scale-down is concerned.
        let jobs = observed.iter().filter(|o| kind(o, "Job") && is_bookie(o));
        for job in jobs.filter(|j| j.pointer("/metadata/deletionTimestamp").is_none()) {
            let job_name = str_at(job, "/metadata/name").unwrap_or_default();
            if let Some(ordinal) = ordinal_after(job_name, &job_prefix) {
                let created = str_at(job, "/metadata/creationTimestamp").unwrap_or_default().to_string();
                let uid = str_at(job, "/metadata/uid").unwrap_or_default().to_string();
                view.jobs.insert(ordinal, JobView { name: job_name.to_string(), state: job_state(job), uid, created });
            }
        }
        let templates: Vec<&str> = sts
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| str_at(t, "/metadata/name"))
            .collect();
        let labelled = |c: &&Value| str_at(c, &format!("/metadata/labels/{LABEL_CLUSTER}")) == Some(cluster);
        for claim in claims.iter().filter(labelled).filter_map(bookie_claim) {
            let ordinal = templates.iter().find_map(|t| ordinal_after(&claim.name, &format!("{t}-{pod_prefix}")));
            if let Some(ordinal) = ordinal {
                view.claims.entry(ordinal).or_default().push(claim);
            }
        }
        for claims in view.claims.values_mut() {
            claims.sort();
        }
        view.stateful_set = Some((name, replicas));
        view
    }

    /// Whether a scale-down may be under way: fewer bookies wanted than the StatefulSet has, or
    /// traces of one (a decommission Job; a pod or claims above the StatefulSet's count). Without
    /// any, the cached status is enough; with one, the caller reads the status afresh.
    pub fn may_be_shrinking(&self, wanted: i32) -> bool {
        let Some((_, replicas)) = &self.stateful_set else { return false };
        i64::from(*replicas) > i64::from(wanted)
            || !self.jobs.is_empty()
            || self.pods.keys().any(|o| o >= replicas)
            || self.claims.keys().any(|o| o >= replicas)
    }

    fn stateful_set_name(&self) -> &str {
        self.stateful_set.as_ref().map(|(n, _)| n.as_str()).unwrap_or_default()
    }

    /// The name of bookie `ordinal`'s pod.
    pub fn pod_name(&self, ordinal: u32) -> String {
        format!("{}-{ordinal}", self.stateful_set_name())
    }

    /// The name of bookie `ordinal`'s decommission Job (as the bookkeeper plugin names it).
    pub fn job_name(&self, ordinal: u32) -> String {
        job_name(self.stateful_set_name(), &ordinal.to_string())
    }
}
