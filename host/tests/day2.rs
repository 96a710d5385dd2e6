//! Day-2 operations against the local control plane (`make integration`), each in its own
//! namespace, the operator running as its service account:
//! - bookie scale-down by decommission, with a Job that succeeds (kwok's default stage completes
//!   Job pods) and one that fails (a `-fail` image: tests/cluster/kwok-stages.yaml);
//! - deletion that removes the cluster's ZooKeeper tree from a real ZooKeeper (tests/cluster/
//!   zookeeper.sh) with ZooKeeper up, down then up, and skipped by annotation, and never of a
//!   tree another cluster of the same name marked as its own.
//!
//!   cargo test -p ecs-operator --test day2 -- --ignored --test-threads=1

mod common;

use common::live::*;
use common::{kubectl, wait_for};
use ecs_operator::zookeeper::Session;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Long enough for several bookies to stop, be decommissioned and start on a loaded machine.
const SCALE: Duration = Duration::from_secs(180);

/// The seed example with `replicas` bookies of image tag `tag`.
fn bookies_example(name: &str, replicas: u32, tag: &str) -> String {
    seed_example(name).replacen("    replicas: 3\n", &format!("    replicas: {replicas}\n"), 1).replacen(
        "      tag: 0.4.0\n",
        &format!("      tag: {tag}\n"),
        1,
    )
}

/// UID of each bookie claim, by name.
fn bookie_claims(ns: &Namespace) -> BTreeMap<String, String> {
    ns.names("pvc", "")
        .into_iter()
        .filter(|n| n.contains("-ecs-bookie-"))
        .filter_map(|n| {
            let uid = ns.get("pvc", &n)?["metadata"]["uid"].as_str()?.to_string();
            Some((n, uid))
        })
        .collect()
}

