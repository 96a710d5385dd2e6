//! The upgrade state machine. Each reconcile calls [`advance`] with the previous status and what the
//! workloads show, renders with the versions it returns, applies, then asks [`restarts`] which pod
//! (at most one) to delete now. Nothing blocks: every step is decided again from the status and the
//! observed pods, so an operator restarted at any point carries on where the cluster stands, and a
//! pod is deleted only while it still runs an older template (never twice for one step).

use super::view::{ComponentView, Driver};
use super::{HISTORY, ORDER};
use ecs_plugin_sdk::Versions;
use ecs_plugin_sdk::spec::{ECSClusterSpec, ECSClusterStatus, UpgradeFailure, UpgradePhase, UpgradeStatus};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;
use std::time::Duration;

/// What the rollout adds to the status, and what it wants published.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The versions to render each component with.
    pub versions: Versions,
    /// Whether `spec.version` drives the versions (else each component follows its image tag).
    pub orchestrated: bool,
    /// `spec.version`.
    pub target: Option<String>,
    pub current_version: Option<String>,
    pub previous_version: Option<String>,
    pub history: Vec<String>,
    pub upgrade: Option<UpgradeStatus>,
    /// A pod-template change (not an upgrade) whose replaced pod fails: the roll waits for a fix.
    pub stalled: Option<UpgradeFailure>,
    pub events: Vec<RolloutEvent>,
    /// When to look again even if nothing changes (the ready timeout).
    pub recheck_after: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutEvent {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

impl RolloutEvent {
    pub(crate) fn normal(reason: &'static str, message: String) -> Self {
        RolloutEvent { warning: false, reason, message }
    }
    pub(crate) fn warning(reason: &'static str, message: String) -> Self {
        RolloutEvent { warning: true, reason, message }
    }
}

/// A pod to delete, so its workload recreates it on the current template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restart {
    pub pod: String,
    pub uid: String,
    pub reason: String,
}

fn order(phase: UpgradePhase) -> Vec<&'static str> {
    let mut order = ORDER.to_vec();
    if phase == UpgradePhase::RollingBack {
        order.reverse();
    }
    order
}

fn is_older(a: &str, b: &str) -> bool {
    match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(a), Ok(b)) => a < b,
        _ => false,
    }
}

fn stamp(now: Timestamp) -> String {
    now.to_string()
}

fn since(now: Timestamp, then: &str) -> Duration {
    then.parse::<Timestamp>().ok().and_then(|t| now.duration_since(t).try_into().ok()).unwrap_or(Duration::ZERO)
}

fn all(version: &str) -> Versions {
    Versions { bookkeeper: version.into(), controller: version.into(), node: version.into() }
}

fn converged_on(views: &BTreeMap<String, ComponentView>, version: &str) -> bool {
    ORDER.iter().all(|c| views.get(*c).is_some_and(|v| v.runs(version)))
}

fn push_history(history: &mut Vec<String>, version: &str) {
    if history.last().map(String::as_str) != Some(version) {
        history.push(version.to_string());
    }
    let excess = history.len().saturating_sub(HISTORY);
    history.drain(..excess);
}

