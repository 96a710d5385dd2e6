//! The state machine driven through whole upgrades against simulated workloads: each step applies
//! what the host would (render the versions, delete the chosen pod) and what the workload
//! controllers would (recreate the pod on the current template).

use super::*;
use ecs_plugin_sdk::spec::{ECSClusterSpec, ECSClusterStatus, UpgradePhase};
use k8s_openapi::jiff::{Timestamp, ToSpan};
use serde_json::json;
use std::collections::BTreeMap;

fn spec(version: &str, auto_rollback: bool) -> ECSClusterSpec {
    serde_json::from_value(json!({
        "version": version,
        "ecs": {"tier2": {"filesystem": {"persistentVolumeClaim": {"claimName": "t2"}}}},
        "upgrade": {"autoRollback": auto_rollback, "podReadyTimeoutSeconds": 600}
    }))
    .unwrap()
}

/// Versions whose pods never become Ready, and why.
fn broken(version: &str) -> Option<(String, String)> {
    version.ends_with("-broken").then(|| ("ImagePullBackOff".to_string(), "Back-off pulling image".to_string()))
}

#[derive(Clone)]
struct Pod {
    version: String,
    uid: u32,
    ready: bool,
}

/// Three StatefulSet-like components (bookkeeper 3, node 2) and a Deployment (controller 1).
struct World {
    /// Per component: the version its workload's template carries, and its pods by ordinal.
    components: BTreeMap<&'static str, (String, Vec<Pod>)>,
    status: Option<ECSClusterStatus>,
    now: Timestamp,
    next_uid: u32,
    /// Every (pod, uid) deleted, in order.
    restarted: Vec<(String, u32)>,
    events: Vec<String>,
}

impl World {
    fn new(version: &str) -> World {
        let mut w = World {
            components: BTreeMap::new(),
            status: None,
            now: "2026-12-01T10:00:00Z".parse().unwrap(),
            next_uid: 0,
            restarted: vec![],
            events: vec![],
        };
        for (c, n) in [("bookkeeper", 3), ("node", 2), ("controller", 1)] {
            let pods = (0..n).map(|_| w.pod(version)).collect();
            w.components.insert(c, (version.to_string(), pods));
        }
        w
    }

    /// A cluster created on `version` and settled there.
    fn running(version: &str, auto_rollback: bool) -> World {
        let mut w = World::new(version);
        w.settle(&spec(version, auto_rollback));
        w
    }

    fn pod(&mut self, version: &str) -> Pod {
        self.next_uid += 1;
        Pod { version: version.into(), uid: self.next_uid, ready: broken(version).is_none() }
    }

    fn views(&self) -> BTreeMap<String, ComponentView> {
        self.components
            .iter()
            .map(|(c, (version, pods))| {
                let pods = pods
                    .iter()
                    .enumerate()
                    .map(|(i, p)| PodView {
                        name: format!("{c}-{i}"),
                        uid: p.uid.to_string(),
                        ordinal: Some(i as u32),
                        template_hash: Some(format!("h-{}", p.version)),
                        ready: p.ready,
                        terminating: false,
                        failure: if p.ready { None } else { broken(&p.version) },
                    })
                    .collect();
                let view = ComponentView {
                    component: c.to_string(),
                    workload: format!("StatefulSet/{c}"),
                    driver: if *c == "controller" { Driver::Workload } else { Driver::Host },
                    replicas: self.components[c].1.len() as u32,
                    settled: true,
                    version: Some(version.clone()),
                    hash: Some(format!("h-{version}")),
                    pods,
                };
                (c.to_string(), view)
            })
            .collect()
    }

