//! Rolling upgrades against the local control plane (`make integration`): the order and the
//! one-pod-at-a-time rule are read from a pod watch (every event the API server sent), failures
//! come from kwok Stages that make pods of a `-broken` image fail to pull and of a `-crash` image
//! crash-loop (tests/cluster/kwok-stages.yaml), and the operator runs as its service account.
//!
//!   cargo test -p ecs-operator --test upgrade -- --ignored --test-threads=1

mod common;

use common::live::*;
use common::{kubeconfig, wait_for};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Long enough for nine pods to be replaced one by one on a loaded machine.
const UPGRADE: Duration = Duration::from_secs(180);

/// The seed's example with `spec.version` set (and `extra` spec lines).
fn versioned_example(name: &str, version: &str, extra: &str) -> String {
    seed_example(name).replacen("spec:\n", &format!("spec:\n  version: {version}\n{extra}"), 1)
}

/// One event of a pod watch, reduced to what the assertions need.
#[derive(Clone, Debug)]
struct PodEvent {
    kind: String,
    name: String,
    uid: String,
    component: String,
    version: String,
    ready: bool,
    terminating: bool,
}

/// `kubectl get pods --watch` in the background, collecting every event.
struct PodWatch {
    child: Child,
    events: Arc<Mutex<Vec<PodEvent>>>,
}

