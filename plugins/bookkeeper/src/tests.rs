//! Native tests on the seed's example cluster (README "Deploy a sample ECS cluster").

use crate::{Bookkeeper, COMPONENT};
use ecs_plugin_sdk::{
    Cleanup, Cluster, FieldError, Plan, PluginError, PluginKind, ReconcileInput, Reconciler, ScaleDown, testing,
};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn seed_cluster() -> Cluster {
    testing::cluster().build()
}

/// The seed cluster with an edit of its `bookkeeper` section.
fn seed_with(edit: impl FnOnce(&mut Value)) -> Cluster {
    testing::cluster().edit(|spec| edit(&mut spec["bookkeeper"])).build()
}

fn input(cluster: Cluster, observed: Vec<Value>) -> ReconcileInput {
    let mut input = ReconcileInput { observed, ..testing::reconcile_input(cluster) };
    // Differs from image.tag on purpose: the host's version wins.
    input.versions.bookkeeper = "0.5.0".into();
    input
}

fn plan(cluster: Cluster) -> Plan {
    Bookkeeper::reconcile(&input(cluster, Vec::new())).expect("reconcile succeeds")
}

fn typed<T: serde::de::DeserializeOwned>(plan: &Plan, index: usize) -> T {
    testing::typed(&plan.objects[index])
}

fn config_data(plan: &Plan) -> BTreeMap<String, String> {
    typed::<ConfigMap>(plan, 0).data.unwrap()
}

fn stateful_set(plan: &Plan) -> StatefulSet {
    typed(plan, 2)
}

fn mounts(sts: &StatefulSet) -> Vec<(String, String)> {
    let pod = &sts.spec.template.spec.as_ref().unwrap();
    pod.containers[0].volume_mounts.as_ref().unwrap().iter().map(|m| (m.name.clone(), m.mount_path.clone())).collect()
}

#[test]
fn describe_names_the_plugin() {
    let info = Bookkeeper::describe();
    testing::assert_plugin_info(&info, "bookkeeper", env!("CARGO_PKG_VERSION"), PluginKind::Reconciler, "bookie", &[]);
}

#[test]
fn seed_spec_is_valid() {
    assert_eq!(Bookkeeper::validate(&seed_cluster()), Vec::<FieldError>::new());
}

#[test]
fn objects_come_in_a_fixed_order() {
    let plan = plan(seed_cluster());
    assert_eq!(
        testing::object_ids(&plan.objects),
        vec![
            ("v1", "ConfigMap", "ecs-bookie"),
            ("v1", "Service", "ecs-bookie-headless"),
            ("apps/v1", "StatefulSet", "ecs-bookie"),
            ("policy/v1", "PodDisruptionBudget", "ecs-bookie"),
        ]
    );
    for o in &plan.objects {
        assert_eq!(o["metadata"]["namespace"], "ecs-io");
        assert_eq!(o["metadata"]["labels"], json!({"app": "ecs-cluster", "ecs_cluster": "ecs", "component": "bookie"}));
    }
}

#[test]
fn output_is_deterministic() {
    let a = plan(seed_cluster());
    let b = plan(seed_cluster());
    let text = |p: &Plan| p.objects.iter().map(Value::to_string).collect::<Vec<_>>();
    assert_eq!(text(&a), text(&b));
}

