//! Native tests on the seed's example cluster (README "Deploy a sample ECS cluster").

use crate::{COMPONENT, Controller};
use ecs_plugin_sdk::{Cluster, FieldError, Plan, PluginError, PluginKind, ReconcileInput, Reconciler, k8s, testing};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn seed_cluster() -> Cluster {
    testing::cluster().build()
}

/// The seed spec with an edit of the whole spec document.
fn seed_with(edit: impl FnOnce(&mut Value)) -> Cluster {
    testing::cluster().edit(edit).build()
}

fn input(cluster: Cluster, observed: Vec<Value>) -> ReconcileInput {
    let mut input = ReconcileInput { observed, ..testing::reconcile_input(cluster) };
    // Differs from image.tag on purpose: the host's version wins.
    input.versions.controller = "0.5.0".into();
    input
}

fn plan(cluster: Cluster) -> Plan {
    Controller::reconcile(&input(cluster, Vec::new())).expect("reconcile succeeds")
}

fn typed<T: serde::de::DeserializeOwned>(plan: &Plan, index: usize) -> T {
    testing::typed(&plan.objects[index])
}

fn config_data(plan: &Plan) -> BTreeMap<String, String> {
    typed::<ConfigMap>(plan, 0).data.unwrap()
}

fn deployment(plan: &Plan) -> Deployment {
    typed(plan, 2)
}

fn service_type(plan: &Plan) -> String {
    typed::<Service>(plan, 1).spec.unwrap().type_.unwrap()
}

const DEFAULT_JVM: &str = "-Xms512m -XX:+ExitOnOutOfMemoryError -XX:+CrashOnOutOfMemoryError \
                           -XX:+UseContainerSupport -XX:MaxRAMPercentage=50.0";

#[test]
fn describe_names_the_plugin() {
    let info = Controller::describe();
    testing::assert_plugin_info(
        &info,
        "controller",
        env!("CARGO_PKG_VERSION"),
        PluginKind::Reconciler,
        "ecs-controller",
        &[],
    );
}

#[test]
fn seed_spec_is_valid() {
    assert_eq!(Controller::validate(&seed_cluster()), Vec::<FieldError>::new());
}

#[test]
fn objects_come_in_a_fixed_order() {
    let plan = plan(seed_cluster());
    assert_eq!(
        testing::object_ids(&plan.objects),
        vec![
            ("v1", "ConfigMap", "ecs-ecs-controller"),
            ("v1", "Service", "ecs-ecs-controller"),
            ("apps/v1", "Deployment", "ecs-ecs-controller"),
            ("policy/v1", "PodDisruptionBudget", "ecs-ecs-controller"),
        ]
    );
    for o in &plan.objects {
        assert_eq!(o["metadata"]["namespace"], "ecs-io");
        assert_eq!(
            o["metadata"]["labels"],
            json!({"app": "ecs-cluster", "ecs_cluster": "ecs", "component": "ecs-controller"})
        );
    }
}

#[test]
fn output_is_deterministic() {
    let options = |spec: &mut Value| {
        spec["ecs"]["options"] = json!({"b.key": "2", "a.key": "1", "c.key": "3"});
    };
    let a = plan(seed_with(options));
    let b = plan(seed_with(options));
    let text = |p: &Plan| p.objects.iter().map(Value::to_string).collect::<Vec<_>>();
    assert_eq!(text(&a), text(&b));
}

