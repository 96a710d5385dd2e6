//! The `status` the operator writes, computed from the reconcile's outcome and the previous status
//! (pure: no I/O). Conditions keep their `lastTransitionTime` unless their status flips, so an
//! unchanged cluster yields an identical status and no write.

use crate::pipeline::Rendered;
use crate::rollout::Step;
use crate::scaledown::ScaleStep;
use ecs_plugin_sdk::spec::{
    ComponentStatus, Condition, ECSClusterStatus, Members, ScaleDownPhase, UpgradePhase, UpgradeStatus,
};
use ecs_plugin_sdk::{FieldError, Versions};

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
pub const SPEC_VALID: &str = "SpecValid";
pub const UPGRADING: &str = "Upgrading";
pub const UPGRADE_FAILED: &str = "UpgradeFailed";
pub const SCALING_DOWN: &str = "ScalingDown";
pub const SCALE_DOWN_FAILED: &str = "ScaleDownFailed";
/// Set while a deleted cluster waits for its cleanup (pods to stop, ZooKeeper tree to go).
pub const CLEANING_UP: &str = "CleaningUp";

/// How a reconcile ended.
pub enum Outcome<'a> {
    /// Every object is applied; the components report their pods; the rollout says where
    /// version changes stand, the scale-down where the bookies' removal stands.
    Applied(&'a Rendered, &'a Step, &'a ScaleStep),
    /// The plugins (or the CRD's rules) rejected the spec.
    Invalid(&'a [FieldError]),
    /// A plugin failed; nothing was applied.
    PluginFault(String),
    /// A plugin's output broke the output policy; nothing was applied.
    PolicyViolation(String),
    /// The API server refused an object.
    ApplyFailed(String),
    /// The plan holds an object that exists and belongs to another owner; nothing was applied.
    OwnershipConflict(String),
}

fn condition(type_: &str, ok: bool, reason: &str, message: String, generation: i64) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message),
        last_transition_time: None,
        observed_generation: Some(generation),
    }
}

/// The new status. `now` stamps conditions whose status changed.
pub fn compute(
    previous: Option<&ECSClusterStatus>,
    generation: i64,
    outcome: &Outcome<'_>,
    now: &str,
) -> ECSClusterStatus {
    let mut status = previous.cloned().unwrap_or_default();
    status.observed_generation = Some(generation);
    let old_conditions = std::mem::take(&mut status.conditions);
    let mut conditions = Vec::new();
    match outcome {
        Outcome::Applied(rendered, step, scale) => {
            apply_components(&mut status, rendered);
            apply_rollout(&mut status, step);
            status.scale_down = scale.status.clone();
            let lagging: Vec<String> = status
                .components
                .iter()
                .filter(|(_, c)| c.ready_replicas < c.desired_replicas)
                .map(|(name, c)| format!("{name} {}/{}", c.ready_replicas, c.desired_replicas))
                .collect();
            let ready = lagging.is_empty();
            conditions.push(condition(SPEC_VALID, true, "Valid", "The spec is valid".into(), generation));
            conditions.push(if ready {
                condition(
                    READY,
                    true,
                    "AllMembersReady",
                    format!("{} members ready", status.ready_replicas),
                    generation,
                )
            } else {
                condition(READY, false, "MembersNotReady", format!("ready: {}", lagging.join(", ")), generation)
            });
            let rolling = step.upgrade.as_ref().filter(|u| u.phase.in_progress());
            conditions.push(if let Some(u) = rolling {
                condition(PROGRESSING, true, phase_reason(u.phase), progress_message(u), generation)
            } else if let Some(stall) = &step.stalled {
                let message = format!(
                    "pod {} does not start on its new template: {}: {}; fix the spec to roll on",
                    stall.pod, stall.reason, stall.message
                );
                condition(PROGRESSING, true, "RolloutStalled", message, generation)
            } else if ready {
                condition(
                    PROGRESSING,
                    false,
                    "Stable",
                    "Every object is applied and every member is ready".into(),
                    generation,
                )
            } else {
                condition(PROGRESSING, true, "WaitingForMembers", format!("ready: {}", lagging.join(", ")), generation)
            });
            conditions.push(condition(DEGRADED, false, "Healthy", "The last reconcile succeeded".into(), generation));
            conditions.extend(upgrade_conditions(step, generation));
            conditions.extend(scale_down_conditions(scale, generation));
        }
        Outcome::Invalid(errors) => {
            let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            conditions.push(condition(SPEC_VALID, false, "InvalidSpec", message, generation));
            keep(
                &mut conditions,
                &old_conditions,
                &[READY, PROGRESSING, UPGRADING, UPGRADE_FAILED, SCALING_DOWN, SCALE_DOWN_FAILED],
            );
            conditions.push(condition(
                DEGRADED,
                true,
                "InvalidSpec",
                "The spec is invalid; nothing was applied".into(),
                generation,
            ));
        }
        Outcome::PluginFault(message)
        | Outcome::PolicyViolation(message)
        | Outcome::ApplyFailed(message)
        | Outcome::OwnershipConflict(message) => {
            let reason = match outcome {
                Outcome::PluginFault(_) => "PluginFault",
                Outcome::PolicyViolation(_) => "PolicyViolation",
                Outcome::OwnershipConflict(_) => "OwnershipConflict",
                _ => "ApplyFailed",
            };
            keep(
                &mut conditions,
                &old_conditions,
                &[SPEC_VALID, READY, PROGRESSING, UPGRADING, UPGRADE_FAILED, SCALING_DOWN, SCALE_DOWN_FAILED],
            );
            conditions.push(condition(DEGRADED, true, reason, message.clone(), generation));
        }
    }
    for c in &mut conditions {
        let old = old_conditions.iter().find(|o| o.type_ == c.type_);
        c.last_transition_time = match old {
            Some(o) if o.status == c.status => o.last_transition_time.clone(),
            _ => Some(now.to_string()),
        };
    }
    status.conditions = conditions;
    status
}