#[test]
fn config_map_of_the_seed_cluster() {
    let data = config_data(&plan(seed_cluster()));
    let expected: BTreeMap<String, String> = [
        ("ZK_URL", "zk-client:2181"),
        ("ECS_CLUSTER_NAME", "ecs"),
        ("WAIT_FOR", "zk-client:2181"),
        ("BK_useHostNameAsBookieID", "true"),
        ("BK_zkLedgersRootPath", "/ecs/ecs/bookkeeper/ledgers"),
        ("BK_journalDirectory", "/bk/journal"),
        ("BK_ledgerDirectories", "/bk/ledgers"),
        (
            "BOOKIE_MEM_OPTS",
            "-Xms1g -XX:MaxDirectMemorySize=1g -XX:+ExitOnOutOfMemoryError -XX:+CrashOnOutOfMemoryError",
        ),
        ("BOOKIE_GC_OPTS", "-XX:+UseG1GC -XX:MaxGCPauseMillis=10"),
        ("BOOKIE_EXTRA_OPTS", ""),
        ("BK_AUTORECOVERY", "true"),
        ("BK_lostBookieRecoveryDelay", "60"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(data, expected);
}

#[test]
fn options_become_bk_keys_and_override_defaults() {
    let cluster = seed_with(|bk| {
        bk["options"] = json!({"journalDirectory": "/bk/journal2", "gcWaitTime": "900000"});
    });
    let data = config_data(&plan(cluster));
    assert_eq!(data["BK_journalDirectory"], "/bk/journal2");
    assert_eq!(data["BK_gcWaitTime"], "900000");
}

#[test]
fn jvm_options_merge_with_the_defaults() {
    let cluster = seed_with(|bk| {
        bk["jvmOptions"] = json!({
            "memoryOpts": ["-Xms2g", "-XX:MaxDirectMemorySize=4g", "-Xmx2g"],
            "gcOpts": ["-XX:MaxGCPauseMillis=20"],
            "extraOpts": ["-Dfoo=bar"]
        });
    });
    let data = config_data(&plan(cluster));
    assert_eq!(
        data["BOOKIE_MEM_OPTS"],
        "-Xms2g -XX:MaxDirectMemorySize=4g -XX:+ExitOnOutOfMemoryError -XX:+CrashOnOutOfMemoryError -Xmx2g"
    );
    assert_eq!(data["BOOKIE_GC_OPTS"], "-XX:+UseG1GC -XX:MaxGCPauseMillis=20");
    assert_eq!(data["BOOKIE_EXTRA_OPTS"], "-Dfoo=bar");
}

#[test]
fn auto_recovery_off() {
    let data = config_data(&plan(seed_with(|bk| bk["autoRecovery"] = json!(false))));
    assert_eq!(data["BK_AUTORECOVERY"], "false");
    assert!(!data.contains_key("BK_lostBookieRecoveryDelay"));
}

#[test]
fn headless_service() {
    let svc: Service = typed(&plan(seed_cluster()), 1);
    let spec = svc.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
    assert_eq!(spec.publish_not_ready_addresses, Some(true));
    let ports = spec.ports.unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!((ports[0].name.as_deref(), ports[0].port), (Some("bookie"), 3181));
    assert_eq!(
        (ports[0].protocol.as_deref(), ports[0].target_port.clone()),
        (Some("TCP"), Some(IntOrString::Int(3181)))
    );
    assert_eq!(spec.selector, Some(ecs_plugin_sdk::k8s::labels("ecs", COMPONENT)));
}

#[test]
fn stateful_set_of_the_seed_cluster() {
    let sts = stateful_set(&plan(seed_cluster()));
    let spec = &sts.spec;
    assert_eq!(spec.service_name.as_deref(), Some("ecs-bookie-headless"));
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    assert_eq!(spec.update_strategy.as_ref().unwrap().type_.as_deref(), Some("OnDelete"));
    let labels = ecs_plugin_sdk::k8s::labels("ecs", COMPONENT);
    assert_eq!(spec.selector.match_labels.as_ref(), Some(&labels));
    assert_eq!(spec.template.metadata.as_ref().unwrap().labels.as_ref(), Some(&labels));

    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.termination_grace_period_seconds, Some(30));
    assert_eq!(pod.service_account_name, None);
    let c = &pod.containers[0];
    assert_eq!(c.name, "bookie");
    // versions.bookkeeper, not image.tag (0.4.0).
    assert_eq!(c.image.as_deref(), Some("ecs/bookkeeper:0.5.0"));
    assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
    let port = &c.ports.as_ref().unwrap()[0];
    assert_eq!((port.name.as_deref(), port.container_port), (Some("bookie"), 3181));
    assert_eq!(c.env_from.as_ref().unwrap()[0].config_map_ref.as_ref().unwrap().name, "ecs-bookie");

    let readiness = c.readiness_probe.as_ref().unwrap();
    assert_eq!(
        readiness.exec.as_ref().unwrap().command.as_deref().unwrap(),
        ["/bin/sh", "-c", "/opt/bookkeeper/bin/bookkeeper shell bookiesanity"]
    );
    assert_eq!(
        (readiness.initial_delay_seconds, readiness.period_seconds, readiness.timeout_seconds),
        (Some(20), Some(10), Some(5))
    );
    let liveness = c.liveness_probe.as_ref().unwrap();
    assert_eq!(liveness.tcp_socket.as_ref().unwrap().port, IntOrString::Int(3181));
    assert_eq!((liveness.initial_delay_seconds, liveness.period_seconds), (Some(60), Some(15)));

    let res = c.resources.as_ref().unwrap();
    let q = |m: &Option<BTreeMap<String, _>>, k: &str| {
        m.as_ref().unwrap().get(k).map(|q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| q.0.clone())
    };
    assert_eq!(q(&res.requests, "cpu").as_deref(), Some("500m"));
    assert_eq!(q(&res.requests, "memory").as_deref(), Some("1Gi"));
    assert_eq!(q(&res.limits, "cpu").as_deref(), Some("1"));
    assert_eq!(q(&res.limits, "memory").as_deref(), Some("2Gi"));

    let anti = pod.affinity.as_ref().unwrap().pod_anti_affinity.as_ref().unwrap();
    let term = &anti.preferred_during_scheduling_ignored_during_execution.as_ref().unwrap()[0];
    assert_eq!(term.weight, 100);
    assert_eq!(term.pod_affinity_term.topology_key, "kubernetes.io/hostname");
    assert_eq!(term.pod_affinity_term.label_selector.as_ref().unwrap().match_labels.as_ref(), Some(&labels));

    let claims = spec.volume_claim_templates.as_ref().unwrap();
    let names: Vec<_> = claims.iter().map(|c| c.metadata.name.as_deref().unwrap()).collect();
    assert_eq!(names, ["ledger", "journal"]);
    for claim in claims {
        assert_eq!(claim.metadata.labels.as_ref(), Some(&labels));
        let claim_spec = claim.spec.as_ref().unwrap();
        assert_eq!(claim_spec.storage_class_name.as_deref(), Some("standard"));
        let requests = claim_spec.resources.as_ref().unwrap().requests.as_ref().unwrap();
        assert_eq!(requests["storage"].0, "10Gi");
    }
    let retention = spec.persistent_volume_claim_retention_policy.as_ref().unwrap();
    assert_eq!(retention.when_scaled.as_deref(), Some("Retain"));
    assert_eq!(retention.when_deleted.as_deref(), Some("Retain"));
}

/// Upstream v0.1 mounted the journal volume at /bk/ledgers and the ledger volume at /bk/journal.
#[test]
fn ledger_and_journal_volumes_are_not_swapped() {
    let p = plan(seed_cluster());
    let mounts = mounts(&stateful_set(&p));
    assert_eq!(
        mounts,
        [("ledger".to_string(), "/bk/ledgers".to_string()), ("journal".to_string(), "/bk/journal".to_string())]
    );
    // And the directories BookKeeper is told to use are the ones those volumes are mounted at.
    let data = config_data(&p);
    assert_eq!(data["BK_ledgerDirectories"], "/bk/ledgers");
    assert_eq!(data["BK_journalDirectory"], "/bk/journal");
}

#[test]
fn index_volume_when_set() {
    let cluster = seed_with(|bk| {
        bk["storage"]["indexVolumeClaimTemplate"] =
            json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}});
    });
    let p = plan(cluster);
    let sts = stateful_set(&p);
    assert_eq!(mounts(&sts)[2], ("index".to_string(), "/bk/index".to_string()));
    let claims = sts.spec.volume_claim_templates.unwrap();
    assert_eq!(claims[2].metadata.name.as_deref(), Some("index"));
    assert_eq!(config_data(&p)["BK_indexDirectories"], "/bk/index");
}

