//! The operator against a real control plane (kube-apiserver, controller-manager, scheduler, etcd,
//! kwok nodes; `tests/cluster/local-cluster.sh`). Run by `make integration` (part of `make test`):
//!
//!   cargo test -p ecs-operator --test cluster -- --ignored --test-threads=1
//!
//! with `ECS_TEST_KUBECONFIG` and `ECS_TEST_KUBECTL` set. Each test gets its own namespace, installs
//! deploy/'s service account, role and binding there (the README's custom-namespace steps), and runs
//! the operator binary as that service account, so the RBAC rules are exercised too. Writes are
//! counted from the API server's audit log, not from the operator's own metrics.

mod common;

use common::live::*;
use common::{kubeconfig, kubectl, kubectl_in, run_kubectl, wait_for};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
#[ignore = "needs a local control plane: make integration"]
fn create_applies_exactly_the_rendered_objects_and_reports_ready() {
    let ns = Namespace::new("it-create");
    let op = Operator::start(&ns, "a", &[]);
    ns.create_seed_cluster("ecs");
    let cr = ns.wait_ready("ecs");
    let mut expected = rendered(&ns.name, &seed_example("ecs"));
    // The Tier-2 claim is the user's (pvc.yaml), not the operator's.
    expected.retain(|(kind, name)| !(kind == "PersistentVolumeClaim" && name == "ecs-tier2"));
    assert_eq!(ns.managed("ecs"), expected);
    let status = &cr["status"];
    assert_eq!(status["replicas"], 7);
    assert_eq!(status["readyReplicas"], 7);
    assert_eq!(status["members"]["ready"].as_array().unwrap().len(), 7);
    assert_eq!(status["currentVersion"], "0.4.0");
    assert_eq!(status["components"]["bookie"]["readyReplicas"], 3);
    for (type_, want) in [("SpecValid", "True"), ("Progressing", "False"), ("Degraded", "False")] {
        assert_eq!(ns.condition("ecs", type_).unwrap()["status"], want, "{type_}");
    }
    let events = ns.events();
    assert!(events.contains("Created") && events.contains("AllMembersReady"), "{events}");
    // The seed's listing: bookies, controller and nodes are pods of the cluster.
    let pods = kubectl(&["-n", &ns.name, "get", "pods", "-l", "ecs_cluster=ecs", "-o", "name"]);
    for pod in
        ["pod/ecs-bookie-0", "pod/ecs-bookie-2", "pod/ecs-ecs-node-0", "pod/ecs-ecs-node-2", "pod/ecs-ecs-controller-"]
    {
        assert!(pods.contains(pod), "{pod} missing from\n{pods}");
    }
    assert!(op.metric("ecs_operator_reconciles_total{result=\"applied\"}") >= 1.0);
    assert!(op.metrics().contains("ecs_operator_plugin_call_duration_seconds_bucket{le="), "{}", op.metrics());
    op.stop();
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn every_kind_of_spec_edit_is_applied_and_drift_is_reverted() {
    let ns = Namespace::new("it-edit");
    let _op = Operator::start(&ns, "a", &[]);
    ns.create_seed_cluster("ecs");
    ns.wait_ready("ecs");
    let hash = |ns: &Namespace| {
        ns.get("statefulset", "ecs-ecs-node").unwrap()["spec"]["template"]["metadata"]["annotations"]["ecs.ecs.io/config-hash"].clone()
    };
    let before = hash(&ns);

    // Replicas.
    ns.patch("ecscluster", "ecs", r#"{"spec":{"bookkeeper":{"replicas":4},"ecs":{"nodeReplicas":2}}}"#);
    wait_for("bookie replicas 4 and node replicas 2", T, || {
        let b = ns.get("statefulset", "ecs-bookie")?;
        let n = ns.get("statefulset", "ecs-ecs-node")?;
        (b["spec"]["replicas"] == 4 && n["spec"]["replicas"] == 2).then_some(())
    });
    let cr = ns.wait_ready("ecs");
    assert_eq!(cr["status"]["replicas"], 7);

    // Options -> ConfigMap, and the pods roll (config hash).
    ns.patch("ecscluster", "ecs", r#"{"spec":{"ecs":{"options":{"metrics.enableStatistics":"true"}}}}"#);
    wait_for("the option in the segment store ConfigMap", T, || {
        let cm = ns.get("configmap", "ecs-ecs-node")?;
        cm["data"].to_string().contains("metrics.enableStatistics").then_some(())
    });
    wait_for("the node pod template's config hash to change", T, || (hash(&ns) != before).then_some(()));

    // JVM options and resources -> pod template.
    ns.patch(
        "ecscluster",
        "ecs",
        r#"{"spec":{"ecs":{"nodeJvmOptions":{"memoryOpts":["-Xmx3g"]},"nodeResources":{"limits":{"memory":"6Gi"}}}}}"#,
    );
    wait_for("JVM options and resources on the node pods", T, || {
        let sts = ns.get("statefulset", "ecs-ecs-node")?;
        let text = sts["spec"]["template"].to_string() + &ns.get("configmap", "ecs-ecs-node")?["data"].to_string();
        (text.contains("-Xmx3g")
            && sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "6Gi")
            .then_some(())
    });

    // Service accounts.
    kubectl(&["-n", &ns.name, "create", "serviceaccount", "bk-service-account"]);
    ns.patch("ecscluster", "ecs", r#"{"spec":{"bookkeeper":{"serviceAccountName":"bk-service-account"}}}"#);
    wait_for("the bookie service account", T, || {
        (ns.get("statefulset", "ecs-bookie")?["spec"]["template"]["spec"]["serviceAccountName"] == "bk-service-account")
            .then_some(())
    });

    // Tier-2: filesystem -> HDFS.
    ns.patch(
        "ecscluster",
        "ecs",
        r#"{"spec":{"ecs":{"tier2":{"filesystem":null,"hdfs":{"uri":"hdfs://namenode:8020","root":"/ecs"}}}}}"#,
    );
    wait_for("HDFS Tier-2 wiring on the nodes", T, || {
        let text = ns.get("statefulset", "ecs-ecs-node")?["spec"]["template"].to_string()
            + &ns.get("configmap", "ecs-ecs-node")?["data"].to_string();
        (text.contains("hdfs://namenode:8020") && !text.contains("ecs-tier2")).then_some(())
    });
    ns.wait_ready("ecs");

    // Drift: a hand edit of an owned field is reverted.
    kubectl(&["-n", &ns.name, "scale", "statefulset", "ecs-bookie", "--replicas=6"]);
    wait_for("the hand-scaled StatefulSet to be reverted", T, || {
        (ns.get("statefulset", "ecs-bookie")?["spec"]["replicas"] == 4).then_some(())
    });
    let events = ns.events();
    assert!(events.contains("Updated"), "{events}");
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn deleting_the_cluster_garbage_collects_its_objects() {
    let ns = Namespace::new("it-delete");
    let _op = Operator::start(&ns, "a", &[]);
    ns.create_seed_cluster("ecs");
    ns.wait_ready("ecs");
    assert!(!ns.managed("ecs").is_empty());
    kubectl(&["-n", &ns.name, "delete", "ecscluster", "ecs", "--wait=true", "--timeout=60s"]);
    wait_for("owned objects to be garbage-collected", T, || ns.managed("ecs").is_empty().then_some(()));
    // The user's Tier-2 claim and the segment stores' caches stay; the bookies' claims went with the
    // cluster's ZooKeeper tree (their ledgers' metadata and cookies).
    let claims = kubectl(&["-n", &ns.name, "get", "pvc", "-o", "name"]);
    assert!(claims.contains("ecs-tier2") && claims.contains("cache-ecs-ecs-node-0"), "{claims}");
    assert!(!claims.contains("ledger-ecs-bookie-0"), "{claims}");
}

/// A recorded case's manifest for another namespace (cases pin a namespace and a uid).
fn without_namespace(manifest: &str) -> String {
    let pinned = |l: &&str| l.starts_with("  namespace:") || l.starts_with("  uid:");
    manifest.lines().filter(|l| !pinned(l)).collect::<Vec<_>>().join("\n")
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn invalid_specs_are_rejected_at_admission_or_reported_in_status() {
    let ns = Namespace::new("it-invalid");
    let _op = Operator::start(&ns, "a", &[]);
    for case in ["invalid-bookie-replicas", "invalid-two-tier2", "invalid-no-tier2", "invalid-fields"] {
        let manifest = without_namespace(&read(&format!("tests/cases/{case}/cluster.yaml")));
        // Strict field validation (kubectl's default) rejects unknown fields first, with 400.
        let err = kubectl_in(&manifest, &["-n", &ns.name, "create", "-v=6", "-f", "-"]).expect_err(case);
        assert!(
            err.contains("422 Unprocessable Entity")
                || err.contains("400 Bad Request") && err.contains("unknown field"),
            "{case}: {err}"
        );
        // Without it, the schema and CEL rules answer 422 and name the field.
        let err =
            kubectl_in(&manifest, &["-n", &ns.name, "create", "--validate=false", "-v=6", "-f", "-"]).expect_err(case);
        assert!(err.contains("422 Unprocessable Entity"), "{case}: {err}");
        let expected = read(&format!("tests/cases/{case}/expected-error.txt"));
        let first_path = expected.split(':').next().unwrap();
        assert!(err.contains(first_path), "{case}: the API server's message should name {first_path}: {err}");
    }
    // Valid for the schema, invalid for the plugins: reported in status and as an Event.
    let manifest = without_namespace(&read("tests/cases/invalid-unknown-plugin/cluster.yaml"));
    ns.apply(&manifest);
    let name = manifest.lines().find_map(|l| l.trim().strip_prefix("name: ")).unwrap().trim_matches('"').to_string();
    let condition =
        wait_for("SpecValid=False", T, || ns.condition(&name, "SpecValid").filter(|c| c["status"] == "False"));
    assert!(condition["message"].as_str().unwrap().contains("spec.ecs.tier2.plugin.name"), "{condition}");
    assert_eq!(ns.condition(&name, "Degraded").unwrap()["status"], "True");
    let events = wait_for("an InvalidSpec event", T, || Some(ns.events()).filter(|e| e.contains("InvalidSpec")));
    assert!(events.contains("Warning"), "{events}");
    assert!(ns.managed(&name).is_empty(), "nothing may be applied for an invalid spec");
}

/// A plugin directory in the namespace's work dir holding the given built test plugins
/// (`target/wasm32-wasip2/plugin/<file>`), for `--plugin-dir`.
fn plugin_dir(ns: &Namespace, files: &[&str]) -> PathBuf {
    let plugins = ns.dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for file in files {
        let built = Path::new(ROOT).join("target/wasm32-wasip2/plugin").join(file);
        std::fs::copy(&built, plugins.join(file)).unwrap_or_else(|e| panic!("{}: {e} (make plugins)", built.display()));
    }
    plugins
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn a_faulty_plugin_for_one_cluster_leaves_the_others_reconciling() {
    let ns = Namespace::new("it-faulty");
    // The hostile test plugin replaces the bookkeeper reconciler; it misbehaves by cluster name.
    let plugins = plugin_dir(&ns, &["ecs_plugin_hostile.wasm"]);
    let op = Operator::start(
        &ns,
        "a",
        &["--plugin-dir", plugins.to_str().unwrap(), "--allow-override", "bookkeeper", "--plugin-timeout-ms", "200"],
    );
    for name in ["panic", "loop"] {
        ns.create_seed_cluster(name);
    }
    ns.create_seed_cluster("ecs");
    // The hostile bookkeeper reports no ready bookies, so "ecs" never turns Ready; it is applied.
    wait_for("the healthy cluster applied", T, || {
        let ok = ns.condition("ecs", "Degraded")?["status"] == "False"
            && ns.get("deployment", "ecs-ecs-controller").is_some();
        ok.then_some(())
    });
    let panic = wait_for("panic Degraded", T, || ns.condition("panic", "Degraded").filter(|c| c["status"] == "True"));
    assert_eq!(panic["reason"], "PluginFault");
    assert!(panic["message"].as_str().unwrap().contains("hostile plugin panicked on purpose"), "{panic}");
    let looping = wait_for("loop Degraded", T, || ns.condition("loop", "Degraded").filter(|c| c["status"] == "True"));
    assert!(looping["message"].as_str().unwrap().contains("deadline"), "{looping}");
    assert!(ns.managed("panic").is_empty() && ns.managed("loop").is_empty(), "nothing half-applied");
    // The healthy cluster still follows edits while the others keep failing (with backoff).
    ns.patch("ecscluster", "ecs", r#"{"spec":{"ecs":{"nodeReplicas":2}}}"#);
    wait_for("the healthy cluster's edit", T, || {
        (ns.get("statefulset", "ecs-ecs-node")?["spec"]["replicas"] == 2).then_some(())
    });
    assert!(
        op.metric("ecs_operator_plugin_faults_total{plugin=\"bookkeeper\",fault=\"trap\"}") >= 1.0,
        "{}",
        op.metrics()
    );
    assert!(op.metric("ecs_operator_plugin_faults_total{plugin=\"bookkeeper\",fault=\"deadline_exceeded\"}") >= 1.0);
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn a_restarted_operator_sends_no_write_requests() {
    let ns = Namespace::new("it-restart");
    let started = now_rfc3339();
    let first = Operator::start(&ns, "a", &[]);
    ns.create_seed_cluster("ecs");
    ns.wait_ready("ecs");
    // Let the pods' last status changes settle, then restart.
    std::thread::sleep(Duration::from_secs(2));
    // The audit log attributes the first operator's writes to its service account (the count below
    // would otherwise prove nothing).
    let created = writes_by(&ns.user(), &started);
    assert!(created.iter().any(|w| w.contains("statefulsets/ecs-bookie")), "{created:?}");
    let shutdown = first.stop();
    assert!(shutdown < Duration::from_secs(10), "graceful shutdown took {shutdown:?}");
    let since = now_rfc3339();
    let second = Operator::start(&ns, "b", &[]);
    wait_for("the restarted operator to lead and reconcile", T, || {
        (second.is_leader() && second.metric("ecs_operator_reconciles_total{result=\"unchanged\"}") >= 1.0)
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(5));
    let writes = writes_by(&ns.user(), &since);
    assert!(writes.is_empty(), "writes after restart: {writes:?}\n{}", second.log_text());
    assert_eq!(second.metric("ecs_operator_api_writes_total"), 0.0, "{}", second.metrics());
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn two_operators_elect_one_leader_and_hand_over_on_shutdown() {
    let ns = Namespace::new("it-leader");
    let a = Operator::start(&ns, "a", &[]);
    wait_for("a to lead", T, || a.is_leader().then_some(()));
    let b = Operator::start(&ns, "b", &[]);
    ns.create_seed_cluster("ecs");
    ns.wait_ready("ecs");
    assert!(!b.is_leader());
    assert_eq!(b.metric("ecs_operator_api_writes_total"), 0.0, "the standby wrote:\n{}", b.metrics());
    assert!(a.metric("ecs_operator_api_writes_total") > 0.0);
    // SIGTERM releases the Lease; the standby, which checks back when the Lease would expire
    // (15 s), then takes over.
    a.stop();
    let took = Instant::now();
    wait_for("b to lead", Duration::from_secs(25), || b.is_leader().then_some(()));
    eprintln!("handover took {:?}", took.elapsed());
    ns.patch("ecscluster", "ecs", r#"{"spec":{"bookkeeper":{"replicas":4}}}"#);
    wait_for("the new leader to apply an edit", T, || {
        (ns.get("statefulset", "ecs-bookie")?["spec"]["replicas"] == 4).then_some(())
    });
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn a_live_cluster_records_into_a_case_that_replays_offline() {
    let ns = Namespace::new("it-record");
    let _op = Operator::start(&ns, "a", &[]);
    ns.create_seed_cluster("ecs");
    ns.wait_ready("ecs");
    let out = ns.dir.join("case");
    let _ = std::fs::remove_dir_all(&out);
    let record = Command::new(env!("CARGO_BIN_EXE_ecs-operator"))
        .args(["record", "--name", "ecs", "--namespace", &ns.name, "--kubeconfig"])
        .arg(kubeconfig())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(record.status.success(), "{}", String::from_utf8_lossy(&record.stderr));
    let observed = std::fs::read_to_string(out.join("observed.yaml")).unwrap();
    assert!(observed.contains("kind: Pod") && observed.contains("kind: StatefulSet"), "{observed}");
    let status = std::fs::read_to_string(out.join("expected-status.yaml")).unwrap();
    assert!(status.contains("ready_replicas: 3"), "the recorded pods make the replayed status ready:\n{status}");
    let replay = Command::new(env!("CARGO_BIN_EXE_ecs-operator")).arg("test").arg(&out).output().unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stdout));
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn filestore_volumes_are_created_and_removed_with_their_cluster() {
    let ns = Namespace::new("it-filestore");
    let _op = Operator::start(&ns, "a", &[]);
    let manifest = read("tests/cases/tier2-filestore/cluster.yaml").replace("zk-client.zk:2181", &test_zookeeper());
    ns.apply(&without_namespace(&manifest));
    ns.wait_ready("gcp");
    let pv_name = format!("gcp-{}-tier2", ns.name);
    let pv: Value = serde_json::from_str(&kubectl(&["get", "pv", &pv_name, "-o", "json"])).unwrap();
    assert_eq!(pv["spec"]["nfs"]["server"], "10.123.189.202");
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    let cr = ns.get("ecscluster", "gcp").unwrap();
    assert!(cr["metadata"]["finalizers"].to_string().contains("ecs.ecs.io/cleanup"), "{cr}");
    // A PersistentVolume cannot be owned by a namespaced object: the finalizer removes it.
    kubectl(&["-n", &ns.name, "delete", "ecscluster", "gcp", "--wait=true", "--timeout=60s"]);
    wait_for("the PersistentVolume to be deleted", T, || {
        run_kubectl(&kubeconfig(), &["get", "pv", &pv_name], None).is_err().then_some(())
    });
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn the_deploy_directory_installs_into_a_custom_namespace() {
    // The README's steps: create the namespace, point role_binding.yaml at it, apply deploy/.
    ensure_crd();
    let ns = "it-ecs-io";
    let _ = run_kubectl(&kubeconfig(), &["delete", "namespace", ns, "--wait=true", "--timeout=60s"], None);
    kubectl(&["create", "namespace", ns]);
    let dir = std::env::temp_dir().join("ecs-it-deploy");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(Path::new(ROOT).join("deploy")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text =
                std::fs::read_to_string(&path).unwrap().replace("namespace: default", &format!("namespace: {ns}"));
            std::fs::write(dir.join(path.file_name().unwrap()), text).unwrap();
        }
    }
    kubectl(&["-n", ns, "apply", "--server-side", "--force-conflicts", "-f", dir.to_str().unwrap()]);
    let binding: Value =
        serde_json::from_str(&kubectl(&["-n", ns, "get", "rolebinding", "ecs-operator", "-o", "json"])).unwrap();
    assert_eq!(binding["subjects"][0]["namespace"], ns);
    // kwok runs the pod without its image: what is checked is that the Deployment is accepted as
    // written (probes, security context, downward-API env) and gets a Running pod.
    let phase = wait_for("the operator pod", T, || {
        let out =
            kubectl(&["-n", ns, "get", "pods", "-l", "name=ecs-operator", "-o", "jsonpath={.items[0].status.phase}"]);
        (out == "Running").then_some(out)
    });
    assert_eq!(phase, "Running");
    let deploy: Value =
        serde_json::from_str(&kubectl(&["-n", ns, "get", "deployment", "ecs-operator", "-o", "json"])).unwrap();
    let container = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(deploy["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"], true);
    let _ = run_kubectl(&kubeconfig(), &["delete", "namespace", ns, "--wait=false"], None);
}

/// The seed's example named `name`, its Tier-2 the hostile provider trying `attack` ("" for none).
fn hostile_tier2_example(name: &str, attack: &str) -> String {
    let tier2 = format!(
        "tier2:\n      plugin:\n        name: tier2-hostile\n        config: {{attack: \"{attack}\", claimName: {name}-tier2}}\n        persistentVolumeClaims: [{name}-tier2]\n"
    );
    seed_example_with_tier2(name, &tier2)
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn a_hostile_tier2_provider_is_refused_with_nothing_applied_and_its_name_in_status() {
    let ns = Namespace::new("it-hostile-tier2");
    let plugins = plugin_dir(&ns, &["ecs_plugin_hostile_tier2.wasm"]);
    let op = Operator::start(&ns, "a", &["--plugin-dir", plugins.to_str().unwrap()]);
    ns.apply(&tier2_claim("ecs"));
    ns.apply(&hostile_tier2_example("ecs", "secret-volume"));
    let degraded = wait_for("Degraded", T, || ns.condition("ecs", "Degraded").filter(|c| c["status"] == "True"));
    assert_eq!(degraded["reason"], "PolicyViolation", "{degraded}");
    let message = degraded["message"].as_str().unwrap();
    assert!(message.starts_with("plugin tier2-hostile emitted its Tier-2 wiring"), "{message}");
    assert!(message.contains("[references]") && message.contains("other-tenant-db"), "{message}");
    wait_for("the Warning Event", T, || {
        let events = ns.events();
        (events.contains("Warning") && events.contains("PolicyViolation")).then_some(())
    });
    assert!(ns.managed("ecs").is_empty(), "nothing half-applied: {:?}", ns.managed("ecs"));
    assert!(
        op.metric("ecs_operator_plugin_faults_total{plugin=\"tier2-hostile\",fault=\"policy_violation\"}") >= 1.0,
        "{}",
        op.metrics()
    );
    // The same plugin, honest, is applied.
    ns.apply(&hostile_tier2_example("ecs", ""));
    ns.wait_ready("ecs");
    let node = ns.get("statefulset", "ecs-ecs-node").unwrap();
    assert_eq!(node["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "ecs-tier2");
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn objects_of_another_owner_are_never_taken_over() {
    let ns = Namespace::new("it-ownership");
    // The replaced bookkeeper emits an extra ConfigMap `<cluster>-bookie-extra` on request: a name the
    // output policy allows, so only the ownership check on apply stands in the way.
    let plugins = plugin_dir(&ns, &["ecs_plugin_hostile.wasm"]);
    let _op = Operator::start(&ns, "a", &["--plugin-dir", plugins.to_str().unwrap(), "--allow-override", "bookkeeper"]);
    ns.create_seed_cluster("ecs-x");
    wait_for("ecs-x applied", T, || ns.get("statefulset", "ecs-x-ecs-node"));
    let other_uid = ns.get("ecscluster", "ecs-x").unwrap()["metadata"]["uid"].as_str().unwrap().to_string();
    let theirs = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ecs-bookie-extra\n  ownerReferences:\n  - apiVersion: ecs.ecs.io/v1alpha1\n    kind: ECSCluster\n    name: ecs-x\n    uid: {other_uid}\n    controller: true\ndata:\n  owner: ecs-x\n"
    );
    ns.apply(&theirs);
    ns.apply(&tier2_claim("ecs"));
    ns.apply(
        &seed_example("ecs").replace("bookkeeper:\n", "bookkeeper:\n    options:\n      attack: extra-config-map\n"),
    );
    let degraded = wait_for("Degraded", T, || ns.condition("ecs", "Degraded").filter(|c| c["status"] == "True"));
    assert_eq!(degraded["reason"], "OwnershipConflict", "{degraded}");
    let message = degraded["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("ConfigMap/ecs-bookie-extra belongs to ECSCluster/ecs-x (uid {other_uid})")),
        "{message}"
    );
    wait_for("the Warning Event", T, || {
        let events = ns.events();
        (events.contains("Warning") && events.contains("OwnershipConflict")).then_some(())
    });
    let cm = ns.get("configmap", "ecs-bookie-extra").unwrap();
    assert_eq!(cm["data"]["owner"], "ecs-x", "untouched: {cm}");
    assert_eq!(cm["metadata"]["ownerReferences"][0]["uid"], other_uid.as_str());
    assert!(cm["metadata"].get("labels").is_none(), "not relabelled: {cm}");
    assert!(ns.managed("ecs").is_empty(), "nothing of the plan was written: {:?}", ns.managed("ecs"));
    // An object of nobody's is not taken either.
    kubectl(&["-n", &ns.name, "delete", "configmap", "ecs-bookie-extra"]);
    kubectl(&["-n", &ns.name, "create", "configmap", "ecs-bookie-extra", "--from-literal=owner=nobody"]);
    wait_for("the conflict with an unowned object", T, || {
        let c = ns.condition("ecs", "Degraded")?;
        c["message"].as_str()?.contains("ConfigMap/ecs-bookie-extra belongs to no owner").then_some(())
    });
    assert_eq!(ns.get("configmap", "ecs-bookie-extra").unwrap()["data"]["owner"], "nobody");
    // Once the name is free, the cluster converges (its backoff retries).
    kubectl(&["-n", &ns.name, "delete", "configmap", "ecs-bookie-extra"]);
    wait_for("ecs applied, the ConfigMap its own", Duration::from_secs(120), || {
        let cm = ns.get("configmap", "ecs-bookie-extra")?;
        let uid = ns.get("ecscluster", "ecs")?["metadata"]["uid"].clone();
        (cm["metadata"]["ownerReferences"][0]["uid"] == uid && ns.get("statefulset", "ecs-ecs-node").is_some())
            .then_some(())
    });
    // ecs-x kept its objects throughout.
    assert!(ns.get("statefulset", "ecs-x-ecs-node").is_some());
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn clusters_whose_plugin_hangs_do_not_starve_a_benign_cluster() {
    let ns = Namespace::new("it-fair-share");
    let plugins = plugin_dir(&ns, &["ecs_plugin_hostile_tier2.wasm"]);
    let op = Operator::start(&ns, "a", &["--plugin-dir", plugins.to_str().unwrap()]);
    // More clusters than the runtime's whole instance pool (32) whose Tier-2 provider sleeps (which
    // once held an instance each for as long as it liked), and a few that spin until their deadline.
    let hostile: String = (0..40)
        .map(|i| hostile_tier2_example(&format!("hang{i}"), if i < 34 { "sleep" } else { "spin" }))
        .collect::<Vec<_>>()
        .join("---\n");
    ns.apply(&hostile);
    wait_for("the hanging clusters to fail", T, || {
        (op.metric("ecs_operator_plugin_faults_total{plugin=\"tier2-hostile\"") >= 40.0).then_some(())
    });
    let started = Instant::now();
    ns.create_seed_cluster("benign");
    ns.wait_ready("benign");
    let ready_after = started.elapsed();
    ns.patch("ecscluster", "benign", r#"{"spec":{"ecs":{"nodeReplicas":2}}}"#);
    wait_for("the benign cluster's edit", T, || {
        (ns.get("statefulset", "benign-ecs-node")?["spec"]["replicas"] == 2).then_some(())
    });
    eprintln!("benign cluster Ready {ready_after:?} after creation, beside 40 hanging clusters");
    let degraded = ns.condition("hang0", "Degraded").unwrap();
    assert_eq!(degraded["status"], "True");
    let message = degraded["message"].as_str().unwrap();
    assert!(message.contains("plugin tier2-hostile (provide) tried to wait on a clock"), "{degraded}");
    assert!(ns.managed("hang0").is_empty());
}
