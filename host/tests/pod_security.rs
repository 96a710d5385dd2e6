//! The host's Pod Security Standards "restricted" check (`policy::pod_security::restricted`) against
//! the real thing: kube-apiserver v1.37.2's PodSecurity admission on the local control plane
//! (`tests/cluster/local-cluster.sh`). Run with the control plane up:
//!
//!   ECS_TEST_KUBECONFIG=$(tests/cluster/local-cluster.sh kubeconfig) \
//!   ECS_TEST_KUBECTL=$HOME/.cache/ecs-operator/k8s-v1.37.2/bin/kubectl \
//!   cargo test -p ecs-operator --test pod_security -- --ignored --nocapture
//!
//! A namespace enforcing `restricted` at `latest` judges, by server-side dry run, every entry of
//! tests/pod-security/corpus.yaml and every pod template the pipeline renders for the valid recorded
//! cases (tests/cases) and the example third-party plugin's cases. For each, the checks the apiserver
//! names in its Forbidden message must be the host's, in the same order; and the host's whole output
//! policy must refuse every corpus template PodSecurity forbids (it may refuse more, by its own rules
//! only). `corpus_expectations_hold` checks the corpus's recorded verdicts offline.

use ecs_operator::policy::pod_security::{PssFinding, restricted};
use ecs_operator::policy::{self, PolicyContext, PolicyViolation, Role, Rule};
use serde_json::{Value, json};
use std::collections::BTreeSet;
mod common;

use common::{kubectl, kubectl_in};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const NAMESPACE: &str = "ecs-pod-security";
const CORPUS: &str = "tests/pod-security/corpus.yaml";

/// One corpus entry.
struct Entry {
    name: String,
    /// The checks the apiserver names, in its order.
    expect: Vec<String>,
    /// Set when the apiserver's validation refuses the entry before PodSecurity: part of its message.
    invalid: Option<String>,
    metadata: Value,
    spec: Value,
}

fn corpus() -> Vec<Entry> {
    let text = std::fs::read_to_string(Path::new(ROOT).join(CORPUS)).unwrap();
    let entries: Vec<Value> = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{CORPUS}: {e}"));
    let entries: Vec<Entry> = entries
        .into_iter()
        .map(|e| {
            let name = e["name"].as_str().expect("every entry has a name").to_string();
            let expect = e["expect"].as_array().unwrap_or_else(|| panic!("{name}: no expect list"));
            Entry {
                expect: expect.iter().map(|c| c.as_str().unwrap().to_string()).collect(),
                invalid: e.get("invalid").and_then(Value::as_str).map(str::to_string),
                metadata: e.get("metadata").cloned().unwrap_or(json!({})),
                spec: e["spec"].clone(),
                name,
            }
        })
        .collect();
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), entries.len(), "corpus entry names are unique");
    entries
}

fn check_names(findings: &[PssFinding]) -> Vec<String> {
    findings.iter().map(|f| f.check.to_string()).collect()
}

#[test]
fn corpus_expectations_hold() {
    let entries = corpus();
    assert!(entries.len() >= 60, "the corpus has {} entries", entries.len());
    let wrong: Vec<String> = entries
        .iter()
        .filter_map(|e| {
            let host = check_names(&restricted(&e.metadata, &e.spec));
            (host != e.expect).then(|| format!("{}: expected {:?}, the host says {:?}", e.name, e.expect, host))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_output_policy_refuses_every_corpus_template_pod_security_forbids() {
    let mut admitted_wrongly = Vec::new();
    for e in corpus().into_iter().filter(|e| !e.expect.is_empty() || e.invalid.is_some()) {
        let template = Template {
            label: format!("corpus/{}", e.name),
            pod: json!({}),
            metadata: e.metadata,
            spec: e.spec,
            expect: None,
            invalid: None,
        };
        if host_policy(&template).is_ok() {
            admitted_wrongly.push(template.label);
        }
    }
    assert!(admitted_wrongly.is_empty(), "the output policy admits: {admitted_wrongly:?}");
}

// ---------------------------------------------------------------------------------------------------
// The live comparison.

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    common::wait_for(what, Duration::from_secs(60), || ready().then_some(()));
}

/// What the apiserver made of a dry-run pod.
#[derive(Debug, PartialEq)]
enum Verdict {
    Admitted,
    /// PodSecurity refused it: the (check, detail) pairs of its message, in order.
    Forbidden(Vec<(String, String)>),
    /// Refused for another reason (validation, a missing object, ...): the message.
    Refused(String),
}

const VIOLATES: &str = "violates PodSecurity \"restricted:latest\": ";

/// `reason (detail), reason, reason (detail)` as PodSecurity joins its failed checks.
fn parse_forbidden(message: &str) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let bytes = message.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b',' if depth == 0 && bytes.get(i + 1) == Some(&b' ') => {
                parts.push(&message[start..i]);
                start = i + 2;
            }
            _ => {}
        }
    }
    parts.push(&message[start..]);
    parts
        .into_iter()
        .map(|part| match part.split_once(" (") {
            Some((reason, rest)) if rest.ends_with(')') => (reason.to_string(), rest[..rest.len() - 1].to_string()),
            _ => (part.to_string(), String::new()),
        })
        .collect()
}