#[test]
fn custom_resources_and_service_account() {
    let cluster = seed_with(|bk| {
        bk["serviceAccountName"] = json!("bk-service-account");
        bk["resources"] = json!({"requests": {"cpu": "2", "memory": "4Gi"}});
        bk["image"]["pullPolicy"] = json!("Always");
    });
    let sts = stateful_set(&plan(cluster));
    let pod = sts.spec.template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("bk-service-account"));
    let c = &pod.containers[0];
    assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
    let res = c.resources.as_ref().unwrap();
    assert_eq!(res.requests.as_ref().unwrap()["cpu"].0, "2");
    assert_eq!(res.limits, None);
}

#[test]
fn pod_disruption_budget() {
    let pdb: PodDisruptionBudget = typed(&plan(seed_cluster()), 3);
    let spec = pdb.spec.unwrap();
    assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(spec.min_available, None);
    assert_eq!(spec.selector.unwrap().match_labels, Some(ecs_plugin_sdk::k8s::labels("ecs", COMPONENT)));
}

fn observed_sts(replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "ecs-bookie", "namespace": "ecs-io"},
        "spec": {
            "replicas": replicas, "serviceName": "ecs-bookie-headless",
            "selector": {"matchLabels": {"component": "bookie"}},
            "template": {"spec": {"containers": [{"name": "bookie"}]}}
        }
    })
}