impl PodWatch {
    fn start(ns: &Namespace, cluster: &str) -> PodWatch {
        let mut child = Command::new(common::var("ECS_TEST_KUBECTL"))
            .arg("--kubeconfig")
            .arg(kubeconfig())
            .args(["-n", &ns.name, "get", "pods", "-l", &format!("ecs_cluster={cluster}")])
            .args(["--watch", "--output-watch-events", "-o", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        std::thread::spawn(move || {
            for event in serde_json::Deserializer::from_reader(stdout).into_iter::<Value>() {
                let Ok(event) = event else { break };
                let pod = &event["object"];
                let s = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
                let image = s("/spec/containers/0/image");
                let conditions =
                    pod.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
                sink.lock().unwrap().push(PodEvent {
                    kind: event["type"].as_str().unwrap_or_default().to_string(),
                    name: s("/metadata/name"),
                    uid: s("/metadata/uid"),
                    component: s("/metadata/labels/component"),
                    version: image.rsplit_once(':').map(|(_, tag)| tag.to_string()).unwrap_or_default(),
                    ready: conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"),
                    terminating: pod.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()),
                });
            }
        });
        PodWatch { child, events }
    }

    fn events(&self) -> Vec<PodEvent> {
        self.events.lock().unwrap().clone()
    }
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The UIDs each pod name had, in order of appearance.
fn incarnations(events: &[PodEvent]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in events {
        let uids = out.entry(e.name.clone()).or_default();
        if !uids.contains(&e.uid) {
            uids.push(e.uid.clone());
        }
    }
    out
}

/// The operator deleted each of `pods` exactly once since `since` (from the audit log: kwok's own
/// deletes of terminating pods, by name and without a uid precondition, can hit a pod's next
/// incarnation, which a real kubelet never does, so the watch alone cannot tell).
fn assert_restarted_once(ns: &Namespace, since: &str, pods: &[&str]) {
    let deletes: Vec<String> =
        writes_by(&ns.user(), since).into_iter().filter(|w| w.starts_with("delete pods/")).collect();
    for pod in pods {
        let n = deletes.iter().filter(|d| d.as_str() == format!("delete pods/{pod}")).count();
        assert_eq!(n, 1, "the operator deleted {pod} {n} times: {deletes:?}");
    }
    assert_eq!(deletes.len(), pods.len(), "{deletes:?}");
}

/// The first moment (event index) a pod of `component` appeared on `version`.
fn first_on(events: &[PodEvent], component: &str, version: &str) -> usize {
    events
        .iter()
        .position(|e| e.component == component && e.version == version)
        .unwrap_or_else(|| panic!("no {component} pod ever ran {version}"))
}

/// The last moment a pod of `component` was seen on `version` (alive).
fn last_on(events: &[PodEvent], component: &str, version: &str) -> usize {
    events
        .iter()
        .rposition(|e| e.component == component && e.version == version && e.kind != "DELETED" && !e.terminating)
        .unwrap_or_else(|| panic!("no {component} pod ran {version}"))
}

/// The most pods of `component` that were unavailable (not Ready, terminating, or missing from
/// `replicas`) at any one moment of the watch.
fn most_unavailable(events: &[PodEvent], component: &str, replicas: usize) -> usize {
    let mut pods: BTreeMap<String, PodEvent> = BTreeMap::new();
    let mut worst = 0;
    // The watch starts with one ADDED event per existing pod: count from when all were listed.
    let mut listed = false;
    for e in events.iter().filter(|e| e.component == component) {
        if e.kind == "DELETED" {
            pods.remove(&e.name);
        } else {
            pods.insert(e.name.clone(), e.clone());
        }
        listed |= pods.len() >= replicas;
        let available = pods.values().filter(|p| p.ready && !p.terminating).count();
        if listed {
            worst = worst.max(replicas.saturating_sub(available));
        }
    }
    worst
}

/// A namespace with the operator running, and cluster `ecs` (the seed's example with `extra` spec
/// lines) created on 0.4.0 and settled there.
fn cluster_on_0_4_0(namespace: &str, extra: &str) -> (Namespace, Operator) {
    let ns = Namespace::new(namespace);
    let op = Operator::start(&ns, "a", &[]);
    ns.apply(&tier2_claim("ecs"));
    ns.apply(&versioned_example("ecs", "0.4.0", extra));
    wait_upgraded(&ns, "ecs", "0.4.0");
    (ns, op)
}

/// A pod watch on cluster `ecs` that has listed its seven pods.
fn watch_pods(ns: &Namespace) -> PodWatch {
    let watch = PodWatch::start(ns, "ecs");
    wait_for("the pod watch to list the pods", Duration::from_secs(30), || (watch.events().len() >= 7).then_some(()));
    watch
}

fn status(ns: &Namespace, cluster: &str) -> Value {
    ns.get("ecscluster", cluster).map(|cr| cr["status"].clone()).unwrap_or(Value::Null)
}

/// Waits until the cluster runs `version` everywhere with no upgrade in progress, and is Ready.
fn wait_upgraded(ns: &Namespace, cluster: &str, version: &str) -> Value {
    wait_for(&format!("{cluster} to run {version}"), UPGRADE, || {
        let s = status(ns, cluster);
        let ready = s["conditions"].as_array()?.iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
        (s["currentVersion"] == version && s.get("upgrade").is_none() && ready).then_some(s)
    })
}

fn event_reasons(ns: &Namespace) -> String {
    ns.events()
}

fn pod_uids(ns: &Namespace, cluster: &str) -> BTreeMap<String, (String, String)> {
    let out = common::kubectl(&["-n", &ns.name, "get", "pods", "-l", &format!("ecs_cluster={cluster}"), "-o", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).unwrap_or_default().to_string();
            let image = s("/spec/containers/0/image");
            (
                s("/metadata/name"),
                (s("/metadata/uid"), image.rsplit_once(':').map(|(_, t)| t.to_string()).unwrap_or_default()),
            )
        })
        .collect()
}

fn sts_pods(uids: &BTreeMap<String, (String, String)>) -> BTreeMap<String, (String, String)> {
    uids.iter().filter(|(n, _)| !n.contains("controller")).map(|(n, v)| (n.clone(), v.clone())).collect()
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn an_upgrade_rolls_bookies_then_nodes_then_the_controller_one_pod_at_a_time() {
    let (ns, _op) = cluster_on_0_4_0("it-upgrade", "");
    let before = status(&ns, "ecs");
    assert_eq!(before["versionHistory"], serde_json::json!(["0.4.0"]));
    let watch = watch_pods(&ns);

    let since = now_rfc3339();
    ns.patch("ecscluster", "ecs", r#"{"spec":{"version":"0.5.0"}}"#);
    // Mid-upgrade the status names the component and its progress.
    let during = wait_for("the Upgrading condition", UPGRADE, || {
        let s = status(&ns, "ecs");
        let c = s["conditions"].as_array()?.iter().find(|c| c["type"] == "Upgrading" && c["status"] == "True")?.clone();
        Some((s, c))
    });
    assert_eq!(during.0["targetVersion"], "0.5.0");
    assert_eq!(during.0["currentVersion"], "0.4.0");
    assert!(during.1["message"].as_str().unwrap().contains("(0.4.0 -> 0.5.0)"), "{}", during.1);
    let after = wait_upgraded(&ns, "ecs", "0.5.0");
    assert_eq!(after["versionHistory"], serde_json::json!(["0.4.0", "0.5.0"]));
    assert_eq!(after["previousVersion"], "0.4.0");
    // The last controller pod event may trail the status; wait for it in the watch.
    wait_for("the controller pod on 0.5.0 in the watch", Duration::from_secs(30), || {
        watch.events().iter().any(|e| e.component == "ecs-controller" && e.version == "0.5.0" && e.ready).then_some(())
    });
    let events = watch.events();

    // Order: every bookie left 0.4.0 before the first node pod ran 0.5.0, and every node before the
    // controller.
    assert!(last_on(&events, "bookie", "0.4.0") < first_on(&events, "ecs-node", "0.5.0"), "bookies first");
    assert!(last_on(&events, "ecs-node", "0.4.0") < first_on(&events, "ecs-controller", "0.5.0"), "then the nodes");
    // One pod at a time, each replaced once.
    for (component, replicas) in [("bookie", 3), ("ecs-node", 3), ("ecs-controller", 1)] {
        assert!(most_unavailable(&events, component, replicas) <= 1, "{component}: more than one pod down at once");
    }
    assert_restarted_once(
        &ns,
        &since,
        &["ecs-bookie-0", "ecs-bookie-1", "ecs-bookie-2", "ecs-ecs-node-0", "ecs-ecs-node-1", "ecs-ecs-node-2"],
    );
    let reasons = event_reasons(&ns);
    for reason in ["UpgradeStarted", "PodRestarted", "UpgradeCompleted"] {
        assert!(reasons.contains(reason), "no {reason} Event:\n{reasons}");
    }
    assert_eq!(reasons.matches("PodRestarted").count(), 6, "{reasons}");
    let columns = common::kubectl(&["-n", &ns.name, "get", "ecsclusters"]);
    assert!(columns.contains("DESIRED VERSION") && columns.contains("0.5.0"), "{columns}");
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn a_failed_upgrade_stops_after_one_pod_and_a_rollback_restores_only_that_pod() {
    let (ns, _op) = cluster_on_0_4_0("it-upgrade-fail", "");
    let before = pod_uids(&ns, "ecs");

    ns.patch("ecscluster", "ecs", r#"{"spec":{"version":"0.5.0-broken"}}"#);
    let failed = wait_for("UpgradeFailed", UPGRADE, || {
        let c = ns.condition("ecs", "UpgradeFailed")?;
        (c["status"] == "True").then_some(c)
    });
    assert_eq!(failed["reason"], "ImagePullBackOff");
    assert!(failed["message"].as_str().unwrap().contains("ecs-bookie-2"), "{failed}");
    let s = status(&ns, "ecs");
    assert_eq!(s["upgrade"]["phase"], "Failed");
    assert_eq!(s["upgrade"]["failure"]["pod"], "ecs-bookie-2");
    let reasons = event_reasons(&ns);
    assert!(reasons.contains("UpgradeFailed") && reasons.contains("Warning"), "{reasons}");
    // Only ecs-bookie-2 moved; every other pod is the one from before.
    let stopped = pod_uids(&ns, "ecs");
    for (pod, (uid, _)) in &before {
        if pod != "ecs-bookie-2" {
            assert_eq!(stopped.get(pod).map(|p| &p.0), Some(uid), "{pod} was touched");
        }
    }
    assert_eq!(stopped["ecs-bookie-2"].1, "0.5.0-broken");

    // Back to the previous version: only the pod that moved restarts.
    ns.patch("ecscluster", "ecs", r#"{"spec":{"version":"0.4.0"}}"#);
    let after = wait_upgraded(&ns, "ecs", "0.4.0");
    assert_eq!(after["versionHistory"], serde_json::json!(["0.4.0"]));
    let ok = ns.condition("ecs", "UpgradeFailed").unwrap();
    assert_eq!(ok["status"], "False");
    let now = pod_uids(&ns, "ecs");
    for (pod, (uid, version)) in &before {
        assert_eq!(now[pod].1, *version, "{pod} runs its old version");
        if pod != "ecs-bookie-2" {
            assert_eq!(&now[pod].0, uid, "{pod} never left 0.4.0 and was not restarted");
        }
    }
    assert!(event_reasons(&ns).contains("RollbackCompleted"));
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn a_crash_looping_upgrade_rolls_back_by_itself_when_asked_to() {
    let (ns, _op) = cluster_on_0_4_0("it-upgrade-auto", "  upgrade:\n    autoRollback: true\n");
    let before = sts_pods(&pod_uids(&ns, "ecs"));

    ns.patch("ecscluster", "ecs", r#"{"spec":{"version":"0.5.0-crash"}}"#);
    let held = wait_for("the automatic rollback", UPGRADE, || {
        let s = status(&ns, "ecs");
        let ready = s["conditions"].as_array()?.iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
        (s["upgrade"]["phase"] == "RolledBack" && ready).then_some(s)
    });
    assert_eq!(held["upgrade"]["failure"]["reason"], "CrashLoopBackOff");
    assert_eq!(held["currentVersion"], "0.4.0");
    let failed = ns.condition("ecs", "UpgradeFailed").unwrap();
    assert_eq!(failed["status"], "True");
    let now = sts_pods(&pod_uids(&ns, "ecs"));
    for (pod, (uid, version)) in &before {
        assert_eq!(now[pod].1, *version);
        if pod != "ecs-bookie-2" {
            assert_eq!(&now[pod].0, uid, "{pod} was touched");
        }
    }
    let reasons = event_reasons(&ns);
    assert!(reasons.contains("RollbackStarted") && reasons.contains("RollbackCompleted"), "{reasons}");
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn an_operator_killed_mid_upgrade_resumes_without_restarting_a_pod_twice() {
    let (ns, op) = cluster_on_0_4_0("it-upgrade-kill", "");
    let watch = watch_pods(&ns);

    let since = now_rfc3339();
    ns.patch("ecscluster", "ecs", r#"{"spec":{"version":"0.5.0"}}"#);
    // Kill it (SIGKILL: no graceful shutdown) right after it deleted the first pod.
    wait_for("the first restart", UPGRADE, || {
        watch.events().iter().any(|e| e.name == "ecs-bookie-2" && (e.terminating || e.kind == "DELETED")).then_some(())
    });
    let mut op = op;
    op.child.kill().unwrap();
    op.child.wait().unwrap();
    drop(op);
    let _second = Operator::start(&ns, "b", &[]);
    wait_upgraded(&ns, "ecs", "0.5.0");
    wait_for("the controller pod on 0.5.0 in the watch", Duration::from_secs(30), || {
        watch.events().iter().any(|e| e.component == "ecs-controller" && e.version == "0.5.0" && e.ready).then_some(())
    });
    let events = watch.events();
    assert_restarted_once(
        &ns,
        &since,
        &["ecs-bookie-0", "ecs-bookie-1", "ecs-bookie-2", "ecs-ecs-node-0", "ecs-ecs-node-1", "ecs-ecs-node-2"],
    );
    for (component, replicas) in [("bookie", 3), ("ecs-node", 3)] {
        assert!(most_unavailable(&events, component, replicas) <= 1, "{component}: more than one pod down at once");
    }
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn an_options_edit_rolls_the_pods_one_at_a_time_without_an_upgrade() {
    let (ns, _op) = cluster_on_0_4_0("it-upgrade-options", "");
    let watch = watch_pods(&ns);
    let mark = audit_mark();
    ns.patch("ecscluster", "ecs", r#"{"spec":{"bookkeeper":{"options":{"journalMaxGroupWaitMSec":"2"}}}}"#);
    wait_for("every bookie replaced and Ready", UPGRADE, || {
        let events = watch.events();
        // At least one new incarnation each: kwok deletes pods by name, and now and then also the
        // replacement of a pod it was deleting (a third incarnation, not the operator's doing).
        let replaced =
            incarnations(&events).iter().filter(|(n, u)| n.starts_with("ecs-bookie-") && u.len() >= 2).count();
        let s = status(&ns, "ecs");
        let ready = s["conditions"].as_array()?.iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
        (replaced == 3 && ready).then_some(())
    });
    let events = watch.events();
    assert!(most_unavailable(&events, "bookie", 3) <= 1, "more than one bookie down at once");
    assert!(events.iter().all(|e| e.component == "bookie" || e.kind != "DELETED"), "only bookies restarted");
    let mut deleted = pod_deletes(&ns, mark);
    deleted.sort();
    assert_eq!(
        deleted,
        ["ecs-bookie-0", "ecs-bookie-1", "ecs-bookie-2"],
        "the operator restarted each bookie once, nothing else"
    );
    let upgrading = ns.condition("ecs", "Upgrading").unwrap();
    assert_eq!(upgrading["status"], "False");
}

/// `ecs-operator record` of the cluster into `dir`; returns the replayed rollout decision (the
/// `rollout` document of the status golden `record` writes).
fn record(ns: &Namespace, dir: &std::path::Path) -> Value {
    let _ = std::fs::remove_dir_all(dir);
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-operator"))
        .args(["record", "--name", "ecs", "--namespace", &ns.name, "--kubeconfig"])
        .arg(kubeconfig())
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let replay = Command::new(env!("CARGO_BIN_EXE_ecs-operator")).arg("test").arg(dir).output().unwrap();
    assert!(replay.status.success(), "the recorded case replays offline: {}", String::from_utf8_lossy(&replay.stdout));
    let golden = std::fs::read_to_string(dir.join("expected-status.yaml")).unwrap();
    let rollout = serde_yaml::Deserializer::from_str(&golden)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .find_map(|d: Value| d.get("rollout").cloned());
    rollout.unwrap_or_else(|| panic!("no rollout decision in the golden:\n{golden}"))
}

/// The pods named by the `PodRestarted` Events the operator `identity` published, oldest first.
fn restarts_by(ns: &Namespace, identity: &str) -> Vec<String> {
    let out = common::kubectl(&["-n", &ns.name, "get", "events.events.k8s.io", "-o", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    let mut restarts: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "PodRestarted" && e["reportingInstance"] == identity)
        .filter_map(|e| {
            let note = e["note"].as_str()?;
            let pod = note.strip_prefix("restarted pod ")?.split(':').next()?.to_string();
            Some((e["eventTime"].as_str().unwrap_or_default().to_string(), pod))
        })
        .collect();
    restarts.sort();
    restarts.into_iter().map(|(_, pod)| pod).collect()
}

/// Every pod Ready and none terminating (the simulated kubelet has caught up).
fn pods_settled(ns: &Namespace) -> bool {
    let out = common::kubectl(&["-n", &ns.name, "get", "pods", "-l", "ecs_cluster=ecs", "-o", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    let pods = list["items"].as_array().unwrap();
    pods.len() == 7
        && pods.iter().all(|p| {
            p.pointer("/metadata/deletionTimestamp").is_none()
                && p["status"]["conditions"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
}

/// Freezes (SIGSTOP) or thaws (SIGCONT) the operator: frozen, it decides nothing, so the cluster
/// can be recorded between two of its steps.
fn signal(op: &Operator, signal: &str) {
    let status = Command::new("kill").args([signal, &op.child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn an_upgrade_recorded_step_by_step_replays_offline_and_predicts_each_next_restart() {
    let (ns, op) = cluster_on_0_4_0("it-upgrade-record", "");
    signal(&op, "-STOP");
    let since = audit_mark();
    ns.patch("ecscluster", "ecs", r#"{"spec":{"version":"0.5.0"}}"#);
    // Kept for the checked-in sequence under tests/cases when ECS_TEST_KEEP_RECORDINGS names a folder.
    let keep = std::env::var("ECS_TEST_KEEP_RECORDINGS").ok().map(std::path::PathBuf::from);
    let dir = |step: usize| keep.clone().unwrap_or_else(|| ns.dir.clone()).join(format!("upgrade-step-{step}"));
    // Nothing moved yet. The replay starts the upgrade: bookkeeper gets the new version, and no pod
    // restarts before its StatefulSet holds the new template.
    let mut predicted = record(&ns, &dir(0));
    assert_eq!(predicted["upgrade"]["phase"], "Upgrading", "{predicted}");
    assert_eq!(predicted["versions"]["bookkeeper"], "0.5.0", "{predicted}");
    assert_eq!(predicted["versions"]["node"], "0.4.0", "{predicted}");
    assert!(predicted["restart"].is_null(), "{predicted}");
    let mut seen = 0;
    let mut step = 0;
    loop {
        step += 1;
        assert!(step <= 8, "the upgrade did not reach the controller in 8 steps");
        // No predicted restart: the next act is applying the component's template (the replay
        // shows its new version), then restarting its highest ordinal; the controller's
        // Deployment replaces its pod itself.
        let expected = match (predicted["restart"]["pod"].as_str(), predicted["upgrade"]["component"].as_str()) {
            (Some(pod), _) => pod.to_string(),
            (None, Some("bookkeeper")) => "ecs-bookie-2".to_string(),
            (None, Some("node")) => "ecs-ecs-node-2".to_string(),
            (None, _) => break,
        };
        signal(&op, "-CONT");
        // The operator's next pod deletion (in the API server's audit log, which records it as it
        // happens, unlike an Event published after it) must be the predicted one. It may do more
        // before it is frozen again: the next recording sees that.
        let restarts = wait_for("the next restart", UPGRADE, || {
            let restarts = pod_deletes(&ns, since);
            (restarts.len() > seen).then_some(restarts)
        });
        signal(&op, "-STOP");
        assert_eq!(restarts[seen], expected, "step {step}: the live operator restarted another pod");
        seen = pod_deletes(&ns, since).len();
        wait_for("the pods to settle", Duration::from_secs(60), || pods_settled(&ns).then_some(()));
        predicted = record(&ns, &dir(step));
    }
    assert_eq!(predicted["versions"]["controller"], "0.5.0", "{predicted}");
    signal(&op, "-CONT");
    wait_upgraded(&ns, "ecs", "0.5.0");
    let restarts = pod_deletes(&ns, since);
    assert_eq!(&restarts[..3], ["ecs-bookie-2", "ecs-bookie-1", "ecs-bookie-0"], "{restarts:?}");
    // Every restart has its Event.
    assert_eq!(restarts_by(&ns, "a").len(), restarts.len());
}