fn verdict(result: Result<String, String>) -> Verdict {
    match result {
        Ok(_) => Verdict::Admitted,
        Err(message) => match message.split_once(VIOLATES) {
            Some((_, rest)) => Verdict::Forbidden(parse_forbidden(rest.lines().next().unwrap_or_default().trim_end())),
            None => Verdict::Refused(message.trim().to_string()),
        },
    }
}

/// A pod template to judge, and how to submit it.
struct Template {
    /// Where it comes from: `corpus/<name>`, `case/<case>/<Kind>/<name>`, `example/...`.
    label: String,
    metadata: Value,
    spec: Value,
    /// The Pod to submit (for rendered templates: with the volumes a StatefulSet adds).
    pod: Value,
    expect: Option<Vec<String>>,
    invalid: Option<String>,
}

/// A DNS label unique to the template's position.
fn pod_name(index: usize, label: &str) -> String {
    let slug: String = label.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let mut name = format!("t{index:03}-{slug}");
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

fn pod(name: &str, metadata: &Value, spec: &Value) -> Value {
    let mut metadata = metadata.clone();
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata["name"] = name.into();
    metadata["namespace"] = NAMESPACE.into();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

/// `ecs-operator render -o json` of a case; `Err` with the stderr when it does not render.
fn render(cluster: &Path, extra: &[&str]) -> Result<Vec<Value>, String> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pod-security-cache");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-operator"));
    command.current_dir(ROOT).env("ECS_OPERATOR_CACHE_DIR", cache).arg("render").arg("-f").arg(cluster);
    let observed = cluster.with_file_name("observed.yaml");
    if observed.is_file() {
        command.arg("--observed").arg(observed);
    }
    let out = command.args(extra).args(["-o", "json"]).output().expect("the binary runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let list: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("render printed no JSON: {e}"))?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

/// The pod templates of a rendered plan, as the pods their controllers would create.
fn pod_templates(source: &str, objects: &[Value], templates: &mut Vec<Template>) {
    for object in objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        if !matches!(kind, "StatefulSet" | "Deployment") {
            continue;
        }
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let template = &object["spec"]["template"];
        let metadata = template.get("metadata").cloned().unwrap_or(json!({}));
        let spec = template["spec"].clone();
        // The StatefulSet controller gives each pod a claim per volumeClaimTemplate.
        let mut pod_spec = spec.clone();
        for claim in object["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
            let claim_name = claim["metadata"]["name"].as_str().unwrap_or_default();
            let volumes = pod_spec.as_object_mut().unwrap().entry("volumes").or_insert(json!([]));
            if !volumes.as_array().unwrap().iter().any(|v| v["name"] == claim_name) {
                volumes.as_array_mut().unwrap().push(json!({"name": claim_name,
                    "persistentVolumeClaim": {"claimName": format!("{claim_name}-{name}-0")}}));
            }
        }
        let pod_metadata = json!({"labels": metadata.get("labels").cloned().unwrap_or(json!({})),
            "annotations": metadata.get("annotations").cloned().unwrap_or(json!({}))});
        templates.push(Template {
            label: format!("{source}/{kind}/{name}"),
            metadata,
            spec,
            pod: pod("", &pod_metadata, &pod_spec),
            expect: None,
            invalid: None,
        });
    }
}