fn phase_reason(phase: UpgradePhase) -> &'static str {
    match phase {
        UpgradePhase::Upgrading => "Upgrading",
        UpgradePhase::RollingBack => "RollingBack",
        UpgradePhase::Failed => "UpgradeFailed",
        UpgradePhase::RolledBack => "RolledBack",
    }
}

/// `bookkeeper 2/3 (0.4.0 -> 0.5.0)`
fn progress_message(u: &UpgradeStatus) -> String {
    format!("{} ({} -> {})", u.progress.as_deref().unwrap_or_default(), u.from_version, u.to_version)
}

/// `Upgrading` (with the component and its progress) and `UpgradeFailed` (with the pod and why).
fn upgrade_conditions(step: &Step, generation: i64) -> Vec<Condition> {
    let version = step.current_version.clone().unwrap_or_default();
    let upgrading = match &step.upgrade {
        Some(u) if u.phase.in_progress() => {
            condition(UPGRADING, true, phase_reason(u.phase), progress_message(u), generation)
        }
        Some(u) => {
            let message = format!("stopped on the way {} -> {}; runs {version}", u.from_version, u.to_version);
            condition(UPGRADING, false, phase_reason(u.phase), message, generation)
        }
        None if step.orchestrated && !version.is_empty() => {
            condition(UPGRADING, false, "UpToDate", format!("every component runs {version}"), generation)
        }
        None => condition(UPGRADING, false, "NoUpgrade", "No version change in progress".into(), generation),
    };
    let failure = step.upgrade.as_ref().and_then(|u| u.failure.as_ref().map(|f| (u, f)));
    let failed = match failure {
        Some((u, f)) => {
            let what = if u.phase == UpgradePhase::RolledBack { "rolled back" } else { "stopped" };
            let message = format!(
                "{} -> {} {what} at pod {}: {}: {}",
                if u.phase == UpgradePhase::RolledBack { &u.to_version } else { &u.from_version },
                if u.phase == UpgradePhase::RolledBack { &u.from_version } else { &u.to_version },
                f.pod,
                f.reason,
                f.message
            );
            condition(UPGRADE_FAILED, true, &f.reason, message, generation)
        }
        None => condition(UPGRADE_FAILED, false, "NoFailure", "No upgrade has failed".into(), generation),
    };
    vec![upgrading, failed]
}

/// The status of a deleted cluster waiting for its cleanup: the `CleaningUp` condition says why.
pub fn cleaning_up(previous: Option<&ECSClusterStatus>, reason: &str, message: String, now: &str) -> ECSClusterStatus {
    let mut status = previous.cloned().unwrap_or_default();
    let generation = status.observed_generation.unwrap_or(0);
    let mut c = condition(CLEANING_UP, true, reason, message, generation);
    let old = status.conditions.iter().find(|o| o.type_ == CLEANING_UP);
    c.last_transition_time = match old {
        Some(o) if o.status == c.status => o.last_transition_time.clone(),
        _ => Some(now.to_string()),
    };
    status.conditions.retain(|o| o.type_ != CLEANING_UP);
    status.conditions.push(c);
    status
}

