//! The Helm chart (deploy/helm/ecs-operator) kept in step with deploy/, and installed for real.
//!
//! Offline (part of `cargo test --workspace`): the chart's CRD is the generated one; with
//! `ECS_TEST_HELM` (a helm binary, built by tests/cluster/helm.sh; `make test` sets it) `helm lint`
//! passes, the default rendering runs the same pod as deploy/operator.yaml under the same RBAC rules
//! as deploy/role.yaml, values reach the Deployment, and values.schema.json refuses wrong values
//! naming them. Without `ECS_TEST_HELM` those tests print why they did not run.
//!
//! Live (`#[ignore]`, run by tests/cluster/integration.sh with `ECS_TEST_KUBECONFIG`,
//! `ECS_TEST_KUBECTL` and `ECS_TEST_HELM`): helm install, upgrade and uninstall on the local control
//! plane, namespaced and cluster-wide, each with the seed example reconciled by the operator binary
//! running locally as the chart's ServiceAccount (a TokenRequest token, so only the chart's RBAC
//! applies): kwok runs no containers, so the chart's pod itself does nothing. Also the plugin
//! examples patched into deploy/operator.yaml's Deployment.

mod common;

use common::live::*;
use common::{kubeconfig, kubectl, kubectl_in, run_kubectl, wait_for};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/helm/ecs-operator");
const CRD_IN_CHART: &str = "deploy/helm/ecs-operator/crds/ecsclusters.ecs.ecs.io.yaml";

// ---------------------------------------------------------------------------------------------
// helm and YAML

/// The helm binary from `ECS_TEST_HELM`; `None` (saying so) when it is not set.
fn helm_bin(test: &str) -> Option<PathBuf> {
    let Some(path) = std::env::var_os("ECS_TEST_HELM") else {
        // Written to stderr directly: the test harness would swallow eprintln! of a passing test.
        let reason = format!(
            "{test}: skipped, ECS_TEST_HELM is not set (`make unit` sets it; or tests/cluster/helm.sh build)\n"
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), reason.as_bytes());
        return None;
    };
    let path = PathBuf::from(path);
    assert!(path.is_file(), "ECS_TEST_HELM={} does not exist: run tests/cluster/helm.sh build", path.display());
    Some(path)
}

/// `helm ARGS` with its cache, configuration and data in a directory of the test's: its stdout, or
/// stdout and stderr on failure.
fn run_helm(helm: &Path, args: &[&str]) -> Result<String, String> {
    let home = std::env::temp_dir().join(format!("ecs-helm-home-{}", std::process::id()));
    let out = Command::new(helm)
        .args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("helm runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(String::from_utf8_lossy(&out.stdout).into_owned()) } else { Err(text) }
}

fn helm_ok(helm: &Path, args: &[&str]) -> String {
    run_helm(helm, args).unwrap_or_else(|e| panic!("helm {}:\n{e}", args.join(" ")))
}

/// Every document of a YAML stream, as JSON values (empty documents left out).
fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).expect("valid YAML"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn read_yaml(path: &str) -> Vec<Value> {
    documents(&read(path))
}

/// `helm template ecs-operator CHART --namespace default EXTRA...`, as documents.
fn template(helm: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["template", "ecs-operator", CHART, "--namespace", "default"];
    args.extend_from_slice(extra);
    documents(&helm_ok(helm, &args))
}

fn template_error(helm: &Path, extra: &[&str]) -> String {
    let mut args = vec!["template", "ecs-operator", CHART, "--namespace", "default"];
    args.extend_from_slice(extra);
    match run_helm(helm, &args) {
        Ok(out) => panic!("helm template {} was accepted:\n{out}", extra.join(" ")),
        Err(e) => e,
    }
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(docs, kind);
    assert_eq!(found.len(), 1, "expected one {kind}, found {}", found.len());
    found[0]
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn args(deployment: &Value) -> Vec<String> {
    container(deployment)["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

fn env_value(deployment: &Value, name: &str) -> Option<Value> {
    container(deployment)["env"].as_array()?.iter().find(|e| e["name"] == name).cloned()
}

/// (apiGroup, resource, verbs) of every rule, one entry per group and resource.
type Rule = (String, String, Vec<String>);

fn rules_of(role: &Value) -> Vec<Rule> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().map(|s| s.as_str().unwrap().to_string()).collect()
    };
    let mut out = Vec::new();
    for rule in role["rules"].as_array().unwrap() {
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                out.push((group.clone(), resource, strings(&rule["verbs"])));
            }
        }
    }
    out
}

fn deploy_role(kind: &str) -> Vec<Rule> {
    let docs = read_yaml("deploy/role.yaml");
    rules_of(one(&docs, kind))
}

// ---------------------------------------------------------------------------------------------
// Offline: no helm needed

