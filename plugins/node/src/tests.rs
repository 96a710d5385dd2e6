use crate::Node;
use ecs_plugin_sdk::{
    Cluster, EnvVar, FieldError, Plan, PluginError, PluginKind, ReconcileInput, Reconciler, SecretEnv, Tier2Wiring,
    testing,
};
use serde_json::{Value, json};

/// The seed README's example cluster (3 bookies, 1 controller, 3 nodes, NFS Tier-2).
fn seed() -> Value {
    testing::seed_spec_json()
}

/// The seed with `patch` merged in (objects merge recursively, anything else replaces).
fn seed_with(patch: Value) -> Value {
    let mut spec = seed();
    testing::merge(&mut spec, patch);
    spec
}

fn cluster(spec: Value) -> Cluster {
    testing::cluster().spec(spec).build()
}

/// What the `tier2-nfs` provider gives for the seed's claim.
fn nfs_wiring() -> Tier2Wiring {
    Tier2Wiring {
        env: vec![EnvVar::new("TIER2_STORAGE", "FILESYSTEM"), EnvVar::new("NFS_MOUNT", "/mnt/tier2")],
        volumes: vec![json!({"name": "tier2", "persistentVolumeClaim": {"claimName": "ecs-tier2"}})],
        mounts: vec![json!({"name": "tier2", "mountPath": "/mnt/tier2"})],
        ..Default::default()
    }
}

fn input(spec: Value, tier2: Tier2Wiring) -> ReconcileInput {
    ReconcileInput { tier2: Some(tier2), ..testing::reconcile_input(cluster(spec)) }
}

fn plan(spec: Value) -> Plan {
    Node::reconcile(&input(spec, nfs_wiring())).unwrap()
}

fn find<'a>(plan: &'a Plan, kind: &str, name: &str) -> &'a Value {
    plan.objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn config_data(plan: &Plan) -> &Value {
    &find(plan, "ConfigMap", "ecs-ecs-node")["data"]
}

fn pod_spec(plan: &Plan) -> &Value {
    &find(plan, "StatefulSet", "ecs-ecs-node")["spec"]["template"]["spec"]
}