#[test]
fn config_map_of_the_seed_cluster() {
    let data = config_data(&plan(seed_cluster()));
    let expected: BTreeMap<String, String> = [
        ("CLUSTER_NAME", "ecs"),
        ("ZK_URL", "zk-client:2181"),
        ("WAIT_FOR", "zk-client:2181"),
        ("REST_SERVER_PORT", "10080"),
        ("CONTROLLER_SERVER_PORT", "9090"),
        ("JAVA_OPTS", &format!("{DEFAULT_JVM} -Decsservice.clusterName=ecs")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(data, expected);
    // Upstream hard-coded a signing secret into this ConfigMap.
    assert!(!data.contains_key("TOKEN_SIGNING_KEY"));
}

#[test]
fn options_and_jvm_flags_build_java_opts() {
    let cluster = seed_with(|spec| {
        spec["ecs"]["options"] = json!({
            "metrics.statsdPort": "8125",
            "metrics.enableStatistics": "true",
            "metrics.statsdHost": "telegraph.default"
        });
        spec["ecs"]["controllerJvmOptions"] = json!({
            "memoryOpts": ["-Xms1g", "-Xmx2g"],
            "gcOpts": ["-XX:+UseG1GC"],
            "extraOpts": ["-XX:MaxRAMPercentage=75.0"]
        });
    });
    let data = config_data(&plan(cluster));
    assert_eq!(
        data["JAVA_OPTS"],
        "-Xms1g -XX:+ExitOnOutOfMemoryError -XX:+CrashOnOutOfMemoryError -XX:+UseContainerSupport \
         -XX:MaxRAMPercentage=75.0 -Xmx2g -XX:+UseG1GC -Decsservice.clusterName=ecs \
         -Dmetrics.enableStatistics=true -Dmetrics.statsdHost=telegraph.default -Dmetrics.statsdPort=8125"
    );
}

#[test]
fn cluster_name_option_overrides_the_default() {
    let cluster = seed_with(|spec| {
        spec["ecs"]["options"] = json!({"ecsservice.clusterName": "other", "a": "1"});
    });
    let data = config_data(&plan(cluster));
    assert_eq!(data["JAVA_OPTS"], format!("{DEFAULT_JVM} -Decsservice.clusterName=other -Da=1"));
}

#[test]
fn service_is_cluster_ip_with_rest_and_grpc() {
    let p = plan(seed_cluster());
    let svc: Service = typed(&p, 1);
    let spec = svc.spec.unwrap();
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    let ports: Vec<_> =
        spec.ports.unwrap().into_iter().map(|p| (p.name.unwrap(), p.port, p.protocol.unwrap())).collect();
    assert_eq!(ports, [("rest".into(), 10080, "TCP".into()), ("grpc".into(), 9090, "TCP".into())]);
    assert_eq!(spec.selector, Some(k8s::labels("ecs", COMPONENT)));
}

#[test]
fn external_access_sets_the_service_type() {
    let enabled = |ty: &str| {
        let ty = ty.to_string();
        seed_with(move |spec| spec["externalAccess"] = json!({"enabled": true, "type": ty}))
    };
    assert_eq!(service_type(&plan(enabled("LoadBalancer"))), "LoadBalancer");
    assert_eq!(service_type(&plan(enabled("NodePort"))), "NodePort");
    // The type alone does not expose anything.
    let disabled = seed_with(|spec| spec["externalAccess"] = json!({"enabled": false, "type": "NodePort"}));
    assert_eq!(service_type(&plan(disabled)), "ClusterIP");
}

#[test]
fn deployment_of_the_seed_cluster() {
    let d = deployment(&plan(seed_cluster()));
    let spec = &d.spec;
    assert_eq!(spec.replicas, Some(1));
    let labels = k8s::labels("ecs", COMPONENT);
    assert_eq!(spec.selector.match_labels.as_ref(), Some(&labels));
    assert_eq!(spec.template.metadata.as_ref().unwrap().labels.as_ref(), Some(&labels));

    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.service_account_name, None);
    let c = &pod.containers[0];
    assert_eq!(c.name, "ecs-controller");
    // versions.controller, not image.tag (0.4.0).
    assert_eq!(c.image.as_deref(), Some("ecs/ecs:0.5.0"));
    assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(c.args.as_deref().unwrap(), ["controller"]);
    let ports: Vec<_> = c.ports.as_ref().unwrap().iter().map(|p| (p.name.clone().unwrap(), p.container_port)).collect();
    assert_eq!(ports, [("rest".to_string(), 10080), ("grpc".to_string(), 9090)]);
    assert_eq!(c.env_from.as_ref().unwrap()[0].config_map_ref.as_ref().unwrap().name, "ecs-ecs-controller");
    let env: Vec<_> = c
        .env
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| (e.name.clone(), e.value_from.clone().unwrap().field_ref.unwrap().field_path))
        .collect();
    assert_eq!(
        env,
        [
            ("POD_NAME".to_string(), "metadata.name".to_string()),
            ("POD_NAMESPACE".to_string(), "metadata.namespace".to_string())
        ]
    );

    let readiness = c.readiness_probe.as_ref().unwrap();
    assert_eq!(readiness.tcp_socket.as_ref().unwrap().port, IntOrString::Int(9090));
    assert_eq!((readiness.initial_delay_seconds, readiness.period_seconds), (Some(20), Some(10)));
    let liveness = c.liveness_probe.as_ref().unwrap();
    assert_eq!(liveness.tcp_socket.as_ref().unwrap().port, IntOrString::Int(10080));
    assert_eq!((liveness.initial_delay_seconds, liveness.period_seconds), (Some(60), Some(15)));

    let res = c.resources.as_ref().unwrap();
    let requests = res.requests.as_ref().unwrap();
    let limits = res.limits.as_ref().unwrap();
    assert_eq!((requests["cpu"].0.as_str(), requests["memory"].0.as_str()), ("250m", "512Mi"));
    assert_eq!((limits["cpu"].0.as_str(), limits["memory"].0.as_str()), ("500m", "1Gi"));

    let anti = pod.affinity.as_ref().unwrap().pod_anti_affinity.as_ref().unwrap();
    let term = &anti.preferred_during_scheduling_ignored_during_execution.as_ref().unwrap()[0];
    assert_eq!(term.weight, 100);
    assert_eq!(term.pod_affinity_term.topology_key, "kubernetes.io/hostname");
    assert_eq!(term.pod_affinity_term.label_selector.as_ref().unwrap().match_labels.as_ref(), Some(&labels));
}

