//! The version rules of the `ECSCluster` CRD (`isSemver` and the maxLength of `spec.version`, and the
//! root transition rules VERSION_KEPT, NO_DOWNGRADE and ONE_CHANGE_AT_A_TIME of
//! plugins/sdk/src/spec/mod.rs), case by case from tests/version-rules/corpus.yaml:
//!
//! - `corpus_expectations_hold_offline`: every case through the operator's offline admission
//!   (`pipeline::load::admit` for a create, `admit_update` for an update); no cluster needed.
//! - `the_offline_admission_agrees_with_the_apiserver`: every case against kube-apiserver v1.37.2 on
//!   the local control plane (`tests/cluster/local-cluster.sh`): the old object is created in a
//!   fresh namespace, its status written through the status subresource, then spec.version changed
//!   by a JSON merge patch (`null` removes it) or the status replaced (a status-only edit). The
//!   apiserver's verdict (accepted, or 422 naming spec.version) must be the offline one, computed on
//!   the very object the apiserver stored. Skipped, saying so, unless `ECS_TEST_KUBECONFIG` and
//!   `ECS_TEST_KUBECTL` are set (as `make integration` sets them):
//!
//!   ECS_TEST_KUBECONFIG=$(tests/cluster/local-cluster.sh kubeconfig) \
//!   ECS_TEST_KUBECTL=$HOME/.cache/ecs-operator/k8s-v1.37.2/bin/kubectl \
//!   cargo test -p ecs-operator --test version_rules -- --nocapture

mod common;

use common::admission::{Live, Tally, Verdict, dynamic};

use common::wait_for;
use ecs_operator::pipeline::load::{admit, admit_update};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const CORPUS: &str = "tests/version-rules/corpus.yaml";
const NAMESPACE: &str = "ecs-version-rules";
const FIELD: &str = "spec.version";
const T: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------------
// The corpus.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Admitted,
    Refused,
}

/// The stored object before the change.
struct Old {
    version: Option<String>,
    status: Option<Value>,
}

struct Case {
    name: String,
    /// `None`: the case is a create of the new object.
    old: Option<Old>,
    /// spec.version after the change (`None`: removed, or still not set).
    version: Option<String>,
    /// A status-only edit: the status that replaces the stored one through the status subresource.
    status: Option<Value>,
    /// A status sent along with the spec update (which the apiserver ignores).
    status_in_body: Option<Value>,
    expect: Expect,
    field: Option<String>,
    rule: String,
}

fn version_of(case: &str, v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => panic!("{case}: {key} must be a string (quote it in YAML), not {other}"),
    }
}

fn corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(Path::new(ROOT).join(CORPUS)).unwrap();
    let entries: Vec<Value> = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{CORPUS}: {e}"));
    let cases: Vec<Case> = entries
        .into_iter()
        .map(|e| {
            let name = e["name"].as_str().expect("every case has a name").to_string();
            let new = e.get("new").unwrap_or_else(|| panic!("{name}: no `new`"));
            let old = e
                .get("old")
                .map(|o| Old { version: version_of(&name, o, "version"), status: o.get("status").cloned() });
            let expect = match e["expect"].as_str() {
                Some("admitted") => Expect::Admitted,
                Some("refused") => Expect::Refused,
                other => panic!("{name}: expect must be admitted or refused, not {other:?}"),
            };
            let field = e.get("field").and_then(Value::as_str).map(str::to_string);
            match expect {
                Expect::Refused => {
                    assert_eq!(field.as_deref(), Some(FIELD), "{name}: a refusal names the field {FIELD}")
                }
                Expect::Admitted => assert!(field.is_none(), "{name}: an admitted case names no field"),
            }
            let case = Case {
                old,
                version: version_of(&name, new, "version"),
                status: new.get("status").cloned(),
                status_in_body: new.get("statusInBody").cloned(),
                expect,
                field,
                rule: e["rule"].as_str().unwrap_or_else(|| panic!("{name}: no rule")).to_string(),
                name,
            };
            if case.status.is_some() {
                let old =
                    case.old.as_ref().unwrap_or_else(|| panic!("{}: a status edit needs an old object", case.name));
                assert_eq!(old.version, case.version, "{}: a status-only edit keeps spec.version", case.name);
                assert!(case.status_in_body.is_none(), "{}: status and statusInBody together", case.name);
            }
            if case.old.is_none() {
                assert!(case.status_in_body.is_none(), "{}: statusInBody on a create", case.name);
            }
            case
        })
        .collect();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "corpus case names are unique");
    cases
}