fn failure(result: Result<Plan, PluginError>) -> String {
    match result {
        Err(PluginError::Failed(message)) => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn paths(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.path.as_str()).collect()
}

const DEFAULT_JAVA_OPTS: &str = "-Xms1g -XX:MaxDirectMemorySize=1g -XX:+ExitOnOutOfMemoryError \
    -XX:+CrashOnOutOfMemoryError -XX:+UseContainerSupport -XX:MaxRAMPercentage=50.0";

#[test]
fn describes_itself() {
    let info = Node::describe();
    testing::assert_plugin_info(&info, "node", env!("CARGO_PKG_VERSION"), PluginKind::Reconciler, "ecs-node", &[]);
}

#[test]
fn seed_example_is_valid() {
    assert_eq!(Node::validate(&cluster(seed())), Vec::<FieldError>::new());
}

#[test]
fn seed_example_plans_the_node_objects_in_order() {
    let plan = plan(seed());
    assert_eq!(
        testing::object_ids(&plan.objects),
        [
            ("v1", "ConfigMap", "ecs-ecs-node"),
            ("v1", "Service", "ecs-ecs-node-headless"),
            ("apps/v1", "StatefulSet", "ecs-ecs-node"),
            ("policy/v1", "PodDisruptionBudget", "ecs-ecs-node"),
        ]
    );
    for object in &plan.objects {
        assert_eq!(object["metadata"]["namespace"], "ecs-io");
        assert_eq!(
            object["metadata"]["labels"],
            json!({"app": "ecs-cluster", "ecs_cluster": "ecs", "component": "ecs-node"})
        );
    }
    assert_eq!(find(&plan, "PodDisruptionBudget", "ecs-ecs-node")["apiVersion"], "policy/v1");
    assert_eq!(find(&plan, "StatefulSet", "ecs-ecs-node")["apiVersion"], "apps/v1");
}

#[test]
fn seed_config_map_wires_zookeeper_controller_bookies_and_tier2() {
    let plan = plan(seed());
    assert_eq!(
        config_data(&plan),
        &json!({
            "CLUSTER_NAME": "ecs",
            "ZK_URL": "zk-client:2181",
            "CONTROLLER_URL": "tcp://ecs-ecs-controller.ecs-io:9090",
            "WAIT_FOR": "ecs-bookie-0.ecs-bookie-headless.ecs-io:3181,ecs-bookie-1.ecs-bookie-headless.ecs-io:3181,\
                         ecs-bookie-2.ecs-bookie-headless.ecs-io:3181",
            "JAVA_OPTS": format!("{DEFAULT_JAVA_OPTS} -Decsservice.clusterName=ecs"),
            "TIER2_STORAGE": "FILESYSTEM",
            "NFS_MOUNT": "/mnt/tier2",
        })
    );
}

#[test]
fn waits_for_at_most_three_bookies() {
    let plan = plan(seed_with(json!({"bookkeeper": {"replicas": 5}})));
    let wait_for = config_data(&plan)["WAIT_FOR"].as_str().unwrap();
    assert_eq!(wait_for.split(',').count(), 3);
    assert!(!wait_for.contains("ecs-bookie-3"));
}

#[test]
fn java_opts_merge_defaults_tier2_and_user_flags_then_options_in_key_order() {
    let spec = seed_with(json!({"ecs": {
        "nodeJvmOptions": {
            "memoryOpts": ["-Xms2g", "-XX:MaxDirectMemorySize=4g"],
            "gcOpts": ["-XX:+UseG1GC"],
            "extraOpts": ["-Dhdfs.replication=2"]
        },
        "options": {"metrics.statsdPort": "8125", "metrics.enableStatistics": "true"}
    }}));
    let mut tier2 = nfs_wiring();
    tier2.jvm_options = vec!["-Dhdfs.replication=3".into(), "-Dtier2.flag=1".into()];
    let plan = Node::reconcile(&input(spec, tier2)).unwrap();
    assert_eq!(
        config_data(&plan)["JAVA_OPTS"],
        "-Xms2g -XX:MaxDirectMemorySize=4g -XX:+ExitOnOutOfMemoryError -XX:+CrashOnOutOfMemoryError \
         -XX:+UseContainerSupport -XX:MaxRAMPercentage=50.0 -Dhdfs.replication=2 -Dtier2.flag=1 -XX:+UseG1GC \
         -Decsservice.clusterName=ecs -Dmetrics.enableStatistics=true -Dmetrics.statsdPort=8125"
    );
}

#[test]
fn debug_logging_and_external_access_are_configured() {
    let plan = plan(seed_with(json!({
        "ecs": {"debugLogging": true},
        "externalAccess": {"enabled": true, "type": "NodePort", "domainName": "ecs.example.com"}
    })));
    let data = config_data(&plan);
    assert_eq!(data["log.level"], "DEBUG");
    assert_eq!(data["K8_EXTERNAL_ACCESS"], "true");
    assert_eq!(data["EXTERNAL_DOMAIN_NAME"], "ecs.example.com");

    let plain = self::plan(seed());
    let data = config_data(&plain).as_object().unwrap();
    assert!(!data.contains_key("log.level") && !data.contains_key("K8_EXTERNAL_ACCESS"));
}

#[test]
fn tier2_env_never_overrides_the_nodes_own_keys() {
    for key in ["ZK_URL", "JAVA_OPTS", "log.level", "POD_NAME"] {
        let mut tier2 = nfs_wiring();
        tier2.env.push(EnvVar::new(key, "x"));
        let message = failure(Node::reconcile(&input(seed(), tier2)));
        assert!(message.contains(key), "{message}");
    }
    let mut tier2 = nfs_wiring();
    tier2.env.push(EnvVar::new("NFS_MOUNT", "/elsewhere"));
    assert!(failure(Node::reconcile(&input(seed(), tier2))).contains("NFS_MOUNT"));
}

#[test]
fn missing_tier2_wiring_fails() {
    let mut input = input(seed(), nfs_wiring());
    input.tier2 = None;
    assert!(failure(Node::reconcile(&input)).contains("Tier-2"));
}

#[test]
fn stateful_set_uses_the_headless_service_that_exists() {
    let plan = plan(seed());
    let set = find(&plan, "StatefulSet", "ecs-ecs-node");
    assert_eq!(set["spec"]["serviceName"], "ecs-ecs-node-headless");
    let headless = find(&plan, "Service", "ecs-ecs-node-headless");
    assert_eq!(
        headless["spec"],
        json!({
            "clusterIP": "None",
            "ports": [{"name": "server", "port": 12345, "protocol": "TCP", "targetPort": 12345}],
            "selector": {"app": "ecs-cluster", "ecs_cluster": "ecs", "component": "ecs-node"},
            "publishNotReadyAddresses": true
        })
    );
    assert_eq!(set["spec"]["replicas"], 3);
    assert_eq!(set["spec"]["podManagementPolicy"], "Parallel");
    assert_eq!(set["spec"]["selector"]["matchLabels"], headless["spec"]["selector"]);
    assert_eq!(set["spec"]["template"]["metadata"]["labels"], headless["spec"]["selector"]);
}

#[test]
fn seed_container_runs_the_segment_store_with_tier2_mounted() {
    let plan = plan(seed());
    let pod = pod_spec(&plan);
    assert_eq!(
        pod["containers"][0],
        json!({
            "name": "ecs-node",
            "image": "ecs/ecs:0.4.0",
            "imagePullPolicy": "IfNotPresent",
            "args": ["segmentstore"],
            "ports": [{"name": "server", "containerPort": 12345}],
            "envFrom": [{"configMapRef": {"name": "ecs-ecs-node"}}],
            "env": [
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
            ],
            "volumeMounts": [
                {"name": "cache", "mountPath": "/tmp/ecs/cache"},
                {"name": "tier2", "mountPath": "/mnt/tier2"}
            ],
            "readinessProbe": {"tcpSocket": {"port": 12345}, "initialDelaySeconds": 20, "periodSeconds": 10},
            "livenessProbe": {"tcpSocket": {"port": 12345}, "initialDelaySeconds": 60, "periodSeconds": 15},
            "resources": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "2Gi"}
            },
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}
        })
    );
    // Pod Security "restricted": a non-root user owning the volumes, the runtime's seccomp profile.
    assert_eq!(
        pod["securityContext"],
        json!({"runAsNonRoot": true, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
            "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}})
    );
    assert_eq!(pod["volumes"], json!([{"name": "tier2", "persistentVolumeClaim": {"claimName": "ecs-tier2"}}]));
    assert_eq!(
        pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"],
        json!([{
            "weight": 100,
            "podAffinityTerm": {
                "labelSelector": {"matchLabels": {"app": "ecs-cluster", "ecs_cluster": "ecs", "component": "ecs-node"}},
                "topologyKey": "kubernetes.io/hostname"
            }
        }])
    );
    assert!(pod.get("serviceAccountName").is_none());
}

#[test]
fn cache_claim_template_comes_from_the_spec() {
    let plan = plan(seed());
    let set = find(&plan, "StatefulSet", "ecs-ecs-node");
    assert_eq!(
        set["spec"]["volumeClaimTemplates"],
        json!([{
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "cache", "labels": {"app": "ecs-cluster", "ecs_cluster": "ecs", "component": "ecs-node"}},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "standard",
                "resources": {"requests": {"storage": "20Gi"}}
            }
        }])
    );
}

