//! What the rollout needs to know of each component, read from the observed workloads and pods.

use super::{FAILING_REASONS, TEMPLATE_HASH_ANNOTATION, template};
use ecs_plugin_sdk::k8s::LABEL_COMPONENT;
use serde_json::Value;
use std::collections::BTreeMap;

/// Who replaces a component's pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// A StatefulSet with `OnDelete`: the host deletes one pod at a time.
    Host,
    /// A Deployment: it replaces one pod at a time itself.
    Workload,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    pub name: String,
    pub uid: String,
    /// A StatefulSet pod's ordinal.
    pub ordinal: Option<u32>,
    pub template_hash: Option<String>,
    pub ready: bool,
    pub terminating: bool,
    /// A container waiting for a reason it will not get over by itself: (reason, message).
    pub failure: Option<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentView {
    /// The reconciler plugin's name: `bookkeeper`, `node`, `controller`.
    pub component: String,
    /// `Kind/name` of its workload.
    pub workload: String,
    pub driver: Driver,
    pub replicas: u32,
    /// The workload controller has seen the workload's latest spec.
    pub settled: bool,
    pub version: Option<String>,
    pub hash: Option<String>,
    /// Sorted by name.
    pub pods: Vec<PodView>,
}

impl ComponentView {
    /// Runs the workload's current template.
    pub fn is_updated(&self, pod: &PodView) -> bool {
        pod.template_hash.is_some() && pod.template_hash == self.hash
    }

    pub fn live(&self) -> impl Iterator<Item = &PodView> {
        self.pods.iter().filter(|p| !p.terminating)
    }

    /// Pods on the current template and Ready.
    pub fn updated_ready(&self) -> usize {
        self.live().filter(|p| p.ready && self.is_updated(p)).count()
    }

    /// Every pod runs the current template and is Ready, and there are as many as wanted.
    pub fn converged(&self) -> bool {
        self.settled
            && self.pods.iter().all(|p| !p.terminating && p.ready && self.is_updated(p))
            && self.pods.len() == self.replicas as usize
    }

    /// Converged on `version`.
    pub fn runs(&self, version: &str) -> bool {
        self.converged() && self.version.as_deref() == Some(version)
    }

    /// An up-to-date pod that will not become Ready by itself.
    pub fn failing(&self) -> Option<&PodView> {
        self.live().find(|p| self.is_updated(p) && p.failure.is_some())
    }

    /// `bookkeeper 2/3`
    pub fn progress(&self) -> String {
        format!("{} {}/{}", self.component, self.updated_ready(), self.replicas)
    }
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn pod_view(pod: &Value) -> PodView {
    let name = text(pod, "/metadata/name").unwrap_or_default().to_string();
    let ordinal = name.rsplit_once('-').and_then(|(_, n)| n.parse().ok());
    let conditions = pod.pointer("/status/conditions").and_then(Value::as_array);
    let ready = conditions.into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True");
    let statuses = ["initContainerStatuses", "containerStatuses"]
        .iter()
        .filter_map(|f| pod.pointer(&format!("/status/{f}")).and_then(Value::as_array))
        .flatten();
    let failure = statuses.filter_map(|s| s.pointer("/state/waiting")).find_map(|w| {
        let reason = w.get("reason").and_then(Value::as_str)?;
        FAILING_REASONS
            .contains(&reason)
            .then(|| (reason.to_string(), w.get("message").and_then(Value::as_str).unwrap_or_default().to_string()))
    });
    PodView {
        ordinal,
        uid: text(pod, "/metadata/uid").unwrap_or_default().to_string(),
        template_hash: pod
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(TEMPLATE_HASH_ANNOTATION))
            .and_then(Value::as_str)
            .map(str::to_string),
        ready,
        terminating: pod.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()),
        failure,
        name,
    }
}

pub(super) fn component_label(object: &Value) -> Option<&str> {
    object.pointer("/metadata/labels")?.get(LABEL_COMPONENT)?.as_str()
}

/// One view per component whose workload is observed. `components` maps a component label (e.g.
/// `bookie`) to its plugin's name (`bookkeeper`).
pub fn components(observed: &[Value], components: &BTreeMap<String, String>) -> BTreeMap<String, ComponentView> {
    let mut views = BTreeMap::new();
    for workload in observed {
        let driver = match workload.get("kind").and_then(Value::as_str) {
            Some("StatefulSet") => Driver::Host,
            Some("Deployment") => Driver::Workload,
            _ => continue,
        };
        let Some(label) = component_label(workload) else { continue };
        let Some(component) = components.get(label) else { continue };
        let generation = workload.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
        let observed_generation = workload.pointer("/status/observedGeneration").and_then(Value::as_i64);
        let mut pods: Vec<PodView> =
            observed.iter().filter(|p| p["kind"] == "Pod" && component_label(p) == Some(label)).map(pod_view).collect();
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        views.insert(
            component.clone(),
            ComponentView {
                component: component.clone(),
                workload: format!(
                    "{}/{}",
                    workload["kind"].as_str().unwrap_or_default(),
                    text(workload, "/metadata/name").unwrap_or_default()
                ),
                driver,
                replicas: workload.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1) as u32,
                settled: observed_generation.is_some_and(|g| g >= generation),
                version: template::version(workload).map(str::to_string),
                hash: template::hash(workload).map(str::to_string),
                pods,
            },
        );
    }
    views
}