    /// One reconcile: advance, "apply" the versions, restart at most one pod. Returns the step.
    fn reconcile(&mut self, spec: &ECSClusterSpec) -> machine::Step {
        let step = advance(self.status.as_ref(), spec, &self.views(), self.now);
        for (c, (version, _)) in self.components.iter_mut() {
            *version = step.versions.get(c).to_string();
        }
        let views = self.views();
        let hashes = views.iter().map(|(c, v)| (c.clone(), v.hash.clone().unwrap())).collect();
        if let Some(restart) = restarts(&step, &views, &hashes) {
            let (c, ordinal) = restart.pod.rsplit_once('-').unwrap();
            let version = self.components[c].0.clone();
            let fresh = self.pod(&version);
            let pods = &mut self.components.get_mut(c).unwrap().1;
            let i: usize = ordinal.parse().unwrap();
            assert_eq!(pods[i].uid.to_string(), restart.uid);
            self.restarted.push((restart.pod.clone(), pods[i].uid));
            pods[i] = fresh;
        }
        // The Deployment replaces its one pod itself.
        let (version, pods) = self.components.get("controller").unwrap().clone();
        if pods[0].version != version && step.upgrade.as_ref().map(|u| u.phase) != Some(UpgradePhase::Failed) {
            let fresh = self.pod(&version);
            self.components.get_mut("controller").unwrap().1[0] = fresh;
        }
        self.events.extend(step.events.iter().map(|e| format!("{}: {}", e.reason, e.message)));
        let mut status = self.status.clone().unwrap_or_default();
        status.versions = Some(step.versions.clone().into());
        status.current_version = step.current_version.clone();
        status.previous_version = step.previous_version.clone();
        status.version_history = step.history.clone();
        status.upgrade = step.upgrade.clone();
        self.status = Some(status);
        self.now = self.now.checked_add(1.second()).unwrap();
        step
    }

    /// Reconciles until nothing changes any more (bounded).
    fn settle(&mut self, spec: &ECSClusterSpec) -> machine::Step {
        let mut last = self.reconcile(spec);
        for _ in 0..100 {
            let before = (self.status.clone(), self.restarted.len());
            let step = self.reconcile(spec);
            if (self.status.clone(), self.restarted.len()) == before {
                return step;
            }
            last = step;
        }
        panic!("did not settle: {:?}", last.upgrade);
    }

    fn versions(&self, c: &str) -> Vec<String> {
        self.components[c].1.iter().map(|p| p.version.clone()).collect()
    }
}

#[test]
fn a_new_cluster_records_its_first_version_once_converged() {
    let mut w = World::new("0.4.0");
    let step = w.settle(&spec("0.4.0", false));
    assert_eq!(step.history, ["0.4.0"]);
    assert_eq!(step.current_version.as_deref(), Some("0.4.0"));
    assert!(step.upgrade.is_none() && step.previous_version.is_none());
    assert!(w.restarted.is_empty(), "creating restarts nothing");
}

#[test]
fn an_upgrade_goes_component_by_component_one_pod_at_a_time_highest_ordinal_first() {
    let mut w = World::running("0.4.0", false);
    let target = spec("0.5.0", false);
    let first = w.reconcile(&target);
    let u = first.upgrade.clone().unwrap();
    assert_eq!((u.phase, u.from_version.as_str(), u.to_version.as_str()), (UpgradePhase::Upgrading, "0.4.0", "0.5.0"));
    assert_eq!(first.versions.bookkeeper, "0.5.0");
    assert_eq!((first.versions.node.as_str(), first.versions.controller.as_str()), ("0.4.0", "0.4.0"));
    let step = w.settle(&target);
    let order: Vec<&str> = w.restarted.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(order, ["bookkeeper-2", "bookkeeper-1", "bookkeeper-0", "node-1", "node-0"]);
    assert!(step.upgrade.is_none());
    assert_eq!(step.history, ["0.4.0", "0.5.0"]);
    assert_eq!(step.previous_version.as_deref(), Some("0.4.0"));
    assert_eq!(w.versions("controller"), ["0.5.0"]);
    assert!(w.events.iter().any(|e| e.starts_with("UpgradeStarted: upgrading 0.4.0 -> 0.5.0")));
    assert!(w.events.iter().any(|e| e == "UpgradeCompleted: upgraded 0.4.0 -> 0.5.0"));
    let uids: std::collections::BTreeSet<_> = w.restarted.iter().map(|(_, uid)| uid).collect();
    assert_eq!(uids.len(), w.restarted.len(), "no pod is restarted twice");
}