#[test]
fn image_version_comes_from_the_host_and_settings_from_the_spec() {
    let spec = seed_with(json!({"ecs": {
        "image": {"pullPolicy": "Always"},
        "nodeServiceAccountName": "ss-service-account",
        "nodeResources": {"requests": {"cpu": "2", "memory": "4Gi"}}
    }}));
    let mut input = input(spec, nfs_wiring());
    input.versions.node = "0.5.0".into();
    let plan = Node::reconcile(&input).unwrap();
    let pod = pod_spec(&plan);
    assert_eq!(pod["containers"][0]["image"], "ecs/ecs:0.5.0");
    assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(pod["containers"][0]["resources"], json!({"requests": {"cpu": "2", "memory": "4Gi"}}));
    assert_eq!(pod["serviceAccountName"], "ss-service-account");
}

#[test]
fn secrets_are_read_by_env_from_with_their_prefix() {
    let tier2 = Tier2Wiring {
        env: vec![EnvVar::new("TIER2_STORAGE", "EXTENDEDS3")],
        secret_env: vec![
            SecretEnv { secret_name: "ecs-credentials".into(), prefix: "EXTENDEDS3_".into() },
            SecretEnv { secret_name: "other".into(), prefix: "OTHER_".into() },
        ],
        ..Default::default()
    };
    let plan = Node::reconcile(&input(seed(), tier2)).unwrap();
    let container = &pod_spec(&plan)["containers"][0];
    assert_eq!(
        container["envFrom"],
        json!([
            {"configMapRef": {"name": "ecs-ecs-node"}},
            {"secretRef": {"name": "ecs-credentials"}, "prefix": "EXTENDEDS3_"},
            {"secretRef": {"name": "other"}, "prefix": "OTHER_"}
        ])
    );
    // No Tier-2 volumes: nothing but the cache.
    assert!(pod_spec(&plan).get("volumes").is_none());
    assert_eq!(container["volumeMounts"], json!([{"name": "cache", "mountPath": "/tmp/ecs/cache"}]));
    // Secret values never reach the ConfigMap.
    let data = config_data(&plan).as_object().unwrap();
    assert!(!data.keys().any(|k| k.contains("ACCESS_KEY") || k.contains("SECRET")));
}