/// Case directories under `dir` that render (they have goldens of a plan, not of an error).
fn valid_cases(dir: &Path) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("cluster.yaml").is_file() && !p.join("expected-error.txt").exists())
        .collect();
    cases.sort();
    cases
}

fn case_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// Every template to judge; notes on what was skipped.
fn templates(notes: &mut Vec<String>) -> Vec<Template> {
    let mut templates: Vec<Template> = corpus()
        .into_iter()
        .map(|e| Template {
            label: format!("corpus/{}", e.name),
            pod: pod("", &e.metadata, &e.spec),
            metadata: e.metadata,
            spec: e.spec,
            expect: Some(e.expect),
            invalid: e.invalid,
        })
        .collect();
    for case in valid_cases(&Path::new(ROOT).join("tests/cases")) {
        match render(&case.join("cluster.yaml"), &[]) {
            Ok(objects) => pod_templates(&format!("case/{}", case_name(&case)), &objects, &mut templates),
            Err(e) => panic!("tests/cases/{} does not render: {e}", case_name(&case)),
        }
    }
    let plugin_dir = Path::new(ROOT).join("target/example-plugins");
    if !plugin_dir.join("ecs_plugin_tier2_nfs_inline.wasm").is_file() {
        notes.push(
            "example plugin: target/example-plugins has no tier2-nfs-inline (run `make plugins`); skipped".into(),
        );
        return templates;
    }
    let plugin_dir = plugin_dir.to_string_lossy().into_owned();
    let args = ["--plugin-dir", &plugin_dir, "--grant", "tier2-nfs-inline=volumes:nfs"];
    for case in valid_cases(&Path::new(ROOT).join("plugins/examples/tier2-nfs-inline/cases")) {
        match render(&case.join("cluster.yaml"), &args) {
            Ok(objects) => pod_templates(&format!("example/{}", case_name(&case)), &objects, &mut templates),
            Err(e) => {
                notes.push(format!(
                    "example plugin case {}: not rendered with the grant tier2-nfs-inline=volumes:nfs (not accepted yet?); skipped: {}",
                    case_name(&case),
                    e.trim()
                ));
            }
        }
    }
    templates
}

/// The namespace, enforcing restricted/latest, with the service accounts the templates run as and
/// the running pods the ephemeral-container entries are added to.
fn prepare_namespace(templates: &mut [Template]) -> Vec<Option<String>> {
    let _ = kubectl_in("", &["delete", "namespace", NAMESPACE, "--wait=true", "--timeout=120s"]);
    kubectl(&["create", "namespace", NAMESPACE]);
    wait_until("the default service account", || {
        kubectl_in("", &["-n", NAMESPACE, "get", "serviceaccount", "default"]).is_ok()
    });
    let mut accounts: Vec<String> = templates
        .iter()
        .flat_map(|t| ["serviceAccountName", "serviceAccount"].map(|f| t.spec.get(f).and_then(Value::as_str)))
        .flatten()
        .filter(|sa| *sa != "default")
        .map(str::to_string)
        .collect();
    accounts.sort();
    accounts.dedup();
    for account in accounts {
        kubectl(&["-n", NAMESPACE, "create", "serviceaccount", &account]);
    }
    // Ephemeral containers cannot be set on create: they are added to a pod that runs without them
    // (created before the namespace enforces anything).
    let mut bases = Vec::new();
    for (i, t) in templates.iter_mut().enumerate() {
        t.pod["metadata"]["name"] = pod_name(i, &t.label).into();
        let has_ephemeral = t.spec.get("ephemeralContainers").is_some_and(|e| !e.is_null());
        if !has_ephemeral {
            bases.push(None);
            continue;
        }
        let mut base = t.pod.clone();
        base["spec"].as_object_mut().unwrap().remove("ephemeralContainers");
        kubectl_in(&base.to_string(), &["create", "-f", "-"])
            .unwrap_or_else(|e| panic!("{}: the pod its ephemeral containers join was not created: {e}", t.label));
        bases.push(Some(base["metadata"]["name"].as_str().unwrap().to_string()));
    }
    kubectl(&[
        "label",
        "namespace",
        NAMESPACE,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
        "--overwrite",
    ]);
    bases
}