#[test]
fn nothing_is_deleted_while_a_replaced_pod_is_not_ready() {
    let mut w = World::running("0.4.0", false);
    let target = spec("0.5.0", false);
    w.reconcile(&target);
    assert_eq!(w.restarted.len(), 1);
    // The new bookkeeper-2 is slow to become Ready.
    w.components.get_mut("bookkeeper").unwrap().1[2].ready = false;
    for _ in 0..5 {
        let step = w.reconcile(&target);
        assert_eq!(step.upgrade.as_ref().unwrap().progress.as_deref(), Some("bookkeeper 0/3"));
    }
    assert_eq!(w.restarted.len(), 1, "readiness gates the next pod");
    w.components.get_mut("bookkeeper").unwrap().1[2].ready = true;
    w.reconcile(&target);
    assert_eq!(w.restarted.len(), 2);
}

#[test]
fn a_failing_pod_stops_the_upgrade_at_once_and_a_rollback_restores_only_what_moved() {
    let mut w = World::running("0.4.0", false);
    let bad = spec("0.5.0-broken", false);
    let step = w.settle(&bad);
    let u = step.upgrade.clone().unwrap();
    assert_eq!(u.phase, UpgradePhase::Failed);
    let failure = u.failure.unwrap();
    assert_eq!((failure.pod.as_str(), failure.reason.as_str()), ("bookkeeper-2", "ImagePullBackOff"));
    assert_eq!(w.restarted.len(), 1, "no further pod is touched");
    assert!(w.events.iter().any(|e| {
        e.starts_with("UpgradeFailed: upgrade 0.4.0 -> 0.5.0-broken stopped at pod bookkeeper-2: ImagePullBackOff")
    }));
    assert_eq!(step.previous_version.as_deref(), Some("0.4.0"));
    // Still failed, and still nothing touched, on later reconciles.
    for _ in 0..3 {
        assert_eq!(w.reconcile(&bad).upgrade.unwrap().phase, UpgradePhase::Failed);
    }
    assert_eq!(w.restarted.len(), 1);

    let back = spec("0.4.0", false);
    let first = w.reconcile(&back);
    assert_eq!(first.upgrade.as_ref().unwrap().phase, UpgradePhase::RollingBack);
    let step = w.settle(&back);
    assert!(step.upgrade.is_none());
    let restarted: Vec<&str> = w.restarted.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(restarted, ["bookkeeper-2", "bookkeeper-2"], "only the pod that moved goes back");
    assert_eq!(w.versions("bookkeeper"), ["0.4.0"; 3]);
    assert_eq!(step.history, ["0.4.0"], "the failed version was never completed");
}

#[test]
fn auto_rollback_returns_to_the_previous_version_and_holds_there() {
    let mut w = World::running("0.4.0", true);
    let bad = spec("0.5.0-broken", true);
    let step = w.settle(&bad);
    let u = step.upgrade.clone().unwrap();
    assert_eq!(u.phase, UpgradePhase::RolledBack);
    assert_eq!(u.failure.unwrap().reason, "ImagePullBackOff");
    assert_eq!(w.versions("bookkeeper"), ["0.4.0"; 3]);
    assert_eq!(step.versions.bookkeeper, "0.4.0");
    assert_eq!(step.current_version.as_deref(), Some("0.4.0"));
    let n = w.restarted.len();
    for _ in 0..3 {
        assert_eq!(w.reconcile(&bad).upgrade.unwrap().phase, UpgradePhase::RolledBack);
    }
    assert_eq!(w.restarted.len(), n, "holds: the failed version is not tried again");
    // A fixed version upgrades again.
    let step = w.settle(&spec("0.5.1", true));
    assert!(step.upgrade.is_none());
    assert_eq!(step.history, ["0.4.0", "0.5.1"]);
}