#[test]
fn malformed_tier2_volumes_and_mounts_fail_by_name() {
    // Field types and allowed sources are the host's check (its Tier-2 policy), before the node sees them.
    let mut tier2 = nfs_wiring();
    tier2.volumes = vec![json!({"name": "tier2"})];
    let message = failure(Node::reconcile(&input(seed(), tier2)));
    assert!(message.contains("volume source") && message.contains("\"tier2\""), "{message}");

    let mut tier2 = nfs_wiring();
    tier2.volumes = vec![json!({"name": 7, "persistentVolumeClaim": {"claimName": "ecs-tier2"}})];
    assert!(failure(Node::reconcile(&input(seed(), tier2))).contains("Tier-2 volume #0"));

    let mut tier2 = nfs_wiring();
    tier2.mounts = vec![json!({"name": "tier2"})];
    let message = failure(Node::reconcile(&input(seed(), tier2)));
    assert!(message.contains("volume mount") && message.contains("\"tier2\""), "{message}");

    let mut tier2 = nfs_wiring();
    tier2.mounts = vec![json!({"name": "elsewhere", "mountPath": "/mnt/x"})];
    assert!(failure(Node::reconcile(&input(seed(), tier2))).contains("\"elsewhere\""));

    let mut tier2 = nfs_wiring();
    tier2.volumes.push(json!({"name": "cache", "emptyDir": {}}));
    assert!(failure(Node::reconcile(&input(seed(), tier2))).contains("\"cache\""));

    let mut tier2 = nfs_wiring();
    tier2.mounts = vec![json!({"name": "tier2", "mountPath": "/tmp/ecs/cache"})];
    assert!(failure(Node::reconcile(&input(seed(), tier2))).contains("/tmp/ecs/cache"));
}

#[test]
fn a_single_node_may_not_be_disrupted() {
    let one = plan(seed_with(json!({"ecs": {"nodeReplicas": 1}})));
    let pdb = find(&one, "PodDisruptionBudget", "ecs-ecs-node");
    assert_eq!(pdb["spec"]["maxUnavailable"], 0);
    assert_eq!(pdb["spec"]["selector"]["matchLabels"]["component"], "ecs-node");
    let three = plan(seed());
    assert_eq!(find(&three, "PodDisruptionBudget", "ecs-ecs-node")["spec"]["maxUnavailable"], 1);
}