/// Moves the machine as far as the observed components allow.
pub fn advance(
    previous: Option<&ECSClusterStatus>,
    spec: &ECSClusterSpec,
    views: &BTreeMap<String, ComponentView>,
    now: Timestamp,
) -> Step {
    let previous = previous.cloned().unwrap_or_default();
    let mut history = previous.version_history.clone();
    // A status written before version histories existed: its current version is the start.
    if history.is_empty()
        && previous.versions.is_none()
        && let Some(current) = &previous.current_version
    {
        history.push(current.clone());
    }
    let mut step = Step {
        versions: Versions::targets(spec),
        orchestrated: spec.version.is_some(),
        target: spec.version.clone(),
        current_version: None,
        previous_version: None,
        history: Vec::new(),
        upgrade: None,
        stalled: None,
        events: Vec::new(),
        recheck_after: None,
    };
    let timeout = Duration::from_secs(spec.upgrade.pod_ready_timeout_seconds.max(0) as u64);
    let Some(target) = spec.version.clone() else {
        step.history = history;
        step.stalled = stalled(views);
        return step;
    };
    // Before a first version is complete there is nothing to upgrade from: every component takes it.
    let Some(last) = history.last().cloned() else {
        step.versions = all(&target);
        if converged_on(views, &target) {
            push_history(&mut history, &target);
        }
        return finish(step, history, None, views);
    };
    let rendered = previous.versions.clone().map(Versions::from).unwrap_or_else(|| all(&last));
    let mut upgrade = previous.upgrade.clone();
    upgrade = match upgrade {
        None if target == last => None,
        Some(u) if u.to_version == target && u.phase.in_progress() => Some(u),
        // A failed upgrade stays where it stopped until spec.version changes.
        Some(u) if u.to_version == target && u.phase == UpgradePhase::Failed => Some(u),
        // An automatic rollback runs to its end, and then holds while spec.version names the failure.
        Some(u) if u.from_version == target && u.failure.is_some() && u.phase == UpgradePhase::RollingBack => Some(u),
        Some(u) if u.from_version == target && u.phase == UpgradePhase::RolledBack => Some(u),
        // Back to where an upgrade started from: roll back.
        Some(u) if u.from_version == target && matches!(u.phase, UpgradePhase::Upgrading | UpgradePhase::Failed) => {
            step.events.push(RolloutEvent::normal(
                "RollbackStarted",
                format!(
                    "rolling back {} -> {target}: controller, then node, then bookkeeper, one pod at a time",
                    u.to_version
                ),
            ));
            Some(begin(UpgradePhase::RollingBack, &u.to_version, &target, now, None))
        }
        // A new version (or none in progress): start from the version last completed.
        _ if target == last => None,
        _ => {
            let phase = if is_older(&target, &last) { UpgradePhase::RollingBack } else { UpgradePhase::Upgrading };
            let (verb, route) = match phase {
                UpgradePhase::RollingBack => ("rolling back", "controller, then node, then bookkeeper"),
                _ => ("upgrading", "bookkeeper, then node, then controller"),
            };
            step.events.push(RolloutEvent::normal(
                if phase == UpgradePhase::RollingBack { "RollbackStarted" } else { "UpgradeStarted" },
                format!("{verb} {last} -> {target}: {route}, one pod at a time"),
            ));
            Some(begin(phase, &last, &target, now, None))
        }
    };
    let Some(mut u) = upgrade else {
        step.versions = all(&target);
        return finish(step, history, None, views);
    };
    step.versions = rendered.clone();
    // A stopped upgrade whose cause went away (the image was pushed, the pod became Ready on the new
    // version after all) carries on where it stopped.
    if u.phase == UpgradePhase::Failed && recovered(&u, views) {
        u.phase =
            if is_older(&u.to_version, &u.from_version) { UpgradePhase::RollingBack } else { UpgradePhase::Upgrading };
        let pod = u.failure.take().map(|f| f.pod).unwrap_or_default();
        u.last_progress_at = stamp(now);
        step.events.push(RolloutEvent::normal(
            "UpgradeResumed",
            format!("pod {pod} is Ready on {}: carrying on {} -> {}", u.to_version, u.from_version, u.to_version),
        ));
    }
    if u.phase == UpgradePhase::Failed || u.phase == UpgradePhase::RolledBack {
        if u.phase == UpgradePhase::RolledBack {
            step.versions = all(&u.to_version);
        }
        return finish(step, history, Some(u), views);
    }
    let auto_rollback = spec.upgrade.auto_rollback;
    loop {
        let order = order(u.phase);
        let mut k = u.component.as_deref().and_then(|c| order.iter().position(|o| *o == c)).unwrap_or(0);
        let mut done = false;
        let mut failed = None;
        loop {
            let component = order[k];
            step.versions.set(component, &u.to_version);
            let view = views.get(component);
            if view.is_some_and(|v| v.runs(&u.to_version)) {
                if rendered.get(component) != u.to_version || u.component.as_deref() == Some(component) {
                    step.events.push(RolloutEvent::normal(
                        "ComponentUpgraded",
                        format!(
                            "{component} runs {} ({})",
                            u.to_version,
                            view.map(ComponentView::progress).unwrap_or_default()
                        ),
                    ));
                }
                k += 1;
                u.last_progress_at = stamp(now);
                if k == order.len() {
                    done = true;
                    break;
                }
                u.component = Some(order[k].to_string());
                u.progress = None;
                continue;
            }
            u.component = Some(component.to_string());
            let on_target = view.filter(|v| v.version.as_deref() == Some(u.to_version.as_str()));
            let progress = match on_target {
                Some(v) => v.progress(),
                None => format!("{component} 0/{}", view.map(|v| v.replicas).unwrap_or(0)),
            };
            if u.progress.as_deref() != Some(progress.as_str()) {
                u.progress = Some(progress);
                u.last_progress_at = stamp(now);
            }
            if let Some(pod) = on_target.and_then(ComponentView::failing) {
                let (reason, message) = pod.failure.clone().unwrap_or_default();
                failed = Some(UpgradeFailure { pod: pod.name.clone(), reason, message });
            } else if since(now, &u.last_progress_at) >= timeout {
                let pod = on_target
                    .and_then(|v| v.live().find(|p| v.is_updated(p) && !p.ready).map(|p| p.name.clone()))
                    .unwrap_or_else(|| view.map(|v| v.workload.clone()).unwrap_or_else(|| component.to_string()));
                failed = Some(UpgradeFailure {
                    pod,
                    reason: "ReadyTimeout".into(),
                    message: format!("not Ready on {} within {} s", u.to_version, timeout.as_secs()),
                });
            } else {
                step.recheck_after =
                    Some(timeout.saturating_sub(since(now, &u.last_progress_at)) + Duration::from_secs(1));
            }
            break;
        }
        if done {
            let rolled_back = u.failure.clone();
            push_history(&mut history, &u.to_version);
            let (reason, verb) = match u.phase {
                UpgradePhase::RollingBack => ("RollbackCompleted", "rolled back"),
                _ => ("UpgradeCompleted", "upgraded"),
            };
            step.events.push(RolloutEvent::normal(reason, format!("{verb} {} -> {}", u.from_version, u.to_version)));
            let held = rolled_back.filter(|_| target != u.to_version).map(|failure| UpgradeStatus {
                phase: UpgradePhase::RolledBack,
                failure: Some(failure),
                component: None,
                progress: None,
                ..u.clone()
            });
            return finish(step, history, held, views);
        }
        let Some(failure) = failed else {
            return finish(step, history, Some(u), views);
        };
        let what = if u.phase == UpgradePhase::RollingBack { "rollback" } else { "upgrade" };
        let next = if auto_rollback && u.phase == UpgradePhase::Upgrading {
            format!("rolling back to {} (spec.upgrade.autoRollback)", u.from_version)
        } else if u.phase == UpgradePhase::Upgrading {
            format!("no further pod is touched; set spec.version back to {} to roll back", u.from_version)
        } else {
            "no further pod is touched".to_string()
        };
        step.events.push(RolloutEvent::warning(
            "UpgradeFailed",
            format!(
                "{what} {} -> {} stopped at pod {}: {}: {}; {next}",
                u.from_version, u.to_version, failure.pod, failure.reason, failure.message
            ),
        ));
        if auto_rollback && u.phase == UpgradePhase::Upgrading {
            step.events.push(RolloutEvent::normal(
                "RollbackStarted",
                format!(
                    "rolling back {} -> {}: controller, then node, then bookkeeper, one pod at a time",
                    u.to_version, u.from_version
                ),
            ));
            u = begin(UpgradePhase::RollingBack, &u.to_version, &u.from_version, now, Some(failure));
            continue;
        }
        u.phase = UpgradePhase::Failed;
        u.failure = Some(failure);
        step.recheck_after = None;
        return finish(step, history, Some(u), views);
    }
}