/// `ScalingDown` (which bookie, and where its removal stands) and `ScaleDownFailed`.
fn scale_down_conditions(scale: &ScaleStep, generation: i64) -> Vec<Condition> {
    let Some(s) = &scale.status else {
        return vec![
            condition(SCALING_DOWN, false, "NoScaleDown", "No bookie is being removed".into(), generation),
            condition(SCALE_DOWN_FAILED, false, "NoFailure", "No scale-down has failed".into(), generation),
        ];
    };
    let message = format!(
        "bookies {} -> {}: {} {} ({})",
        s.from_replicas,
        s.to_replicas,
        s.phase.as_str().to_lowercase(),
        s.bookie,
        s.message.as_deref().unwrap_or_default()
    );
    let failed = s.phase == ScaleDownPhase::Failed;
    vec![
        condition(SCALING_DOWN, !failed, s.phase.as_str(), message.clone(), generation),
        if failed {
            condition(SCALE_DOWN_FAILED, true, "DecommissionFailed", message, generation)
        } else {
            condition(SCALE_DOWN_FAILED, false, "NoFailure", "No scale-down has failed".into(), generation)
        },
    ]
}

fn apply_rollout(status: &mut ECSClusterStatus, step: &Step) {
    if !step.orchestrated {
        status.versions = None;
        status.upgrade = None;
        return;
    }
    status.versions = Some(step.versions.clone().into());
    status.current_version = step.current_version.clone();
    status.previous_version = step.previous_version.clone();
    status.version_history = step.history.clone();
    status.upgrade = step.upgrade.clone();
    status.target_version = step.target.clone();
}

/// Conditions this outcome says nothing new about keep their previous value.
fn keep(out: &mut Vec<Condition>, old: &[Condition], types: &[&str]) {
    out.extend(old.iter().filter(|c| types.contains(&c.type_.as_str())).cloned());
}

fn apply_components(status: &mut ECSClusterStatus, rendered: &Rendered) {
    status.components.clear();
    let mut members = Members::default();
    let (mut desired, mut ready) = (0i32, 0i32);
    for c in &rendered.components {
        let (d, r) = (to_i32(c.desired_replicas), to_i32(c.ready_replicas));
        desired += d;
        ready += r;
        members.ready.extend(c.ready_members.iter().cloned());
        members.unready.extend(c.unready_members.iter().cloned());
        status.components.insert(
            c.component.clone(),
            ComponentStatus { desired_replicas: d, ready_replicas: r, current_version: c.current_version.clone() },
        );
    }
    members.ready.sort();
    members.unready.sort();
    status.replicas = desired;
    status.ready_replicas = ready;
    status.members = members;
    let versions: Vec<Option<&String>> = rendered.components.iter().map(|c| c.current_version.as_ref()).collect();
    status.current_version = match versions.first() {
        Some(Some(v)) if versions.iter().all(|x| *x == Some(*v)) => Some((*v).clone()),
        _ => None,
    };
    status.target_version = Some(target_version(&rendered.versions));
}