fn set_bookies(ns: &Namespace, replicas: u32) {
    ns.patch("ecscluster", "ecs", &format!(r#"{{"spec":{{"bookkeeper":{{"replicas":{replicas}}}}}}}"#));
}

fn scale_down(ns: &Namespace) -> Option<Value> {
    let cr = ns.get("ecscluster", "ecs")?;
    let s = cr.pointer("/status/scaleDown").cloned();
    s.filter(|s| !s.is_null())
}

fn position(writes: &[String], wanted: &str) -> usize {
    writes
        .iter()
        .position(|w| w == wanted)
        .unwrap_or_else(|| panic!("no {wanted:?} among the operator's writes:\n{writes:#?}"))
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn scale_down_decommissions_one_bookie_at_a_time_and_deletes_its_claims_after() {
    let ns = Namespace::new("it-scale-down");
    let _op = Operator::start(&ns, "a", &[]);
    ns.apply(&tier2_claim("ecs"));
    ns.apply(&bookies_example("ecs", 5, "0.4.0"));
    ns.wait_ready("ecs");
    wait_for("5 bookie pods Ready", SCALE, || {
        (ns.wait_ready("ecs")["status"]["components"]["bookie"]["readyReplicas"] == 5).then_some(())
    });
    let before = bookie_claims(&ns);
    assert_eq!(before.len(), 10, "ledger and journal claims of 5 bookies: {before:?}");
    let since = now_rfc3339();

    set_bookies(&ns, 3);
    let mut phases = Vec::new();
    wait_for("the scale-down to 3 bookies to complete", SCALE, || {
        if let Some(s) = scale_down(&ns) {
            let seen = format!("{} {}", s["bookie"].as_str()?, s["phase"].as_str()?);
            if phases.last() != Some(&seen) {
                phases.push(seen);
            }
            return None;
        }
        let sts = ns.get("statefulset", "ecs-bookie")?;
        let claims = bookie_claims(&ns);
        (sts["spec"]["replicas"] == 3 && claims.len() == 6 && ns.names("jobs", "ecs-bookie-").is_empty()).then_some(())
    });
    // The bookies that stay kept their claims; the removed ones lost theirs, and only those.
    let after = bookie_claims(&ns);
    for (name, uid) in &after {
        assert_eq!(before.get(name), Some(uid), "claim {name} was replaced");
    }
    assert!(after.keys().all(|n| !n.ends_with("-3") && !n.ends_with("-4")), "{after:?}");
    // One bookie at a time, highest first, each decommissioned before its claims go and before the
    // next one stops.
    let writes = writes_by(&ns.user(), &since);
    let job4 = position(&writes, "patch jobs/ecs-bookie-decommission-4");
    let claim4 = position(&writes, "delete persistentvolumeclaims/ledger-ecs-bookie-4");
    let job3 = position(&writes, "patch jobs/ecs-bookie-decommission-3");
    let claim3 = position(&writes, "delete persistentvolumeclaims/journal-ecs-bookie-3");
    assert!(job4 < claim4 && claim4 < job3 && job3 < claim3, "{writes:#?}");
    assert!(
        !writes.iter().any(|w| w.starts_with("delete persistentvolumeclaims/")
            && (w.ends_with("-0") || w.ends_with("-1") || w.ends_with("-2"))),
        "{writes:#?}"
    );
    // What the polls happened to catch of status.scaleDown: only the two bookies being removed.
    assert!(phases.iter().all(|p| p.starts_with("ecs-bookie-4 ") || p.starts_with("ecs-bookie-3 ")), "{phases:?}");
    let events = ns.events();
    for reason in
        ["ScaleDownStarted", "DecommissionStarted", "BookieDecommissioned", "VolumesDeleted", "ScaleDownCompleted"]
    {
        assert!(events.contains(reason), "no {reason} Event:\n{events}");
    }
    let cr = ns.wait_ready("ecs");
    assert_eq!(cr["status"]["components"]["bookie"]["readyReplicas"], 3);
    let scaling = ns.condition("ecs", "ScalingDown").unwrap();
    assert_eq!(scaling["status"], "False", "{scaling}");
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn a_failed_decommission_keeps_the_bookie_and_scaling_back_up_restores_it() {
    let ns = Namespace::new("it-decommission-fails");
    let _op = Operator::start(&ns, "a", &[]);
    ns.apply(&tier2_claim("ecs"));
    // Bookie pods of a `-fail` image run as usual; a Job's pod of it exits 1.
    ns.apply(&bookies_example("ecs", 4, "0.4.0-fail"));
    wait_for("4 bookie pods Ready", SCALE, || {
        (ns.wait_ready("ecs")["status"]["components"]["bookie"]["readyReplicas"] == 4).then_some(())
    });
    let before = bookie_claims(&ns);

    set_bookies(&ns, 3);
    let failed = wait_for("the ScaleDownFailed condition", SCALE, || {
        let c = ns.condition("ecs", "ScaleDownFailed")?;
        (c["status"] == "True").then_some(c)
    });
    assert_eq!(failed["reason"], "DecommissionFailed", "{failed}");
    assert!(failed["message"].as_str().unwrap().contains("ecs-bookie-3"), "{failed}");
    let s = scale_down(&ns).unwrap();
    assert_eq!((s["phase"].as_str(), s["ordinal"].as_i64()), (Some("Failed"), Some(3)), "{s}");
    let events =
        kubectl(&["-n", &ns.name, "get", "events", "--field-selector", "reason=DecommissionFailed", "-o", "json"]);
    let events: Value = serde_json::from_str(&events).unwrap();
    let warning = &events["items"][0];
    assert_eq!(warning["type"], "Warning", "{events}");
    assert!(warning["message"].as_str().unwrap().contains("replicas to 4"), "{warning}");
    // The claims are all still there, the same ones.
    assert_eq!(bookie_claims(&ns), before);

    // Scaling back up brings the same bookie back, on its own claims.
    set_bookies(&ns, 4);
    wait_for("bookie 3 back and Ready", SCALE, || {
        let cr = ns.get("ecscluster", "ecs")?;
        let ready = cr["status"]["components"]["bookie"]["readyReplicas"] == 4;
        (ready && scale_down(&ns).is_none() && ns.names("jobs", "ecs-bookie-").is_empty()).then_some(())
    });
    let pod = ns.get("pod", "ecs-bookie-3").unwrap();
    let claims: Vec<&str> = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
        .collect();
    assert!(claims.contains(&"ledger-ecs-bookie-3"), "{claims:?}");
    assert_eq!(bookie_claims(&ns), before, "the bookie came back with the very same claims");
    assert!(ns.events().contains("ScaleDownCanceled"));
    assert_eq!(ns.condition("ecs", "ScaleDownFailed").unwrap()["status"], "False");
}

/// The znodes a running cluster `name` has: the controller's and segment store's, and the bookies'.
async fn populate(address: &str, name: &str) {
    let mut zk = Session::connect(address, Duration::from_secs(5)).await.unwrap();
    for path in [
        format!("/ecs/{name}/controller/streams/s1"),
        format!("/ecs/{name}/segmentstore/containers/0"),
        format!("/ecs/{name}/bookkeeper/ledgers/available/ecs-bookie-0.ecs-bookie-headless:3181"),
        format!("/ecs/{name}/bookkeeper/ledgers/cookies/ecs-bookie-0.ecs-bookie-headless:3181"),
        format!("/ecs/{name}/bookkeeper/ledgers/00/0000/L0001"),
    ] {
        zk.create_all(&path, b"data").await.unwrap();
    }
    zk.close().await;
}

async fn exists(address: &str, path: &str) -> bool {
    let mut zk = Session::connect(address, Duration::from_secs(5)).await.unwrap();
    let found = zk.exists(path).await.unwrap();
    zk.close().await;
    found
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// The seed cluster `name` on ZooKeeper `address`, Ready.
fn cluster_on(ns: &Namespace, name: &str, address: &str) {
    ns.apply(&tier2_claim(name));
    let manifest = seed_example(name)
        .replace(&format!("zookeeperUri: \"{}\"", test_zookeeper()), &format!("zookeeperUri: \"{address}\""));
    assert!(manifest.contains(address), "{manifest}");
    ns.apply(&manifest);
    ns.wait_ready(name);
}

fn gone(ns: &Namespace, name: &str) -> Option<()> {
    ns.get("ecscluster", name).is_none().then_some(())
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn deleting_a_cluster_removes_its_zookeeper_tree_and_nothing_else() {
    let zk = ZooKeeper::start("cleanup");
    let ns = Namespace::new("it-zk-cleanup");
    let _op = Operator::start(&ns, "a", &[]);
    cluster_on(&ns, "ecs", &zk.address);
    cluster_on(&ns, "other", &zk.address);
    block(populate(&zk.address, "ecs"));
    block(populate(&zk.address, "other"));
    // A name that starts like the deleted one's.
    block(populate(&zk.address, "ecs2"));
    assert!(ns.get("ecscluster", "ecs").unwrap()["metadata"]["finalizers"].to_string().contains("ecs.ecs.io/cleanup"));

    let since = now_rfc3339();
    kubectl(&["-n", &ns.name, "delete", "ecscluster", "ecs", "--wait=false"]);
    wait_for("the cluster to be gone", SCALE, || gone(&ns, "ecs"));
    assert!(!block(exists(&zk.address, "/ecs/ecs")), "the tree is gone");
    for kept in [
        "/ecs/other/bookkeeper/ledgers/00/0000/L0001",
        "/ecs/other/controller/streams/s1",
        "/ecs/ecs2/segmentstore/containers/0",
    ] {
        assert!(block(exists(&zk.address, kept)), "{kept} must stay");
    }
    // In order: the workloads, then the tree, then the bookies' claims, then the finalizer.
    let writes = writes_by(&ns.user(), &since);
    let sts = position(&writes, "delete statefulsets/ecs-bookie");
    let claim = position(&writes, "delete persistentvolumeclaims/ledger-ecs-bookie-0");
    let finalizer = writes.iter().rposition(|w| w == "patch ecsclusters/ecs").expect("the finalizer patch");
    assert!(sts < claim && claim < finalizer, "{writes:#?}");
    assert!(!writes.iter().any(|w| w.starts_with("delete ") && w.contains("/other-")), "{writes:#?}");
    let events = ns.events();
    assert!(events.contains("ZooKeeperCleaned"), "{events}");
    assert!(ns.get("ecscluster", "other").is_some());
}

/// The data of `path`'s node, if it exists.
async fn data(address: &str, path: &str) -> Option<Vec<u8>> {
    let mut zk = Session::connect(address, Duration::from_secs(5)).await.unwrap();
    let node = zk.node(path).await.unwrap();
    zk.close().await;
    node.map(|n| n.data)
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn a_cluster_of_the_same_name_in_another_namespace_never_removes_the_tree() {
    let zk = ZooKeeper::start("twins");
    let first = Namespace::new("it-zk-first");
    let _a = Operator::start(&first, "a", &[]);
    cluster_on(&first, "ecs", &zk.address);
    let uid = first.get("ecscluster", "ecs").unwrap()["metadata"]["uid"].as_str().unwrap().to_string();
    let mark = ecs_operator::zookeeper::marker(&uid, "it-zk-first/ecs");
    wait_for("the first cluster's mark on /ecs/ecs", SCALE, || {
        (block(data(&zk.address, "/ecs/ecs")).as_ref() == Some(&mark)).then_some(())
    });
    block(populate(&zk.address, "ecs"));

    // Another operator, which cannot see the first cluster: only the mark protects its tree.
    let second = Namespace::new("it-zk-second");
    let _b = Operator::start(&second, "b", &[]);
    cluster_on(&second, "ecs", &zk.address);
    wait_for("a Warning that the tree is another's", SCALE, || {
        second.events().contains("ZooKeeperTreeNotOwned").then_some(())
    });
    let claims = bookie_claims(&second);
    assert!(!claims.is_empty());
    kubectl(&["-n", &second.name, "delete", "ecscluster", "ecs", "--wait=false"]);
    wait_for("the second cluster to be gone", SCALE, || gone(&second, "ecs"));
    let events = second.events();
    assert!(events.contains("left /ecs/ecs on"), "{events}");
    assert!(!events.contains("ZooKeeperCleaned"), "{events}");
    assert_eq!(bookie_claims(&second), claims, "the bookies' claims are kept with the tree");
    assert_eq!(block(data(&zk.address, "/ecs/ecs")), Some(mark), "still the first cluster's");
    assert!(block(exists(&zk.address, "/ecs/ecs/bookkeeper/ledgers/00/0000/L0001")));

    kubectl(&["-n", &first.name, "delete", "ecscluster", "ecs", "--wait=false"]);
    wait_for("the first cluster to be gone", SCALE, || gone(&first, "ecs"));
    assert!(!block(exists(&zk.address, "/ecs/ecs")), "its owner's deletion removes it");
    assert!(first.events().contains("ZooKeeperCleaned"));
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn deletion_waits_for_zookeeper_and_finishes_once_it_is_back() {
    let zk = ZooKeeper::start("down-up");
    let ns = Namespace::new("it-zk-down");
    let _op = Operator::start(&ns, "a", &[]);
    cluster_on(&ns, "ecs", &zk.address);
    block(populate(&zk.address, "ecs"));
    zk.stop();

    kubectl(&["-n", &ns.name, "delete", "ecscluster", "ecs", "--wait=false"]);
    let cleaning = wait_for("the CleaningUp condition to say ZooKeeper is unreachable", SCALE, || {
        let c = ns.condition("ecs", "CleaningUp")?;
        (c["reason"] == "ZooKeeperUnreachable").then_some(c)
    });
    assert!(cleaning["message"].as_str().unwrap().contains(&zk.address), "{cleaning}");
    wait_for("a Warning Event", SCALE, || ns.events().contains("ZooKeeperCleanupFailed").then_some(()));
    assert!(ns.get("ecscluster", "ecs").is_some(), "the cluster stays while its tree cannot be removed");

    zk.restart();
    wait_for("the cluster to be gone once ZooKeeper is back", SCALE, || gone(&ns, "ecs"));
    assert!(!block(exists(&zk.address, "/ecs/ecs")));
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn the_skip_annotation_lets_a_cluster_go_without_zookeeper() {
    let zk = ZooKeeper::start("skip");
    let ns = Namespace::new("it-zk-skip");
    let _op = Operator::start(&ns, "a", &[]);
    cluster_on(&ns, "ecs", &zk.address);
    block(populate(&zk.address, "ecs"));
    zk.stop();
    kubectl(&["-n", &ns.name, "annotate", "ecscluster", "ecs", "ecs.ecs.io/skip-zookeeper-cleanup=true"]);
    kubectl(&["-n", &ns.name, "delete", "ecscluster", "ecs", "--wait=false"]);
    wait_for("the cluster to be gone", SCALE, || gone(&ns, "ecs"));
    assert!(ns.events().contains("ZooKeeperCleanupSkipped"));
    zk.restart();
    assert!(block(exists(&zk.address, "/ecs/ecs/bookkeeper/ledgers/00/0000/L0001")), "skipped: the tree is kept");
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn segment_store_cache_claims_follow_the_retention_setting() {
    let ns = Namespace::new("it-cache-retention");
    let _op = Operator::start(&ns, "a", &[]);
    ns.create_seed_cluster("ecs");
    ns.wait_ready("ecs");
    let caches = || ns.names("pvc", "cache-ecs-ecs-node-");
    assert_eq!(caches(), ["cache-ecs-ecs-node-0", "cache-ecs-ecs-node-1", "cache-ecs-ecs-node-2"]);
    // Retain (the default): a removed node's cache stays for when it comes back.
    ns.patch("ecscluster", "ecs", r#"{"spec":{"ecs":{"nodeReplicas":2}}}"#);
    wait_for("2 nodes", SCALE, || (ns.get("statefulset", "ecs-ecs-node")?["status"]["replicas"] == 2).then_some(()));
    assert_eq!(caches().len(), 3);
    // Delete: the StatefulSet controller removes the cache of the node it removes.
    ns.patch("ecscluster", "ecs", r#"{"spec":{"ecs":{"nodeReplicas":1,"cacheVolumeClaimRetention":"Delete"}}}"#);
    wait_for("node 1's cache to go", SCALE, || {
        let now = caches();
        (!now.iter().any(|c| c == "cache-ecs-ecs-node-1") && now.iter().any(|c| c == "cache-ecs-ecs-node-0"))
            .then_some(())
    });
    let sts = ns.get("statefulset", "ecs-ecs-node").unwrap();
    assert_eq!(sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"], "Delete");
}