#[test]
fn the_charts_crd_is_the_generated_one() {
    let in_chart = read(CRD_IN_CHART);
    assert!(
        in_chart == ecs_operator::crd::crd_yaml(),
        "{CRD_IN_CHART} is stale: `make crd` regenerates deploy/crd.yaml and copies it into the chart"
    );
    assert_eq!(in_chart, read("deploy/crd.yaml"), "{CRD_IN_CHART} differs from deploy/crd.yaml: run `make crd`");
}

#[test]
fn chart_and_deploy_run_the_crates_version() {
    let version = env!("CARGO_PKG_VERSION");
    let chart: Value = serde_yaml::from_str(&read("deploy/helm/ecs-operator/Chart.yaml")).unwrap();
    assert_eq!(chart["appVersion"], version, "Chart.yaml appVersion");
    assert_eq!(chart["version"], version, "Chart.yaml version");
    let operator = read_yaml("deploy/operator.yaml");
    let image = container(one(&operator, "Deployment"))["image"].as_str().unwrap().to_string();
    assert_eq!(image, format!("ecs/ecs-operator:{version}"), "deploy/operator.yaml's image");
    let values: Value = serde_yaml::from_str(&read("deploy/helm/ecs-operator/values.yaml")).unwrap();
    assert_eq!(values["image"]["repository"], "ecs/ecs-operator");
}

/// A capability misspelt in `grants` would grant nothing, silently: the schema lists the host's.
#[test]
fn the_schema_knows_exactly_the_hosts_capabilities() {
    let schema: Value = serde_json::from_str(&read("deploy/helm/ecs-operator/values.schema.json")).unwrap();
    let per_plugin = schema["properties"]["grants"]["patternProperties"].as_object().unwrap().values().next().unwrap();
    let listed: BTreeSet<&str> =
        per_plugin["items"]["enum"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let host: BTreeSet<&str> =
        [ecs_operator::kinds::CAP_PERSISTENT_VOLUME, ecs_operator::kinds::CAP_NFS_VOLUME].into_iter().collect();
    assert_eq!(listed, host);
}

// ---------------------------------------------------------------------------------------------
// Offline, with helm

#[test]
fn helm_lint_passes_for_both_scopes_and_both_plugin_sources() {
    let Some(helm) = helm_bin("helm_lint_passes_for_both_scopes_and_both_plugin_sources") else { return };
    for extra in [
        &[][..],
        &["--set", "watchScope=clusterWide"],
        &["--set", "plugins.configMap=ecs-plugins", "--set-json", r#"grants={"tier2-nfs-inline":["volumes:nfs"]}"#],
        &["--set", "plugins.image.reference=registry.example.com/ecs-plugins:1.0"],
        &["--set", "pins.tier2-nfs-inline=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"],
    ] {
        let mut args = vec!["lint", "--strict", CHART];
        args.extend_from_slice(extra);
        let out = helm_ok(&helm, &args);
        assert!(out.contains("1 chart(s) linted, 0 chart(s) failed"), "helm {}:\n{out}", args.join(" "));
    }
}

#[test]
fn default_values_run_the_pod_of_deploy_operator_yaml() {
    let Some(helm) = helm_bin("default_values_run_the_pod_of_deploy_operator_yaml") else { return };
    let chart = template(&helm, &[]);
    let deploy = read_yaml("deploy/operator.yaml");
    let (ours, theirs) = (one(&chart, "Deployment"), one(&deploy, "Deployment"));
    assert_eq!(ours["metadata"]["name"], theirs["metadata"]["name"]);
    assert_eq!(ours["spec"]["replicas"], theirs["spec"]["replicas"]);
    // Field by field first, for a readable failure; then the whole pod.
    let (a, b) = (container(ours), container(theirs));
    for field in [
        "image",
        "imagePullPolicy",
        "args",
        "env",
        "ports",
        "securityContext",
        "resources",
        "livenessProbe",
        "readinessProbe",
    ] {
        assert_eq!(a[field], b[field], "container {field}: chart (left) vs deploy/operator.yaml (right)");
    }
    assert_eq!(
        ours["spec"]["template"]["spec"], theirs["spec"]["template"]["spec"],
        "pod spec: chart (left) vs deploy/operator.yaml (right)"
    );
    // The identity it runs as, with deploy/'s names.
    let sa = one(&chart, "ServiceAccount");
    assert_eq!(
        sa["metadata"]["name"],
        one(&read_yaml("deploy/service_account.yaml"), "ServiceAccount")["metadata"]["name"]
    );
    assert_eq!(ours["spec"]["template"]["spec"]["serviceAccountName"], sa["metadata"]["name"]);
    // Helm's labels, not the operator's: app.kubernetes.io/managed-by=ecs-operator selects what it manages.
    for doc in &chart {
        assert_ne!(doc["metadata"]["labels"]["app.kubernetes.io/managed-by"], "ecs-operator", "{doc}");
    }
}

#[test]
fn rbac_is_deploy_role_yaml_in_both_scopes() {
    let Some(helm) = helm_bin("rbac_is_deploy_role_yaml_in_both_scopes") else { return };
    let (role, cluster_role) = (deploy_role("Role"), deploy_role("ClusterRole"));

    let namespaced = template(&helm, &[]);
    assert_eq!(rules_of(one(&namespaced, "Role")), role, "namespace scope: the Role");
    assert_eq!(rules_of(one(&namespaced, "ClusterRole")), cluster_role, "namespace scope: the ClusterRole");
    let binding = one(&namespaced, "RoleBinding");
    assert_eq!(
        binding["roleRef"],
        json!({"kind": "Role", "name": "ecs-operator", "apiGroup": "rbac.authorization.k8s.io"})
    );
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "ecs-operator", "namespace": "default"}])
    );
    // Cluster-scoped names carry the namespace, so that releases in two namespaces do not collide.
    let cluster_binding = one(&namespaced, "ClusterRoleBinding");
    assert_eq!(cluster_binding["roleRef"]["name"], "ecs-operator-default");
    assert_eq!(one(&namespaced, "ClusterRole")["metadata"]["name"], "ecs-operator-default");
    assert_eq!(cluster_binding["subjects"], binding["subjects"]);
    let watch = env_value(one(&namespaced, "Deployment"), "WATCH_NAMESPACE").unwrap();
    assert_eq!(watch["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace");

    let wide = template(&helm, &["--set", "watchScope=clusterWide"]);
    assert!(of_kind(&wide, "Role").is_empty() && of_kind(&wide, "RoleBinding").is_empty(), "clusterWide: no Role");
    let all: Vec<Rule> = role.iter().chain(&cluster_role).cloned().collect();
    assert_eq!(rules_of(one(&wide, "ClusterRole")), all, "clusterWide: the Role's rules and the ClusterRole's");
    assert_eq!(one(&wide, "ClusterRoleBinding")["subjects"], binding["subjects"]);
    assert_eq!(
        env_value(one(&wide, "Deployment"), "WATCH_NAMESPACE").unwrap(),
        json!({"name": "WATCH_NAMESPACE", "value": ""})
    );
}