#[test]
fn external_access_gives_each_node_its_own_service() {
    let plan = plan(seed_with(json!({
        "externalAccess": {"enabled": true, "type": "LoadBalancer", "domainName": "ecs.example.com"}
    })));
    assert_eq!(plan.objects.len(), 4 + 3);
    for i in 0..3 {
        let name = format!("ecs-ecs-node-{i}");
        let service = find(&plan, "Service", &name);
        assert_eq!(plan.objects[4 + i]["metadata"]["name"], name.as_str());
        assert_eq!(
            service["metadata"]["annotations"],
            json!({"external-dns.alpha.kubernetes.io/hostname": format!("{name}.ecs.example.com.")})
        );
        assert_eq!(
            service["spec"],
            json!({
                "type": "LoadBalancer",
                "ports": [{"name": "server", "port": 12345, "protocol": "TCP", "targetPort": 12345}],
                "selector": {"app": "ecs-cluster", "ecs_cluster": "ecs", "component": "ecs-node",
                    "statefulset.kubernetes.io/pod-name": name},
                "externalTrafficPolicy": "Local"
            })
        );
    }

    let no_domain = self::plan(seed_with(json!({"externalAccess": {"enabled": true, "type": "NodePort"}})));
    let service = find(&no_domain, "Service", "ecs-ecs-node-0");
    assert!(service["metadata"].get("annotations").is_none());
    assert_eq!(service["spec"]["type"], "NodePort");
}

/// The host strips the provider's own objects from the wiring and applies them itself; should any
/// reach the node, they are not part of its plan.
#[test]
fn tier2_objects_are_left_to_the_host() {
    let mut tier2 = nfs_wiring();
    tier2.objects =
        vec![json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "ecs-ecs-io-tier2"},
        "spec": {"nfs": {"server": "10.0.0.2", "path": "/vol1"}}})];
    let plan = Node::reconcile(&input(seed(), tier2)).unwrap();
    assert_eq!(plan.objects.len(), 4);
    assert!(plan.objects.iter().all(|o| o["kind"] != "PersistentVolume"));
}

#[test]
fn status_counts_ready_node_pods() {
    let pod = |name: &str, component: &str, ready: bool| testing::observed_pod(name, component, "ecs/ecs:0.4.0", ready);
    let mut input = input(seed(), nfs_wiring());
    input.observed = vec![
        pod("ecs-ecs-node-1", "ecs-node", false),
        pod("ecs-ecs-node-0", "ecs-node", true),
        pod("ecs-bookie-0", "bookie", true),
    ];
    let status = Node::reconcile(&input).unwrap().status;
    assert_eq!(status.component, "ecs-node");
    assert_eq!(status.desired_replicas, 3);
    assert_eq!(status.ready_replicas, 1);
    assert_eq!(status.ready_members, vec!["ecs-ecs-node-0".to_string()]);
    assert_eq!(status.unready_members, vec!["ecs-ecs-node-1".to_string()]);
    assert_eq!(status.current_version.as_deref(), Some("0.4.0"));
}

#[test]
fn validation_reports_every_problem_at_its_path() {
    let spec = seed_with(json!({
        "ecs": {
            "nodeReplicas": 0,
            "cacheVolumeClaimTemplate": {"resources": {"requests": {"storage": null}}},
            "nodeJvmOptions": {"memoryOpts": ["-Xmx2g", "Xms1g"], "gcOpts": [""], "extraOpts": ["-Da=b", "foo"]}
        },
        "externalAccess": {"enabled": true, "domainName": "Example.com."}
    }));
    let mut spec = spec;
    spec["ecs"]["cacheVolumeClaimTemplate"]["resources"]["requests"].as_object_mut().unwrap().remove("storage");
    let errors = Node::validate(&cluster(spec.clone()));
    assert_eq!(
        paths(&errors),
        vec![
            "spec.ecs.nodeReplicas",
            "spec.ecs.cacheVolumeClaimTemplate.resources.requests.storage",
            "spec.ecs.nodeJvmOptions.memoryOpts[1]",
            "spec.ecs.nodeJvmOptions.gcOpts[0]",
            "spec.ecs.nodeJvmOptions.extraOpts[1]",
            "spec.externalAccess.domainName",
        ]
    );
    // The same words as the other reconcilers, so that the host shows a shared problem once.
    assert_eq!(errors[0].message, "must be at least 1 (got 0)");
    assert_eq!(errors[2].message, "JVM flags must start with '-' (got \"Xms1g\")");
    assert_eq!(Node::reconcile(&input(spec, nfs_wiring())), Err(PluginError::InvalidInput(errors)));
}