#[test]
fn a_pod_not_ready_within_the_timeout_fails_the_upgrade() {
    let mut w = World::running("0.4.0", false);
    let target = spec("0.5.0", false);
    w.reconcile(&target);
    w.reconcile(&target);
    w.components.get_mut("bookkeeper").unwrap().1[2].ready = false;
    let step = w.reconcile(&target);
    assert!(step.recheck_after.is_some_and(|d| d.as_secs() <= 601));
    w.now = w.now.checked_add(601.seconds()).unwrap();
    let step = w.reconcile(&target);
    let failure = step.upgrade.unwrap().failure.unwrap();
    assert_eq!((failure.pod.as_str(), failure.reason.as_str()), ("bookkeeper-2", "ReadyTimeout"));
}

#[test]
fn a_completed_upgrade_can_be_rolled_back_in_reverse_order() {
    let mut w = World::running("0.4.0", false);
    w.settle(&spec("0.5.0", false));
    w.restarted.clear();
    let step = w.settle(&spec("0.4.0", false));
    let order: Vec<&str> = w.restarted.iter().map(|(p, _)| p.as_str()).collect();
    // The controller (a Deployment) goes first by itself, then the nodes, then the bookies.
    assert_eq!(order, ["node-1", "node-0", "bookkeeper-2", "bookkeeper-1", "bookkeeper-0"]);
    assert_eq!(step.history, ["0.4.0", "0.5.0", "0.4.0"]);
    assert!(w.events.iter().any(|e| e == "RollbackCompleted: rolled back 0.5.0 -> 0.4.0"));
}

#[test]
fn a_restarted_operator_carries_on_from_the_status_without_repeating_a_restart() {
    let mut w = World::running("0.4.0", false);
    let target = spec("0.5.0", false);
    w.reconcile(&target);
    w.reconcile(&target);
    // The operator died after deleting a pod and before writing status: the next one starts from
    // the older status and the pods as they are.
    let saved = w.status.clone();
    w.reconcile(&target);
    w.status = saved;
    w.settle(&target);
    let uids: std::collections::BTreeSet<_> = w.restarted.iter().map(|(_, uid)| uid).collect();
    assert_eq!(uids.len(), w.restarted.len());
    assert_eq!(w.restarted.len(), 5);
}

#[test]
fn a_template_change_without_a_version_change_rolls_one_pod_at_a_time_and_stalls_on_a_failure() {
    let mut w = World::new("0.4.0");
    let s = spec("0.4.0", false);
    w.settle(&s);
    // Options changed: the node workload has a new template; its pods are outdated.
    let views = {
        let mut v = w.views();
        let node = v.get_mut("node").unwrap();
        node.hash = Some("h-new".into());
        v
    };
    let step = advance(w.status.as_ref(), &s, &views, w.now);
    let hashes = views.iter().map(|(c, v)| (c.clone(), v.hash.clone().unwrap())).collect();
    let restart = restarts(&step, &views, &hashes).unwrap();
    assert_eq!((restart.pod.as_str(), restart.reason.as_str()), ("node-1", "node pod template changed"));
    // The replaced pod crash-loops: the roll stalls and says why.
    let mut views = views;
    let node = views.get_mut("node").unwrap();
    node.pods[1].template_hash = Some("h-new".into());
    node.pods[1].ready = false;
    node.pods[1].failure = Some(("CrashLoopBackOff".into(), "back-off 10s".into()));
    let step = advance(w.status.as_ref(), &s, &views, w.now);
    assert_eq!(step.stalled.as_ref().map(|f| f.pod.as_str()), Some("node-1"));
    assert!(restarts(&step, &views, &hashes).is_none(), "no further pod while the replaced one fails");
}