#[test]
fn values_reach_the_deployment() {
    let Some(helm) = helm_bin("values_reach_the_deployment") else { return };
    let pin = "ab".repeat(32);
    let docs = template(
        &helm,
        &[
            "--set-json",
            r#"grants={"tier2-nfs-inline":["volumes:nfs"],"my-tier2":["emits:PersistentVolume","volumes:nfs"]}"#,
            "--set-json",
            r#"allowOverride=["node"]"#,
            "--set",
            &format!("pins.tier2-nfs-inline={pin}"),
            "--set",
            "plugins.configMap=ecs-plugins",
            "--set",
            "plugins.pollSeconds=5",
            "--set",
            "image.tag=0.2.0",
            "--set",
            "resources.limits.memory=1Gi",
            "--set",
            "adminListen=off",
        ],
    );
    let deployment = one(&docs, "Deployment");
    assert_eq!(
        args(deployment),
        [
            "run",
            "--grant=my-tier2=emits:PersistentVolume",
            "--grant=my-tier2=volumes:nfs",
            "--grant=tier2-nfs-inline=volumes:nfs",
            "--allow-override=node"
        ]
    );
    assert_eq!(container(deployment)["image"], "ecs/ecs-operator:0.2.0");
    assert_eq!(container(deployment)["resources"]["limits"]["memory"], "1Gi");
    assert_eq!(env_value(deployment, "ECS_ADMIN_LISTEN").unwrap()["value"], "off");
    assert_eq!(env_value(deployment, "ECS_PLUGIN_DIR").unwrap()["value"], "/plugins");
    assert_eq!(env_value(deployment, "ECS_PLUGIN_POLL_SECONDS").unwrap()["value"], "5");
    let pod = &deployment["spec"]["template"]["spec"];
    let volume = |name: &str| pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == name).cloned();
    assert_eq!(volume("plugins").unwrap()["configMap"]["name"], "ecs-plugins");
    // The pins: a ConfigMap whose file is the mapping, mounted where ECS_PLUGIN_PINS points.
    let pins_file = env_value(deployment, "ECS_PLUGIN_PINS").unwrap()["value"].as_str().unwrap().to_string();
    let pins_cm = one(&docs, "ConfigMap");
    assert_eq!(volume("pins").unwrap()["configMap"]["name"], pins_cm["metadata"]["name"]);
    let (dir, file) = pins_file.rsplit_once('/').unwrap();
    let mounts = container(deployment)["volumeMounts"].as_array().unwrap();
    assert!(mounts.iter().any(|m| m["name"] == "pins" && m["mountPath"] == dir), "{mounts:?}");
    let mapping: Value = serde_yaml::from_str(pins_cm["data"][file].as_str().unwrap()).unwrap();
    assert_eq!(mapping, json!({"tier2-nfs-inline": pin}));
    // What the operator's own parser makes of it.
    let path = std::env::temp_dir().join(format!("ecs-helm-pins-{}.yaml", std::process::id()));
    std::fs::write(&path, pins_cm["data"][file].as_str().unwrap()).unwrap();
    ecs_operator::plugins::Pins::read(&path).expect("the operator reads the chart's pins");

    let image = template(&helm, &["--set", "plugins.image.reference=registry.example.com/ecs-plugins@sha256:abc"]);
    let pod = &one(&image, "Deployment")["spec"]["template"]["spec"];
    let plugins = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "plugins").unwrap();
    assert_eq!(
        plugins["image"],
        json!({"reference": "registry.example.com/ecs-plugins@sha256:abc", "pullPolicy": "IfNotPresent"})
    );
    assert!(of_kind(&image, "ConfigMap").is_empty(), "no pins, no pins ConfigMap");
}