fn submit(template: &Template, base: Option<&str>) -> Verdict {
    match base {
        None => {
            verdict(kubectl_in(&template.pod.to_string(), &["create", "--dry-run=server", "-o", "name", "-f", "-"]))
        }
        Some(base) => {
            let patch = json!({"spec": {"ephemeralContainers": template.spec["ephemeralContainers"]}});
            verdict(kubectl_in(
                "",
                &[
                    "-n",
                    NAMESPACE,
                    "patch",
                    "pod",
                    base,
                    "--subresource=ephemeralcontainers",
                    "--type=strategic",
                    "--dry-run=server",
                    "-o",
                    "name",
                    "-p",
                    &patch.to_string(),
                ],
            ))
        }
    }
}

/// The whole output policy's verdict on a template, as the replaced bookkeeper's StatefulSet of a
/// cluster in the test namespace (no capabilities granted).
fn host_policy(template: &Template) -> Result<(), PolicyViolation> {
    let cluster = ecs_plugin_sdk::testing::cluster()
        .name("ecs")
        .namespace(NAMESPACE)
        .uid("6c1a0f5e-0000-4000-8000-0000000000ps")
        .build();
    let labels = json!({"app": "ecs-cluster", "ecs_cluster": "ecs", "component": "bookie"});
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "ecs-bookie"},
        "spec": {"replicas": 1, "serviceName": "ecs-bookie-headless", "selector": {"matchLabels": labels},
            "template": {"metadata": template.metadata, "spec": template.spec}}});
    let components: BTreeSet<String> = ["bookie", "ecs-controller", "ecs-node", "tier2"].map(String::from).into();
    let granted = BTreeSet::new();
    let ctx = PolicyContext {
        cluster: &cluster,
        plugin: "bookkeeper",
        role: Role::reconciler("bookkeeper").unwrap(),
        granted: &granted,
        siblings: &[],
        components: &components,
        wiring_volumes: &[],
    };
    policy::enforce(&ctx, vec![sts]).map(|_| ())
}

/// Where the output policy may differ from PodSecurity: it may refuse more, but only by its own
/// rules; whatever PodSecurity forbids, it refuses, and its Pod Security findings are the apiserver's.
fn policy_problems(template: &Template, apiserver: &Verdict) -> Vec<String> {
    // Rendered templates passed the whole policy already (they were rendered through it).
    if !template.label.starts_with("corpus/") {
        return Vec::new();
    }
    let forbidden: Vec<&str> = match apiserver {
        Verdict::Forbidden(checks) => checks.iter().map(|(c, _)| c.as_str()).collect(),
        _ => Vec::new(),
    };
    match host_policy(template) {
        Ok(()) if !forbidden.is_empty() => vec!["the output policy admits what PodSecurity forbids".into()],
        Ok(()) if matches!(apiserver, Verdict::Refused(_)) => vec!["the output policy admits an invalid pod".into()],
        Ok(()) => Vec::new(),
        // Validation refused it before PodSecurity could name checks: refusing is all that matters.
        Err(_) if matches!(apiserver, Verdict::Refused(_)) => Vec::new(),
        Err(v) => v
            .findings
            .iter()
            .filter_map(|f| match f.rule {
                Rule::PodSecurity(check) if !forbidden.contains(&check) => {
                    Some(format!("the output policy cites Pod Security check {check:?}, which the apiserver does not"))
                }
                _ => None,
            })
            .collect(),
    }
}

/// The PodSecurity admission plugin is on: a privileged pod is refused in the namespace.
fn assert_pod_security_enforced() {
    let probe = pod(
        "pod-security-probe",
        &json!({}),
        &json!({"containers": [{"name": "c", "image": "ecs/ecs:0.4.0", "securityContext": {"privileged": true}}]}),
    );
    match verdict(kubectl_in(&probe.to_string(), &["create", "--dry-run=server", "-o", "name", "-f", "-"])) {
        Verdict::Forbidden(_) => {}
        other => panic!("the apiserver does not enforce PodSecurity (is the admission plugin disabled?): {other:?}"),
    }
}

fn show(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Admitted => "admitted".into(),
        Verdict::Forbidden(checks) => {
            let names: Vec<&str> = checks.iter().map(|(c, _)| c.as_str()).collect();
            format!("forbidden {names:?}")
        }
        Verdict::Refused(message) => format!("refused for another reason: {message}"),
    }
}