/// The component an upgrade stopped at has every pod on the new template Ready, the failed one
/// among them.
fn recovered(u: &UpgradeStatus, views: &BTreeMap<String, ComponentView>) -> bool {
    let (Some(component), Some(failure)) = (u.component.as_deref(), u.failure.as_ref()) else { return false };
    let Some(view) = views.get(component) else { return false };
    let updated: Vec<_> = view.live().filter(|p| view.is_updated(p)).collect();
    view.version.as_deref() == Some(u.to_version.as_str())
        && updated.iter().any(|p| p.name == failure.pod)
        && updated.iter().all(|p| p.ready)
}

fn begin(phase: UpgradePhase, from: &str, to: &str, now: Timestamp, failure: Option<UpgradeFailure>) -> UpgradeStatus {
    UpgradeStatus {
        phase,
        from_version: from.to_string(),
        to_version: to.to_string(),
        component: Some(order(phase)[0].to_string()),
        progress: None,
        started_at: stamp(now),
        last_progress_at: stamp(now),
        failure,
    }
}

fn finish(
    mut step: Step,
    history: Vec<String>,
    upgrade: Option<UpgradeStatus>,
    views: &BTreeMap<String, ComponentView>,
) -> Step {
    step.current_version = history.last().cloned();
    // Mid-upgrade (or after one failed) the way back is the last version completed; otherwise the
    // one before it.
    step.previous_version = match upgrade {
        Some(_) => history.last().cloned(),
        None => history.iter().rev().nth(1).cloned(),
    };
    if upgrade.is_none() {
        step.stalled = stalled(views);
    }
    step.history = history;
    step.upgrade = upgrade;
    step
}