/// The examples in deploy/examples patch deploy/operator.yaml as the chart renders the same choice.
#[test]
fn plugin_examples_match_the_chart() {
    let Some(helm) = helm_bin("plugin_examples_match_the_chart") else { return };
    let grants = r#"grants={"tier2-nfs-inline":["volumes:nfs"]}"#;
    for (example, value) in [
        ("deploy/examples/plugins-from-configmap.yaml", "plugins.configMap=ecs-plugins"),
        ("deploy/examples/plugins-from-image.yaml", "plugins.image.reference=registry.example.com/ecs-plugins:1.0"),
    ] {
        let patch = read_yaml(example).remove(0);
        assert_eq!(
            (patch["kind"].as_str(), patch["metadata"]["name"].as_str()),
            (Some("Deployment"), Some("ecs-operator"))
        );
        let chart = template(&helm, &["--set", value, "--set-json", grants]);
        let rendered = one(&chart, "Deployment");
        let (p, r) = (container(&patch), container(rendered));
        assert_eq!(p["name"], r["name"], "{example}: the container patched");
        assert_eq!(p["args"], r["args"], "{example}: args");
        for list in ["env", "volumeMounts"] {
            for item in p[list].as_array().unwrap() {
                assert!(
                    r[list].as_array().unwrap().contains(item),
                    "{example}: {list} {item} is not what the chart renders"
                );
            }
        }
        let pod_volumes = rendered["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
        for volume in patch["spec"]["template"]["spec"]["volumes"].as_array().unwrap() {
            assert!(pod_volumes.contains(volume), "{example}: volume {volume} is not what the chart renders");
        }
    }
}

/// values.schema.json and the templates' checks refuse wrong values, saying which and why.
#[test]
fn wrong_values_are_refused_naming_the_value() {
    let Some(helm) = helm_bin("wrong_values_are_refused_naming_the_value") else { return };
    let cases: &[(&[&str], &[&str])] = &[
        // An unknown key (a typo) anywhere.
        (&["--set", "plugin.configMap=x"], &["additional properties 'plugin' not allowed"]),
        (&["--set", "resources.limit.memory=1Gi"], &["/resources", "'limit'"]),
        (&["--set", "plugins.image.ref=x"], &["/plugins/image", "'ref'"]),
        // Wrong types and values.
        (&["--set", "watchScope=cluster"], &["/watchScope", "namespace", "clusterWide"]),
        (&["--set", "grants.tier2-nfs-inline=volumes:nfs"], &["/grants/tier2-nfs-inline", "array"]),
        (
            &["--set-json", r#"grants={"tier2-nfs-inline":["volume:nfs"]}"#],
            &["/grants/tier2-nfs-inline/0", "volumes:nfs"],
        ),
        (&["--set-json", r#"grants={"Tier2":["volumes:nfs"]}"#], &["at '/grants'", "'Tier2' not allowed"]),
        (&["--set", "pins.tier2-nfs-inline=abc123"], &["/pins/tier2-nfs-inline", "pattern"]),
        (&["--set", "replicaCount=two"], &["/replicaCount", "integer"]),
        (&["--set", "port=http"], &["/port", "integer"]),
        (&["--set", "leaderElection=maybe"], &["/leaderElection", "boolean"]),
        (&["--set", "image.pullPolicy=Sometimes"], &["/image/pullPolicy", "IfNotPresent"]),
        (&["--set", "adminListen=localhost:8081"], &["/adminListen", "pattern"]),
        (&["--set", "logFormat=yaml"], &["/logFormat", "json"]),
        // The templates' own checks.
        (
            &["--set", "plugins.configMap=a", "--set", "plugins.image.reference=registry.example.com/p:1"],
            &["plugins.configMap and plugins.image.reference are both set"],
        ),
        (&["--set", "replicaCount=2", "--set", "leaderElection=false"], &["replicaCount > 1 needs leaderElection"]),
        (&["--set", "serviceAccount.create=false"], &["serviceAccount.name is required"]),
    ];
    for (values, expected) in cases {
        let error = template_error(&helm, values);
        for needle in *expected {
            assert!(error.contains(needle), "helm template {}: expected {needle:?} in:\n{error}", values.join(" "));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Live, against the local control plane

/// A namespace of the test's own, created afresh (the harness's `Namespace`, without deploy/'s
/// RBAC: here the chart brings it). Deleted when dropped.
fn fresh_namespace(name: &str) -> Namespace {
    release_clusters(name);
    let _ = run_kubectl(&kubeconfig(), &["delete", "namespace", name, "--wait=true", "--timeout=60s"], None);
    kubectl(&["create", "namespace", name]);
    let dir = std::env::temp_dir().join(format!("ecs-it-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Namespace { name: name.to_string(), dir }
}

fn kubeconfig_arg() -> String {
    kubeconfig().display().to_string()
}

fn live_helm(test: &str) -> PathBuf {
    helm_bin(test).unwrap_or_else(|| panic!("{test}: ECS_TEST_HELM is not set; run `make integration`"))
}

fn get(namespace: Option<&str>, kind: &str, name: &str) -> Option<Value> {
    let mut args = vec!["get", kind, name, "-o", "json"];
    if let Some(ns) = namespace {
        args.extend(["-n", ns]);
    }
    let out = run_kubectl(&kubeconfig(), &args, None).ok()?;
    serde_json::from_str(&out).ok()
}

/// What the release created: (kind, name, namespace or "") of each object.
fn release_objects(ns: &str, cluster_wide: bool) -> Vec<(&'static str, String, String)> {
    let cluster_name = format!("ecs-operator-{ns}");
    let mut objects = vec![
        ("serviceaccount", "ecs-operator".to_string(), ns.to_string()),
        ("deployment", "ecs-operator".to_string(), ns.to_string()),
        ("clusterrole", cluster_name.clone(), String::new()),
        ("clusterrolebinding", cluster_name, String::new()),
    ];
    if !cluster_wide {
        objects.push(("role", "ecs-operator".to_string(), ns.to_string()));
        objects.push(("rolebinding", "ecs-operator".to_string(), ns.to_string()));
    }
    objects
}

fn exists(kind: &str, name: &str, ns: &str) -> bool {
    get((!ns.is_empty()).then_some(ns), kind, name).is_some()
}

/// A kubeconfig that authenticates as the ServiceAccount `sa` of `ns` with a bound token (what the
/// pod's projected token would be), against the admin kubeconfig's API server and CA.
fn service_account_kubeconfig(ns: &str, sa: &str, dir: &Path) -> PathBuf {
    let token = kubectl(&["-n", ns, "create", "token", sa, "--duration=1h"]).trim().to_string();
    let admin: Value = serde_yaml::from_str(&std::fs::read_to_string(kubeconfig()).unwrap()).unwrap();
    let context_name = admin["current-context"].as_str().unwrap();
    let context = admin["contexts"].as_array().unwrap().iter().find(|c| c["name"] == context_name).unwrap();
    let cluster_name = &context["context"]["cluster"];
    let cluster = admin["clusters"].as_array().unwrap().iter().find(|c| &c["name"] == cluster_name).unwrap();
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster["cluster"]}],
        "users": [{"name": sa, "user": {"token": token}}],
        "contexts": [{"name": sa, "context": {"cluster": "local", "user": sa, "namespace": ns}}],
        "current-context": sa,
    });
    let path = dir.join(format!("{sa}-token-kubeconfig.yaml"));
    std::fs::write(&path, serde_yaml::to_string(&config).unwrap()).unwrap();
    let whoami = run_kubectl(&path, &["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"], None).unwrap();
    assert_eq!(whoami, format!("system:serviceaccount:{ns}:{sa}"));
    path
}

/// `kubectl auth can-i VERB RESOURCE -n NS` as the identity of `config`.
fn can_i(config: &Path, verb: &str, resource: &str, ns: Option<&str>) -> bool {
    let mut args = vec!["auth", "can-i", verb, resource];
    if let Some(ns) = ns {
        args.extend(["-n", ns]);
    }
    match run_kubectl(config, &args, None) {
        Ok(out) => out.trim() == "yes",
        Err(out) if out.trim_start().starts_with("no") => false,
        Err(e) => panic!("kubectl auth can-i {verb} {resource}: {e}"),
    }
}

/// The chart's operator container, run here: the binary with the Deployment's args and environment
/// (as the API server stores them after install or upgrade), as the chart's ServiceAccount. Only
/// what a pod gets from its node differs: the listen addresses (free ports on 127.0.0.1) and the
/// compile cache directory (the tests' shared one).
struct ChartOperator {
    child: Child,
    log: PathBuf,
}

impl ChartOperator {
    fn start(ns: &Namespace, deployment: &Value, config: &Path) -> ChartOperator {
        let free_port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (port, admin_port) = (free_port(), free_port());
        let c = container(deployment);
        let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-operator"));
        command.args(args(deployment)).arg("--kubeconfig").arg(config);
        for var in c["env"].as_array().unwrap() {
            let name = var["name"].as_str().unwrap();
            let value = match (var["value"].as_str(), var["valueFrom"]["fieldRef"]["fieldPath"].as_str()) {
                (Some(v), _) => v.to_string(),
                (None, Some("metadata.namespace")) => ns.name.clone(),
                (None, Some("metadata.name")) => format!("ecs-operator-{}-local", ns.name),
                // The API server drops an empty value; the kubelet sets the variable, empty.
                (None, None) if var.get("valueFrom").is_none() => String::new(),
                _ => panic!("the chart's env {var} has no value this test can give it"),
            };
            command.env(name, value);
        }
        // The compile cache the other live tests share (a fresh one would compile every plugin again).
        let cache = ecs_operator::runtime::CompileCache::default_dir().expect("a compile cache directory");
        command
            .env("ECS_LISTEN", format!("127.0.0.1:{port}"))
            .env("ECS_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"))
            .env("ECS_OPERATOR_CACHE_DIR", &cache);
        let log = ns.dir.join("chart-operator.log");
        let child = command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the operator starts");
        let mut op = ChartOperator { child, log };
        // Ready once its plugins are compiled: minutes on a cold cache and a busy machine.
        wait_for("the chart's operator's /readyz", std::time::Duration::from_secs(300), || {
            assert!(op.child.try_wait().unwrap().is_none(), "the operator exited:\n{}", op.log_text());
            http_get(port, "/readyz").filter(|(status, _)| *status == 200)
        });
        op
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(mut self) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let status =
            wait_for("the operator to exit", std::time::Duration::from_secs(15), || self.child.try_wait().unwrap());
        assert!(status.success(), "exit status {status:?}\n{}", self.log_text());
    }
}

impl Drop for ChartOperator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The seed example `name` created in `cluster_ns` and reconciled to every object `render` lists,
/// Ready, with the writes made by `user` (the audit log says who wrote).
fn seed_example_reconciled(cluster_ns: &Namespace, name: &str, user: &str, operator: &mut ChartOperator) {
    let since = now_rfc3339();
    cluster_ns.create_seed_cluster(name);
    let manifest = seed_example(name);
    let expected = rendered(&cluster_ns.name, &manifest);
    wait_for(&format!("{}/{name}: the rendered objects", cluster_ns.name), T, || {
        assert!(operator.child.try_wait().unwrap().is_none(), "the operator exited:\n{}", operator.log_text());
        (cluster_ns.managed(name) == expected).then_some(())
    });
    let cr = cluster_ns.wait_ready(name);
    assert_eq!(cr["status"]["readyReplicas"], cr["status"]["replicas"], "{cr}");
    let writes = wait_for("the operator's writes in the audit log", T, || {
        let writes = writes_by(user, &since);
        writes.iter().any(|w| w.starts_with("patch statefulsets/")).then_some(writes)
    });
    assert!(writes.iter().any(|w| w.contains("ecsclusters")), "status written as {user}: {writes:?}");
}

/// The CRD's validation schema, typed: the API server writes `604800.0` back as `604800`.
fn crd_schema(
    crd: Value,
) -> Option<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps> {
    let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
        serde_json::from_value(crd).expect("a CustomResourceDefinition");
    crd.spec.versions.into_iter().next()?.schema?.open_api_v3_schema
}

fn assert_crd_kept_and_current() {
    let crd = get(None, "crd", "ecsclusters.ecs.ecs.io").expect("the CRD stays installed");
    let chart = read_yaml(CRD_IN_CHART).remove(0);
    assert!(crd_schema(crd) == crd_schema(chart), "the installed CRD's schema is not the chart's");
}

fn uninstall(helm: &Path, ns: &str, cluster_wide: bool) {
    let out = helm_ok(helm, &["uninstall", "ecs-operator", "-n", ns, "--kubeconfig", &kubeconfig_arg()]);
    assert!(out.contains("uninstalled"), "{out}");
    for (kind, name, namespace) in release_objects(ns, cluster_wide) {
        wait_for(&format!("{kind} {name} to be gone after helm uninstall"), T, || {
            (!exists(kind, &name, &namespace)).then_some(())
        });
    }
    // Helm leaves CRDs from crds/ in place: deleting one would delete every ECSCluster.
    assert_crd_kept_and_current();
}

#[test]
#[ignore = "needs the local control plane and helm: make integration"]
fn helm_install_upgrade_uninstall_in_a_namespace_and_reconcile_as_the_charts_account() {
    let helm = live_helm("helm_install_upgrade_uninstall_in_a_namespace");
    let ns = fresh_namespace("helm-ns");
    let crd_before = get(None, "crd", "ecsclusters.ecs.ecs.io").is_some();
    let kc = kubeconfig_arg();

    let out = helm_ok(&helm, &["install", "ecs-operator", CHART, "-n", &ns.name, "--kubeconfig", &kc]);
    assert!(out.contains("STATUS: deployed"), "{out}");
    if crd_before {
        // Helm leaves an existing CRD as it is: brought up to the chart's as NOTES.txt says.
        eprintln!("the CRD was installed already: applying the chart's crds/ as the chart's NOTES say");
        kubectl(&["apply", "--server-side", "--force-conflicts", "-f", &format!("{CHART}/crds/")]);
    } else {
        eprintln!("the CRD was installed by helm from the chart's crds/");
    }
    assert_crd_kept_and_current();
    for (kind, name, namespace) in release_objects(&ns.name, false) {
        assert!(exists(kind, &name, &namespace), "helm install created no {kind} {name}");
    }
    let installed = get(Some(&ns.name), "deployment", "ecs-operator").unwrap();
    assert_eq!(args(&installed), ["run"]);
    let deploy = read_yaml("deploy/operator.yaml");
    assert_eq!(container(&installed)["image"], container(one(&deploy, "Deployment"))["image"]);

    // An upgrade that changes a value: the Deployment says so.
    let grants = r#"grants={"tier2-nfs-inline":["volumes:nfs"]}"#;
    let out =
        helm_ok(&helm, &["upgrade", "ecs-operator", CHART, "-n", &ns.name, "--kubeconfig", &kc, "--set-json", grants]);
    assert!(out.contains("REVISION: 2"), "{out}");
    let upgraded = get(Some(&ns.name), "deployment", "ecs-operator").unwrap();
    assert_eq!(args(&upgraded), ["run", "--grant=tier2-nfs-inline=volumes:nfs"]);
    assert!(upgraded["metadata"]["generation"].as_i64() > installed["metadata"]["generation"].as_i64());

    // The chart's ServiceAccount may do what the chart's RBAC grants, in this namespace only.
    let config = service_account_kubeconfig(&ns.name, "ecs-operator", &ns.dir);
    assert!(can_i(&config, "patch", "statefulsets.apps", Some(&ns.name)));
    assert!(can_i(&config, "create", "persistentvolumes", None));
    assert!(
        !can_i(&config, "patch", "statefulsets.apps", Some("default")),
        "namespace scope reaches another namespace"
    );
    assert!(!can_i(&config, "get", "secrets", Some(&ns.name)), "the chart grants secrets");

    let mut operator = ChartOperator::start(&ns, &upgraded, &config);
    let user = format!("system:serviceaccount:{}:ecs-operator", ns.name);
    seed_example_reconciled(&ns, "helm-seed", &user, &mut operator);
    operator.stop();

    release_clusters(&ns.name);
    uninstall(&helm, &ns.name, false);
}

#[test]
#[ignore = "needs the local control plane and helm: make integration"]
fn helm_cluster_wide_install_reconciles_another_namespace() {
    let helm = live_helm("helm_cluster_wide_install_reconciles_another_namespace");
    let ns = fresh_namespace("helm-cw");
    let tenant = fresh_namespace("helm-cw-tenant");
    let kc = kubeconfig_arg();
    helm_ok(
        &helm,
        &["install", "ecs-operator", CHART, "-n", &ns.name, "--kubeconfig", &kc, "--set", "watchScope=clusterWide"],
    );
    for (kind, name, namespace) in release_objects(&ns.name, true) {
        assert!(exists(kind, &name, &namespace), "helm install created no {kind} {name}");
    }
    assert!(!exists("role", "ecs-operator", &ns.name), "clusterWide installs no Role");
    let deployment = get(Some(&ns.name), "deployment", "ecs-operator").unwrap();
    // Empty (the API server stores it without a value): every namespace.
    let watch = env_value(&deployment, "WATCH_NAMESPACE").unwrap();
    assert_eq!((watch["value"].as_str().unwrap_or(""), watch.get("valueFrom")), ("", None), "{watch}");

    let config = service_account_kubeconfig(&ns.name, "ecs-operator", &ns.dir);
    assert!(can_i(&config, "patch", "statefulsets.apps", Some(&tenant.name)));
    assert!(!can_i(&config, "get", "secrets", Some(&tenant.name)), "the chart grants secrets");

    let mut operator = ChartOperator::start(&ns, &deployment, &config);
    let user = format!("system:serviceaccount:{}:ecs-operator", ns.name);
    seed_example_reconciled(&tenant, "helm-cw-seed", &user, &mut operator);
    // The Lease is in the operator's namespace, not the tenant's.
    assert!(get(Some(&ns.name), "lease", "ecs-operator-leader").is_some(), "no Lease in {}", ns.name);
    operator.stop();

    release_clusters(&tenant.name);
    uninstall(&helm, &ns.name, true);
}

/// deploy/examples/plugins-from-*.yaml applied as documented, to deploy/operator.yaml's Deployment:
/// the API server keeps the plugin volume (an image volume included), and the ConfigMap made from
/// target/example-plugins holds the files byte for byte.
#[test]
#[ignore = "needs the local control plane: make integration"]
fn plugin_examples_patch_the_operator_deployment() {
    let ns = fresh_namespace("helm-plugin-examples");
    // `kubectl create -f deploy` takes deploy/'s manifests only, not the chart's or the examples'.
    let listed =
        kubectl(&["-n", &ns.name, "create", "-f", &format!("{ROOT}/deploy"), "--dry-run=client", "-o", "name"]);
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "clusterrole.rbac.authorization.k8s.io/ecs-operator",
            "clusterrolebinding.rbac.authorization.k8s.io/ecs-operator",
            "customresourcedefinition.apiextensions.k8s.io/ecsclusters.ecs.ecs.io",
            "deployment.apps/ecs-operator",
            "role.rbac.authorization.k8s.io/ecs-operator",
            "rolebinding.rbac.authorization.k8s.io/ecs-operator",
            "serviceaccount/ecs-operator",
        ]
    );

    for (example, source) in [
        ("deploy/examples/plugins-from-configmap.yaml", json!({"configMap": {"name": "ecs-plugins"}})),
        (
            "deploy/examples/plugins-from-image.yaml",
            json!({"image": {"reference": "registry.example.com/ecs-plugins:1.0", "pullPolicy": "IfNotPresent"}}),
        ),
    ] {
        let _ =
            run_kubectl(&kubeconfig(), &["-n", &ns.name, "delete", "deployment", "ecs-operator", "--wait=true"], None);
        kubectl_in(&read("deploy/operator.yaml"), &["-n", &ns.name, "create", "-f", "-"]).unwrap();
        kubectl(&["-n", &ns.name, "patch", "deployment", "ecs-operator", "--patch-file", &format!("{ROOT}/{example}")]);
        let patched = get(Some(&ns.name), "deployment", "ecs-operator").unwrap();
        let pod = &patched["spec"]["template"]["spec"];
        let volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "plugins").cloned();
        let volume = volume.unwrap_or_else(|| panic!("{example}: no plugins volume in {pod}"));
        for (key, value) in source.as_object().unwrap() {
            // The API server fills in defaults (defaultMode); what the example says must be there.
            for (field, v) in value.as_object().unwrap() {
                assert_eq!(&volume[key][field], v, "{example}: volume {volume}");
            }
        }
        let c = container(&patched);
        assert_eq!(env_value(&patched, "ECS_PLUGIN_DIR").unwrap()["value"], "/plugins", "{example}");
        // Merged into deploy/operator.yaml's environment, not instead of it.
        assert!(env_value(&patched, "WATCH_NAMESPACE").is_some(), "{example} replaced the environment: {c}");
        let mounts = c["volumeMounts"].as_array().unwrap();
        assert!(mounts.iter().any(|m| m["mountPath"] == "/plugins" && m["readOnly"] == true), "{example}: {mounts:?}");
        assert!(mounts.iter().any(|m| m["mountPath"] == "/var/cache/ecs-operator"), "{example}: {mounts:?}");
    }

    // The ConfigMap as the example's comment makes it: the plugin, byte for byte.
    let dir = Path::new(ROOT).join("target/example-plugins");
    let plugin = "ecs_plugin_tier2_nfs_inline.wasm";
    assert!(read("deploy/examples/plugins-from-configmap.yaml").contains(&format!("target/example-plugins/{plugin}")));
    kubectl(&[
        "-n",
        &ns.name,
        "create",
        "configmap",
        "ecs-plugins",
        &format!("--from-file={}", dir.join(plugin).display()),
    ]);
    let cm: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(get(Some(&ns.name), "configmap", "ecs-plugins").unwrap()).unwrap();
    let binary = cm.binary_data.unwrap_or_default();
    assert_eq!(binary.keys().cloned().collect::<Vec<_>>(), [plugin]);
    for (name, bytes) in &binary {
        assert_eq!(bytes.0, std::fs::read(dir.join(name)).unwrap(), "{name} changed on its way through the ConfigMap");
    }
}