#[test]
#[ignore = "needs a control plane: ECS_TEST_KUBECONFIG and ECS_TEST_KUBECTL"]
fn the_host_agrees_with_the_apiservers_pod_security_admission() {
    let mut notes = Vec::new();
    let mut templates = templates(&mut notes);
    let bases = prepare_namespace(&mut templates);
    assert_pod_security_enforced();

    let (mut admitted, mut refused, mut invalid) = (0, 0, 0);
    let mut disagreements = Vec::new();
    let mut detail_differences = Vec::new();
    for (template, base) in templates.iter().zip(&bases) {
        let host = restricted(&template.metadata, &template.spec);
        let host_checks = check_names(&host);
        let apiserver = submit(template, base.as_deref());
        let mut problems = Vec::new();
        match (&apiserver, &template.invalid) {
            (Verdict::Refused(message), Some(expected)) if message.contains(expected.as_str()) => {}
            (_, Some(expected)) => problems.push(format!("expected validation to refuse it with {expected:?}")),
            (Verdict::Admitted, None) if host.is_empty() => {}
            (Verdict::Forbidden(checks), None) => {
                let names: Vec<String> = checks.iter().map(|(c, _)| c.clone()).collect();
                if names == host_checks {
                    for ((check, detail), finding) in checks.iter().zip(&host) {
                        if *detail != finding.detail {
                            detail_differences.push(format!(
                                "{} {check}:\n    apiserver: {detail}\n    host:      {}",
                                template.label, finding.detail
                            ));
                        }
                    }
                } else {
                    problems.push("the checks differ".into());
                }
            }
            (Verdict::Refused(_), None) => {
                problems.push("the apiserver refused it before PodSecurity judged it".into())
            }
            (Verdict::Admitted, None) => problems.push("the apiserver admits it".into()),
        }
        problems.extend(policy_problems(template, &apiserver));
        if let (Some(expect), Verdict::Forbidden(_) | Verdict::Admitted) = (&template.expect, &apiserver) {
            let said: Vec<String> = match &apiserver {
                Verdict::Forbidden(checks) => checks.iter().map(|(c, _)| c.clone()).collect(),
                _ => Vec::new(),
            };
            if *expect != said {
                problems.push(format!("the corpus expects {expect:?}"));
            }
        }
        let line = format!("{}\n    apiserver: {}\n    host:      {host_checks:?}", template.label, show(&apiserver));
        if problems.is_empty() {
            match apiserver {
                Verdict::Admitted => admitted += 1,
                Verdict::Forbidden(_) => refused += 1,
                Verdict::Refused(_) => invalid += 1,
            }
            println!("agree  {line}");
        } else {
            println!("DIFFER {line}\n    ({})", problems.join("; "));
            disagreements.push(format!("{line}\n    ({})", problems.join("; ")));
        }
    }
    let _ = kubectl_in("", &["delete", "namespace", NAMESPACE, "--wait=false"]);

    for note in &notes {
        println!("note: {note}");
    }
    if !detail_differences.is_empty() {
        println!("details worded differently ({}; not a failure):", detail_differences.len());
        for d in &detail_differences {
            println!("  {d}");
        }
    }
    println!(
        "pod security: {} templates checked, {} agreed ({admitted} admitted by both, {refused} refused by both, \
         {invalid} invalid as documented), {} disagreements",
        templates.len(),
        admitted + refused + invalid,
        disagreements.len()
    );
    assert!(disagreements.is_empty(), "the host and the apiserver disagree on:\n{}", disagreements.join("\n"));
}

#[test]
fn forbidden_messages_split_at_top_level_commas() {
    let message = r#"host namespaces (hostNetwork=true, hostPID=true), privileged (container "c" must not set securityContext.privileged=true), runAsUser=0"#;
    assert_eq!(
        parse_forbidden(message),
        [
            ("host namespaces".to_string(), "hostNetwork=true, hostPID=true".to_string()),
            ("privileged".to_string(), r#"container "c" must not set securityContext.privileged=true"#.to_string()),
            ("runAsUser=0".to_string(), String::new()),
        ]
    );
    let kubectl = format!(
        "Error from server (Forbidden): error when creating \"STDIN\": pods \"x\" is forbidden: {VIOLATES}{message}\n"
    );
    assert!(matches!(verdict(Err(kubectl)), Verdict::Forbidden(checks) if checks.len() == 3));
    assert!(matches!(verdict(Err("The Pod \"x\" is invalid: spec".into())), Verdict::Refused(_)));
}