/// The object's name: unique by position, a DNS label of at most 40 characters (the CRD's rules).
fn object_name(index: usize, case: &Case) -> String {
    let slug: String = case.name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let mut name = format!("v{index:02}-{slug}").to_lowercase();
    name.truncate(40);
    name.trim_end_matches('-').to_string()
}

/// The least valid ECSCluster (a Tier-2), with `version` if given.
fn object(name: &str, version: Option<&str>) -> Value {
    let mut object = json!({
        "apiVersion": "ecs.ecs.io/v1alpha1",
        "kind": "ECSCluster",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"ecs": {"tier2": {"filesystem": {"persistentVolumeClaim": {"claimName": "tier2"}}}}},
    });
    if let Some(version) = version {
        object["spec"]["version"] = version.into();
    }
    object
}

// ---------------------------------------------------------------------------------------------------
// Verdicts.

impl Verdict {
    fn agrees_with(&self, other: &Verdict) -> bool {
        match (self, other) {
            (Verdict::Admitted, Verdict::Admitted) => true,
            (Verdict::Refused(_), Verdict::Refused(_)) => self.names(FIELD) && other.names(FIELD),
            _ => false,
        }
    }

    fn matches(&self, expect: Expect) -> bool {
        match expect {
            Expect::Admitted => *self == Verdict::Admitted,
            Expect::Refused => self.names(FIELD),
        }
    }
}

/// The offline verdict on `case`, `old` being the stored object (`None` for a create).
fn offline(case: &Case, name: &str, old: Option<&Value>) -> Verdict {
    let Some(old) = old else {
        return Verdict::offline(admit(&object(name, case.version.as_deref())));
    };
    if let Some(status) = &case.status {
        // A status-only edit: the apiserver judges the stored spec with the new status against the
        // stored object. admit_update takes the status from its `old` argument, so both arguments
        // are "stored spec, new status": the rules read `self.status` (the new one, as the
        // apiserver has it) and only `oldSelf.spec` (the stored one).
        let mut after = old.clone();
        after["status"] = status.clone();
        return Verdict::offline(admit_update(&after, &after));
    }
    let mut new = old.clone();
    match &case.version {
        Some(version) => new["spec"]["version"] = version.as_str().into(),
        None => {
            new["spec"].as_object_mut().unwrap().remove("version");
        }
    }
    if let Some(status) = &case.status_in_body {
        new["status"] = status.clone();
    }
    Verdict::offline(admit_update(old, &new))
}

/// The old object as the corpus gives it, for the offline check.
fn stored(name: &str, old: &Old) -> Value {
    let mut object = object(name, old.version.as_deref());
    if let Some(status) = &old.status {
        object["status"] = status.clone();
    }
    object
}