#[test]
fn observed_replicas_never_drive_the_plan() {
    // The host runs scale-downs; the plugin renders what it is told, with no events of its own.
    for observed in [vec![], vec![observed_sts(5)], vec![observed_sts(2)]] {
        let p = Bookkeeper::reconcile(&input(seed_cluster(), observed)).unwrap();
        assert!(p.events.is_empty());
        assert_eq!(stateful_set(&p).spec.replicas, Some(3));
        assert_eq!(p.objects.len(), 4);
    }
}

fn scaling(replicas: u32, retire: Option<u32>) -> Plan {
    let mut i = input(seed_cluster(), vec![observed_sts(5)]);
    i.scale_down = Some(ScaleDown { replicas, retire });
    Bookkeeper::reconcile(&i).unwrap()
}

#[test]
fn a_scale_down_step_sets_the_replicas_and_plans_no_job_until_told() {
    let p = scaling(4, None);
    assert_eq!(stateful_set(&p).spec.replicas, Some(4));
    assert_eq!(p.objects.len(), 4, "no Job while the bookie's pod still runs");
    // The component still reports the spec's count as desired.
    assert_eq!(p.status.desired_replicas, 3);
}

#[test]
fn retiring_a_bookie_plans_its_decommission_job() {
    let p = scaling(4, Some(4));
    assert_eq!(p.objects.len(), 5);
    let job: Job = typed(&p, 4);
    assert_eq!(job.metadata.name.as_deref(), Some("ecs-bookie-decommission-4"));
    let spec = job.spec.unwrap();
    assert_eq!(spec.active_deadline_seconds, Some(21600));
    assert_eq!(spec.backoff_limit, Some(2));
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("ecs/bookkeeper:0.5.0"));
    let script = c.args.as_ref().unwrap().join(" ");
    assert!(script.contains("decommissionbookie -bookieid"), "{script}");
    // A wrong id fails the Job instead of passing vacuously.
    assert!(script.contains("cookie_get \"$bookie\"") && script.contains("exit 1"), "{script}");
    assert!(script.find("cookie_get") < script.find("decommissionbookie"), "{script}");
    assert!(script.contains("ecs-bookie-4.ecs-bookie-headless.${domain}:3181"), "{script}");
    assert_eq!(c.env_from.as_ref().unwrap()[0].config_map_ref.as_ref().unwrap().name, "ecs-bookie");
    // No labels of its own on the pod: the host gives Job pods a label apart from the bookies'.
    assert!(spec.template.metadata.is_none());
}