/// The cluster's version is ECS's (controller and segment store); BookKeeper follows its own.
fn target_version(versions: &Versions) -> String {
    versions.controller.clone()
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Whether a cluster's last written status says `Ready` is `True` (no status yet: not Ready).
pub fn is_ready(status: Option<&ECSClusterStatus>) -> bool {
    status.is_some_and(|s| s.conditions.iter().any(|c| c.type_ == READY && c.status == "True"))
}

/// A condition that changed between two statuses (for Events): its type, new status, reason, message.
pub fn transitions<'a>(old: Option<&'a ECSClusterStatus>, new: &'a ECSClusterStatus) -> Vec<&'a Condition> {
    new.conditions
        .iter()
        .filter(|c| {
            let before = old.and_then(|o| o.conditions.iter().find(|p| p.type_ == c.type_));
            before.is_none_or(|p| {
                p.status != c.status || p.message != c.message && c.type_ != READY && c.type_ != PROGRESSING
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecs_plugin_sdk::ComponentStatus as PluginStatus;

    fn rendered(ready: u32) -> Rendered {
        let component = |name: &str, desired: u32, ready: u32| PluginStatus {
            component: name.into(),
            desired_replicas: desired,
            ready_replicas: ready,
            ready_members: (0..ready).map(|i| format!("{name}-{i}")).collect(),
            unready_members: (ready..desired).map(|i| format!("{name}-{i}")).collect(),
            current_version: Some("0.9.0".into()),
        };
        Rendered {
            objects: vec![],
            components: vec![component("bookie", 3, ready), component("ecs-controller", 1, 1)],
            events: vec![],
            versions: Versions { bookkeeper: "0.9.0".into(), controller: "0.9.0".into(), node: "0.9.0".into() },
            cleanup: vec![],
        }
    }

    fn idle() -> Step {
        Step {
            versions: Versions { bookkeeper: "0.9.0".into(), controller: "0.9.0".into(), node: "0.9.0".into() },
            orchestrated: false,
            target: None,
            current_version: None,
            previous_version: None,
            history: vec![],
            upgrade: None,
            stalled: None,
            events: vec![],
            recheck_after: None,
        }
    }

    fn get<'a>(s: &'a ECSClusterStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn ready_when_every_member_is() {
        let r = rendered(3);
        let s = compute(None, 2, &Outcome::Applied(&r, &idle(), &ScaleStep::default()), "t0");
        assert_eq!(get(&s, READY).status, "True");
        assert_eq!(get(&s, PROGRESSING).status, "False");
        assert_eq!((s.replicas, s.ready_replicas), (4, 4));
        assert_eq!(s.observed_generation, Some(2));
        assert_eq!(s.current_version.as_deref(), Some("0.9.0"));
        assert_eq!(s.members.ready.len(), 4);
    }

    #[test]
    fn an_unchanged_cluster_yields_an_identical_status() {
        let r = rendered(2);
        let first = compute(None, 1, &Outcome::Applied(&r, &idle(), &ScaleStep::default()), "t0");
        let second = compute(Some(&first), 1, &Outcome::Applied(&r, &idle(), &ScaleStep::default()), "t1");
        assert_eq!(first, second);
        assert!(transitions(Some(&first), &second).is_empty());
        assert_eq!(get(&first, READY).message.as_deref(), Some("ready: bookie 2/3"));
    }

    #[test]
    fn ready_only_when_the_ready_condition_is_true() {
        assert!(!is_ready(None));
        let waiting = compute(None, 1, &Outcome::Applied(&rendered(2), &idle(), &ScaleStep::default()), "t0");
        assert!(!is_ready(Some(&waiting)));
        let ready = compute(None, 1, &Outcome::Applied(&rendered(3), &idle(), &ScaleStep::default()), "t0");
        assert!(is_ready(Some(&ready)));
        // A fault keeps the last known Ready condition: still Ready.
        let fault = compute(Some(&ready), 2, &Outcome::PluginFault("trapped".into()), "t1");
        assert!(is_ready(Some(&fault)));
    }

    #[test]
    fn transitions_are_stamped_and_reported() {
        let first = compute(None, 1, &Outcome::Applied(&rendered(2), &idle(), &ScaleStep::default()), "t0");
        let ready = rendered(3);
        let second = compute(Some(&first), 1, &Outcome::Applied(&ready, &idle(), &ScaleStep::default()), "t1");
        assert_eq!(get(&second, READY).last_transition_time.as_deref(), Some("t1"));
        assert_eq!(get(&second, SPEC_VALID).last_transition_time.as_deref(), Some("t0"));
        let changed: Vec<&str> = transitions(Some(&first), &second).iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(changed, [READY, PROGRESSING]);
    }

    #[test]
    fn invalid_specs_and_faults_keep_the_last_known_members() {
        let good = compute(None, 1, &Outcome::Applied(&rendered(3), &idle(), &ScaleStep::default()), "t0");
        let errors = [FieldError::new("spec.bookkeeper.replicas", "must be at least 3")];
        let bad = compute(Some(&good), 2, &Outcome::Invalid(&errors), "t1");
        assert_eq!(get(&bad, SPEC_VALID).status, "False");
        assert_eq!(get(&bad, SPEC_VALID).message.as_deref(), Some("spec.bookkeeper.replicas: must be at least 3"));
        assert_eq!(get(&bad, DEGRADED).status, "True");
        assert_eq!(get(&bad, READY).status, "True");
        assert_eq!(bad.ready_replicas, 4);
        let fault = compute(Some(&good), 1, &Outcome::PluginFault("plugin node (reconcile) trapped".into()), "t1");
        assert_eq!(get(&fault, DEGRADED).reason.as_deref(), Some("PluginFault"));
        assert_eq!(get(&fault, SPEC_VALID).status, "True");
    }
}