/// A template roll (no version change) stuck on a replaced pod that fails.
fn stalled(views: &BTreeMap<String, ComponentView>) -> Option<UpgradeFailure> {
    ORDER.iter().filter_map(|c| views.get(*c)).filter(|v| !v.converged()).find_map(|v| {
        let pod = v.failing()?;
        let (reason, message) = pod.failure.clone().unwrap_or_default();
        Some(UpgradeFailure { pod: pod.name.clone(), reason, message })
    })
}

/// The pod to delete now, if any: in the first component (in the step's order) whose pods are not
/// all Ready on the current template, and only when the workload has taken the current template,
/// no pod is terminating or missing, and every other pod is Ready. A not-Ready pod on an older
/// template goes first (it serves nothing); else the highest ordinal. Nothing while an upgrade is
/// stopped, and nothing for a Deployment, which replaces its pods itself.
pub fn restarts(
    step: &Step,
    views: &BTreeMap<String, ComponentView>,
    desired_hashes: &BTreeMap<String, String>,
) -> Option<Restart> {
    let phase = step.upgrade.as_ref().map(|u| u.phase);
    if phase == Some(UpgradePhase::Failed) {
        return None;
    }
    let order = order(phase.unwrap_or(UpgradePhase::Upgrading));
    let view = order.iter().filter_map(|c| views.get(*c)).find(|v| !v.converged())?;
    if view.driver != Driver::Host || !view.settled || view.hash.as_ref() != desired_hashes.get(&view.component) {
        return None;
    }
    if view.pods.iter().any(|p| p.terminating) || view.pods.len() != view.replicas as usize {
        return None;
    }
    let outdated = || view.pods.iter().filter(|p| !view.is_updated(p));
    let highest = |pods: Vec<&super::PodView>| pods.into_iter().max_by_key(|p| (p.ordinal, p.name.clone())).cloned();
    let pick = match highest(outdated().filter(|p| !p.ready).collect()) {
        Some(pod) => Some(pod),
        None if view.pods.iter().all(|p| p.ready) => highest(outdated().collect()),
        None => None,
    }?;
    let reason = match &step.upgrade {
        Some(u) if u.component.as_deref() == Some(view.component.as_str()) => {
            let position = view.updated_ready() + 1;
            format!("{} {} -> {} ({position}/{})", view.component, u.from_version, u.to_version, view.replicas)
        }
        _ => format!("{} pod template changed", view.component),
    };
    Some(Restart { pod: pick.name, uid: pick.uid, reason })
}