#[test]
fn decommission_timeout_comes_from_the_spec() {
    let cluster = seed_with(|bk| bk["decommissionTimeoutSeconds"] = json!(600));
    let mut i = input(cluster, Vec::new());
    i.scale_down = Some(ScaleDown { replicas: 3, retire: Some(3) });
    let job: Job = typed(&Bookkeeper::reconcile(&i).unwrap(), 4);
    assert_eq!(job.spec.unwrap().active_deadline_seconds, Some(600));
}

#[test]
fn declares_its_zookeeper_tree_for_cleanup() {
    let p = plan(seed_cluster());
    assert_eq!(p.cleanup, [Cleanup::ZookeeperTree("/ecs/ecs/bookkeeper".into())]);
    assert_eq!(config_data(&p)["BK_zkLedgersRootPath"], "/ecs/ecs/bookkeeper/ledgers");
}

#[test]
fn status_counts_ready_bookies() {
    let pod = |name: &str, ready: bool| testing::observed_pod(name, "bookie", "ecs/bookkeeper:0.5.0", ready);
    let observed = vec![pod("ecs-bookie-1", false), pod("ecs-bookie-0", true), pod("ecs-bookie-2", true)];
    let p = Bookkeeper::reconcile(&input(seed_cluster(), observed)).unwrap();
    assert_eq!(p.status.component, "bookie");
    assert_eq!(p.status.desired_replicas, 3);
    assert_eq!(p.status.ready_replicas, 2);
    assert_eq!(p.status.ready_members, ["ecs-bookie-0", "ecs-bookie-2"]);
    assert_eq!(p.status.unready_members, ["ecs-bookie-1"]);
    assert_eq!(p.status.current_version.as_deref(), Some("0.5.0"));
}

#[test]
fn validate_reports_every_problem_sorted() {
    let cluster = seed_with(|bk| {
        bk["replicas"] = json!(2);
        bk["options"] = json!({"ok.key-1_x": "1", "bad key": "2", "": "3"});
        bk["jvmOptions"] = json!({"memoryOpts": ["-Xmx1g", "Xms1g"], "gcOpts": ["UseG1GC"]});
        bk["storage"]["journalVolumeClaimTemplate"] = json!({"accessModes": ["ReadWriteOnce"]});
        bk["storage"]["indexVolumeClaimTemplate"] = json!({"resources": {"requests": {}}});
    });
    let errors = Bookkeeper::validate(&cluster);
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.bookkeeper.jvmOptions.gcOpts[0]",
            "spec.bookkeeper.jvmOptions.memoryOpts[1]",
            "spec.bookkeeper.options.",
            "spec.bookkeeper.options.bad key",
            "spec.bookkeeper.replicas",
            "spec.bookkeeper.storage.indexVolumeClaimTemplate.resources.requests.storage",
            "spec.bookkeeper.storage.journalVolumeClaimTemplate.resources.requests.storage",
        ]
    );
    let replicas = errors.iter().find(|e| e.path == "spec.bookkeeper.replicas").unwrap();
    assert!(replicas.message.contains("quorum"), "{}", replicas.message);
    let mut sorted = errors.clone();
    sorted.sort();
    assert_eq!(errors, sorted);
}

#[test]
fn reconcile_rejects_an_invalid_spec() {
    let cluster = seed_with(|bk| bk["replicas"] = json!(1));
    match Bookkeeper::reconcile(&input(cluster, Vec::new())) {
        Err(PluginError::InvalidInput(errors)) => {
            assert_eq!(errors[0].path, "spec.bookkeeper.replicas")
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[test]
fn empty_version_falls_back_to_the_spec_target() {
    let mut i = input(seed_cluster(), Vec::new());
    i.versions.bookkeeper = String::new();
    let p = Bookkeeper::reconcile(&i).unwrap();
    let c = &stateful_set(&p).spec.template.spec.unwrap().containers[0];
    assert_eq!(c.image.as_deref(), Some("ecs/bookkeeper:0.4.0"));
}