#[test]
fn custom_replicas_resources_and_service_account() {
    let cluster = seed_with(|spec| {
        spec["ecs"]["controllerReplicas"] = json!(2);
        spec["ecs"]["controllerServiceAccountName"] = json!("ctrl-service-account");
        spec["ecs"]["controllerResources"] = json!({"limits": {"memory": "3Gi"}});
        spec["ecs"]["image"]["pullPolicy"] = json!("Always");
    });
    let p = plan(cluster);
    let d = deployment(&p);
    assert_eq!(d.spec.replicas, Some(2));
    let pod = d.spec.template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("ctrl-service-account"));
    let c = &pod.containers[0];
    assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
    let res = c.resources.as_ref().unwrap();
    assert_eq!(res.limits.as_ref().unwrap()["memory"].0, "3Gi");
    assert_eq!(res.requests, None);
    assert_eq!(p.status.desired_replicas, 2);
}

#[test]
fn pod_disruption_budget() {
    let pdb: PodDisruptionBudget = typed(&plan(seed_cluster()), 3);
    let spec = pdb.spec.unwrap();
    assert_eq!(spec.min_available, Some(IntOrString::Int(1)));
    assert_eq!(spec.max_unavailable, None);
    assert_eq!(spec.selector.unwrap().match_labels, Some(k8s::labels("ecs", COMPONENT)));
}

#[test]
fn status_counts_ready_controllers() {
    let pod = |name: &str, component: &str, ready: bool| testing::observed_pod(name, component, "ecs/ecs:0.5.0", ready);
    let observed = vec![
        pod("ecs-ecs-controller-7489c9776d-lcw9x", "ecs-controller", true),
        // Another component's pod is not counted.
        pod("ecs-bookie-0", "bookie", false),
    ];
    let p = Controller::reconcile(&input(seed_cluster(), observed)).unwrap();
    assert_eq!(p.status.component, "ecs-controller");
    assert_eq!(p.status.desired_replicas, 1);
    assert_eq!(p.status.ready_replicas, 1);
    assert_eq!(p.status.ready_members, ["ecs-ecs-controller-7489c9776d-lcw9x"]);
    assert!(p.status.unready_members.is_empty());
    assert_eq!(p.status.current_version.as_deref(), Some("0.5.0"));
    assert!(p.events.is_empty());
}

#[test]
fn validate_reports_every_problem_sorted() {
    let cluster = seed_with(|spec| {
        spec["ecs"]["controllerReplicas"] = json!(0);
        spec["ecs"]["options"] = json!({
            "ok.key": "1", "bad key": "2", "a=b": "3", "": "4", "spaced.value": "x y"
        });
        spec["ecs"]["controllerJvmOptions"] = json!({"memoryOpts": ["-Xmx1g", "Xms1g"], "extraOpts": ["Dfoo=bar"]});
    });
    let errors = Controller::validate(&cluster);
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.ecs.controllerJvmOptions.extraOpts[0]",
            "spec.ecs.controllerJvmOptions.memoryOpts[1]",
            "spec.ecs.controllerReplicas",
            "spec.ecs.options.",
            "spec.ecs.options.a=b",
            "spec.ecs.options.bad key",
            "spec.ecs.options.spaced.value",
        ]
    );
    let replicas = errors.iter().find(|e| e.path == "spec.ecs.controllerReplicas").unwrap();
    assert_eq!(replicas.message, "must be at least 1 (got 0): clients and segment store nodes need a controller");
    let mut sorted = errors.clone();
    sorted.sort();
    assert_eq!(errors, sorted);
}

#[test]
fn reconcile_rejects_an_invalid_spec() {
    let cluster = seed_with(|spec| spec["ecs"]["controllerReplicas"] = json!(0));
    match Controller::reconcile(&input(cluster, Vec::new())) {
        Err(PluginError::InvalidInput(errors)) => {
            assert_eq!(errors[0].path, "spec.ecs.controllerReplicas")
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[test]
fn empty_version_falls_back_to_the_spec_target() {
    let mut i = input(seed_cluster(), Vec::new());
    i.versions.controller = String::new();
    let p = Controller::reconcile(&i).unwrap();
    let c = &deployment(&p).spec.template.spec.unwrap().containers[0];
    assert_eq!(c.image.as_deref(), Some("ecs/ecs:0.4.0"));
}