#[test]
fn restarts_wait_for_the_workload_to_take_the_template_and_for_terminating_pods() {
    let w = World::running("0.4.0", false);
    let mut views = w.views();
    views.get_mut("bookkeeper").unwrap().hash = Some("h-next".into());
    let step = advance(w.status.as_ref(), &spec("0.4.0", false), &views, w.now);
    let mut hashes: BTreeMap<String, String> =
        views.iter().map(|(c, v)| (c.clone(), v.hash.clone().unwrap())).collect();
    assert!(restarts(&step, &views, &hashes).is_some());
    hashes.insert("bookkeeper".into(), "h-later".into());
    assert!(restarts(&step, &views, &hashes).is_none(), "the workload has not taken the applied template yet");
    hashes.insert("bookkeeper".into(), "h-next".into());
    views.get_mut("bookkeeper").unwrap().settled = false;
    assert!(restarts(&step, &views, &hashes).is_none(), "the StatefulSet controller has not seen it yet");
    views.get_mut("bookkeeper").unwrap().settled = true;
    views.get_mut("bookkeeper").unwrap().pods[0].terminating = true;
    assert!(restarts(&step, &views, &hashes).is_none(), "a pod is on its way out");
}

#[test]
fn views_are_read_from_workloads_and_pods() {
    let observed = vec![
        json!({"kind": "StatefulSet", "metadata": {"name": "ecs-bookie", "generation": 3, "labels": {"component": "bookie"}},
            "spec": {"replicas": 2, "template": {"metadata": {"annotations": {VERSION_ANNOTATION: "0.5.0", TEMPLATE_HASH_ANNOTATION: "abc"}}}},
            "status": {"observedGeneration": 3}}),
        json!({"kind": "Pod", "metadata": {"name": "ecs-bookie-1", "uid": "u1", "labels": {"component": "bookie"},
            "annotations": {TEMPLATE_HASH_ANNOTATION: "abc"}},
            "status": {"conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}}]}}),
        json!({"kind": "Pod", "metadata": {"name": "ecs-bookie-0", "uid": "u0", "labels": {"component": "bookie"},
            "annotations": {TEMPLATE_HASH_ANNOTATION: "old"}, "deletionTimestamp": "2026-12-01T10:00:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
    ];
    let views = view::components(&observed, &BTreeMap::from([("bookie".to_string(), "bookkeeper".to_string())]));
    let v = &views["bookkeeper"];
    assert_eq!((v.replicas, v.settled, v.version.as_deref(), v.driver), (2, true, Some("0.5.0"), Driver::Host));
    assert_eq!(v.pods[0].name, "ecs-bookie-0");
    assert!(v.pods[0].terminating && v.pods[0].ready && !v.is_updated(&v.pods[0]));
    assert_eq!(v.pods[1].ordinal, Some(1));
    assert_eq!(v.failing().map(|p| p.name.as_str()), Some("ecs-bookie-1"));
    assert!(!v.converged());
}

#[test]
fn a_stopped_upgrade_carries_on_once_the_failed_pod_is_ready_after_all() {
    let mut w = World::running("0.4.0", false);
    let bad = spec("0.5.0-broken", false);
    let step = w.settle(&bad);
    assert_eq!(step.upgrade.unwrap().phase, UpgradePhase::Failed);
    // The image was pushed after all: the kubelet's next pull succeeds.
    w.components.get_mut("bookkeeper").unwrap().1[2].ready = true;
    let step = w.reconcile(&bad);
    assert_eq!(step.upgrade.as_ref().unwrap().phase, UpgradePhase::Upgrading);
    assert!(step.events.iter().any(|e| e.reason == "UpgradeResumed"), "{:?}", step.events);
    // Pods created from now on pull fine too.
    for pod in w.components.values_mut().flat_map(|(_, pods)| pods.iter_mut()) {
        pod.ready = true;
    }
    let step = settle_healthy(&mut w, &bad);
    assert!(step.upgrade.is_none());
    assert_eq!(step.history, ["0.4.0", "0.5.0-broken"]);
}

/// [`World::settle`] where new pods become Ready whatever their version (the registry was fixed).
fn settle_healthy(w: &mut World, spec: &ECSClusterSpec) -> machine::Step {
    for _ in 0..100 {
        let step = w.reconcile(spec);
        for pod in w.components.values_mut().flat_map(|(_, pods)| pods.iter_mut()) {
            pod.ready = true;
        }
        if step.upgrade.is_none() && w.views().values().all(ComponentView::converged) {
            return step;
        }
    }
    panic!("did not settle");
}