/// JAVA_OPTS is split on whitespace, as in the controller: the same rule, in the same words (the host
/// shows a problem both report once).
#[test]
fn options_must_fit_in_java_opts() {
    let spec = seed_with(json!({"ecs": {"options": {"ok.key": "1", "spaced.value": "x y", "a=b": "2"}}}));
    let errors = Node::validate(&cluster(spec.clone()));
    assert_eq!(paths(&errors), vec!["spec.ecs.options.a=b", "spec.ecs.options.spaced.value"]);
    assert_eq!(errors[1].message, "option values must not contain whitespace (they are passed in JAVA_OPTS)");
    assert_eq!(Node::reconcile(&input(spec, nfs_wiring())), Err(PluginError::InvalidInput(errors)));
}

#[test]
fn cache_size_must_be_a_quantity() {
    for good in ["20Gi", "1.5T", "20000000000", "2e10"] {
        let spec =
            seed_with(json!({"ecs": {"cacheVolumeClaimTemplate": {"resources": {"requests": {"storage": good}}}}}));
        assert!(Node::validate(&cluster(spec)).is_empty(), "{good}");
    }
    for bad in ["20GB", "0", "", "Gi"] {
        let spec =
            seed_with(json!({"ecs": {"cacheVolumeClaimTemplate": {"resources": {"requests": {"storage": bad}}}}}));
        assert_eq!(
            paths(&Node::validate(&cluster(spec))),
            vec!["spec.ecs.cacheVolumeClaimTemplate.resources.requests.storage"],
            "{bad}"
        );
    }
}

#[test]
fn domain_names_must_be_dns_subdomains() {
    for good in ["example.com", "ecs.example.com", "a-1.b"] {
        let spec = seed_with(json!({"externalAccess": {"enabled": true, "domainName": good}}));
        assert!(Node::validate(&cluster(spec)).is_empty(), "{good}");
    }
    for bad in ["", "Example.com", "example.com.", "-a.com", "a..b", "a_b.com", &format!("{}.com", "a".repeat(64))] {
        let spec = seed_with(json!({"externalAccess": {"enabled": true, "domainName": bad}}));
        assert_eq!(paths(&Node::validate(&cluster(spec))), vec!["spec.externalAccess.domainName"], "{bad}");
    }
}

#[test]
fn cluster_names_must_leave_room_for_the_service_names() {
    let mut long = cluster(seed());
    long.name = "a".repeat(43);
    assert!(Node::validate(&long).is_empty());
    long.name = "a".repeat(44);
    let errors = Node::validate(&long);
    assert_eq!(paths(&errors), vec!["metadata.name"]);
    assert!(errors[0].message.contains("at most 43 characters"), "{}", errors[0].message);
}

#[test]
fn output_is_deterministic() {
    let spec = seed_with(json!({
        "ecs": {"options": {"b": "2", "a": "1", "c": "3"}},
        "externalAccess": {"enabled": true, "domainName": "example.com"}
    }));
    let first = Node::reconcile(&input(spec.clone(), nfs_wiring())).unwrap();
    let second = Node::reconcile(&input(spec, nfs_wiring())).unwrap();
    let render = |plan: &Plan| plan.objects.iter().map(Value::to_string).collect::<Vec<_>>();
    assert_eq!(render(&first), render(&second));
}