#[test]
fn corpus_expectations_hold_offline() {
    let cases = corpus();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let mut wrong = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = object_name(i, case);
        let old = case.old.as_ref().map(|o| stored(&name, o));
        let verdict = offline(case, &name, old.as_ref());
        if !verdict.matches(case.expect) {
            wrong.push(format!(
                "{} ({}): expected {:?}{}, offline: {}",
                case.name,
                case.rule,
                case.expect,
                case.field.as_deref().map(|f| format!(" naming {f}")).unwrap_or_default(),
                verdict.show()
            ));
        }
    }
    println!("version rules offline: {} cases, {} as the corpus expects", cases.len(), cases.len() - wrong.len());
    assert!(wrong.is_empty(), "the offline admission differs from the corpus on:\n{}", wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------------------
// The live comparison.

/// `Admitted` if the apiserver stored `version` as spec.version.
fn admitted_with(object: &Value, version: Option<&str>) -> Verdict {
    let stored = object.pointer("/spec/version").and_then(Value::as_str);
    if stored == version {
        Verdict::Admitted
    } else {
        Verdict::Failed(format!("admitted, but spec.version is {stored:?}, not {version:?}"))
    }
}

/// The apiserver's verdict on `case`, and the offline verdict on the object the apiserver stored.
async fn run_case(api: &Api<DynamicObject>, name: &str, case: &Case) -> Result<(Verdict, Verdict), String> {
    let pp = PostParams::default();
    let Some(old) = &case.old else {
        let new = object(name, case.version.as_deref());
        let apiserver = match Verdict::apiserver(api.create(&pp, &dynamic(&new)).await) {
            Ok(created) => admitted_with(&created, case.version.as_deref()),
            Err(verdict) => verdict,
        };
        return Ok((apiserver, offline(case, name, None)));
    };
    let mut stored = api
        .create(&pp, &dynamic(&object(name, old.version.as_deref())))
        .await
        .map_err(|e| format!("creating the old object: {e}"))?;
    if let Some(status) = &old.status {
        let patch = Patch::Merge(json!({"status": status}));
        stored = api
            .patch_status(name, &PatchParams::default(), &patch)
            .await
            .map_err(|e| format!("writing the old status: {e}"))?;
    }
    let stored = serde_json::to_value(&stored).unwrap();
    for (key, value) in old.status.iter().flat_map(|s| s.as_object().unwrap()) {
        if stored["status"][key] != *value {
            return Err(format!("the stored status.{key} is {}, not {value}", stored["status"][key]));
        }
    }
    let apiserver = if let Some(status) = &case.status {
        let mut after = stored.clone();
        after["status"] = status.clone();
        match Verdict::apiserver(api.replace_status(name, &pp, &dynamic(&after)).await) {
            Ok(written) if written["status"]["upgrade"] != status.get("upgrade").cloned().unwrap_or(Value::Null) => {
                Verdict::Failed(format!("status written, but status.upgrade is {}", written["status"]["upgrade"]))
            }
            Ok(written) => admitted_with(&written, case.version.as_deref()),
            Err(verdict) => verdict,
        }
    } else {
        let mut patch = json!({"spec": {"version": case.version}});
        if let Some(status) = &case.status_in_body {
            patch["status"] = status.clone();
        }
        match Verdict::apiserver(api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await) {
            Ok(patched) if patched["status"] != stored["status"] => {
                Verdict::Failed(format!("the spec patch changed the status to {}", patched["status"]))
            }
            Ok(patched) => admitted_with(&patched, case.version.as_deref()),
            Err(verdict) => verdict,
        }
    };
    Ok((apiserver, offline(case, name, Some(&stored))))
}

#[test]
fn the_offline_admission_agrees_with_the_apiserver() {
    let started = Instant::now();
    let cases = corpus();
    let Some(Live { runtime, api, namespace: cleanup }) = Live::connect("version rules", NAMESPACE) else { return };

    // The served schema has the version rules (the CRD's handler follows an update asynchronously).
    wait_for("the apiserver to refuse spec.version v1.0.0 (the served CRD has the version rules)", T, || {
        let probe = object("probe", Some("v1.0.0"));
        let dry_run = PostParams { dry_run: true, ..PostParams::default() };
        match Verdict::apiserver(runtime.block_on(api.create(&dry_run, &dynamic(&probe)))) {
            Err(verdict) if verdict.names(FIELD) => Some(()),
            _ => None,
        }
    });

    let mut tally = Tally::default();
    let mut corpus_wrong = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = object_name(i, case);
        let (apiserver, offline) = runtime
            .block_on(run_case(&api, &name, case))
            .unwrap_or_else(|e| panic!("{}: setting up the old object failed: {e}", case.name));
        tally.record(&case.name, &case.rule, &apiserver, &offline, apiserver.agrees_with(&offline));
        if !apiserver.matches(case.expect) {
            corpus_wrong.push(format!(
                "{}: the corpus expects {:?}, the apiserver: {}",
                case.name,
                case.expect,
                apiserver.show()
            ));
        }
    }
    drop(cleanup);

    println!(
        "version rules: {} cases, {} agreed ({} admitted by both, {} refused by both naming \
         {FIELD}), {} disagreements; {:.1}s",
        cases.len(),
        tally.agreed,
        tally.admitted,
        tally.refused,
        tally.disagreements.len(),
        started.elapsed().as_secs_f64()
    );
    let mut failures = Vec::new();
    if !tally.disagreements.is_empty() {
        let lines = tally.disagreements.join("\n");
        failures.push(format!("the offline admission and the apiserver disagree on:\n{lines}"));
    }
    if !corpus_wrong.is_empty() {
        failures.push(format!("the corpus expects otherwise than the apiserver on:\n{}", corpus_wrong.join("\n")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn object_names_are_dns_labels_of_at_most_40_characters() {
    for (i, case) in corpus().iter().enumerate() {
        let name = object_name(i, case);
        assert!(name.len() <= 40 && !name.ends_with('-'), "{name}");
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{name}");
    }
}
