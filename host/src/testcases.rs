//! The recorded-spec runner behind `ecs-operator test`: each case directory holds `cluster.yaml`,
//! an optional `observed.yaml` (live objects, e.g. captured by `ecs-operator record`), and the goldens:
//! `expected.yaml` (the rendered objects) with `expected-status.yaml` (per-component status and
//! events the plugins reported), or `expected-error.txt`. Cases run offline through the real
//! plugins, so a plugin author can test a plugin against recorded clusters without Kubernetes.

use crate::output;
use crate::pipeline::{self, load};
use crate::plugins::PluginSet;
use crate::rollout;
use similar::TextDiff;
use std::path::{Path, PathBuf};

pub const CLUSTER_FILE: &str = "cluster.yaml";
pub const OBSERVED_FILE: &str = "observed.yaml";
pub const EXPECTED_FILE: &str = "expected.yaml";
pub const EXPECTED_STATUS_FILE: &str = "expected-status.yaml";
pub const EXPECTED_ERROR_FILE: &str = "expected-error.txt";

/// What rendering a case produced: the plan as YAML (objects, then status and events), or the error
/// text the CLI would print.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Plan { objects: String, status: String },
    Error(String),
}

/// The plugins' status contributions and events, as a stable YAML document.
fn status_yaml(rendered: &pipeline::Rendered) -> String {
    let events: Vec<serde_json::Value> = rendered
        .events
        .iter()
        .map(|e| serde_json::json!({"plugin": e.plugin, "type": e.event.type_, "reason": e.event.reason, "message": e.event.message}))
        .collect();
    let doc = serde_json::json!({"components": rendered.components, "events": events});
    serde_yaml::to_string(&doc).expect("JSON values always serialize to YAML")
}

pub enum Verdict {
    Pass,
    Updated,
    Fail(String),
}

/// Renders a case directory.
pub fn run_case(plugins: &PluginSet, dir: &Path) -> Result<Outcome, String> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name));
    let manifest = read(CLUSTER_FILE).map_err(|e| format!("reading {}: {e}", dir.join(CLUSTER_FILE).display()))?;
    let observed = match read(OBSERVED_FILE) {
        Ok(text) => load::documents(&text).map_err(|e| format!("{OBSERVED_FILE}: {e}"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("reading {OBSERVED_FILE}: {e}")),
    };
    Ok(render_manifest(plugins, &manifest, &observed))
}

/// Admits and renders one manifest; every failure becomes the text the CLI prints for it.
///
/// A manifest with a `status` (as `ecs-operator record` writes it) is a cluster caught mid-life:
/// the rollout state machine runs as the operator would at the recorded moment, the plugins render
/// the versions it chooses, and the status golden also holds its decision (versions, upgrade state,
/// the pod it would restart next, its Events).
pub fn render_manifest(plugins: &PluginSet, manifest: &str, observed: &[serde_json::Value]) -> Outcome {
    let cr = match load::cluster_document(manifest).and_then(|raw| load::admit(&raw)) {
        Ok(cr) => cr,
        Err(errors) => return Outcome::Error(field_error_lines(&errors)),
    };
    let cluster = load::plugin_cluster(&cr);
    let components = plugins.reconciler_components();
    let replay = cr.status.as_ref().map(|status| {
        let views = rollout::view::components(observed, components);
        (rollout::advance(Some(status), &cr.spec, &views, recorded_at(&cr)), views)
    });
    let versions = match &replay {
        Some((step, _)) => step.versions.clone(),
        None => pipeline::target_versions(&cluster),
    };
    match pipeline::render(plugins, &cluster, observed, &versions) {
        Ok(rendered) => {
            let mut status = status_yaml(&rendered);
            if let Some((step, views)) = &replay {
                let restart = rollout::restarts(step, views, &rollout::desired_hashes(&rendered.objects, components));
                status.push_str(&rollout_yaml(step, restart.as_ref()));
            }
            Outcome::Plan { objects: output::yaml(&rendered.objects), status }
        }
        Err(e) => Outcome::Error(error_text(&e)),
    }
}

/// When a recorded cluster was captured (its annotation), else the Unix epoch.
fn recorded_at(cr: &crate::crd::ECSCluster) -> k8s_openapi::jiff::Timestamp {
    cr.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(rollout::RECORDED_AT_ANNOTATION))
        .and_then(|t| t.parse().ok())
        .unwrap_or_default()
}

/// The rollout's decision, as a YAML document appended to the status golden.
fn rollout_yaml(step: &rollout::Step, restart: Option<&rollout::Restart>) -> String {
    let events: Vec<serde_json::Value> = step
        .events
        .iter()
        .map(|e| serde_json::json!({"type": if e.warning { "Warning" } else { "Normal" }, "reason": e.reason, "message": e.message}))
        .collect();
    let doc = serde_json::json!({"rollout": {
        "versions": step.versions,
        "currentVersion": step.current_version,
        "previousVersion": step.previous_version,
        "versionHistory": step.history,
        "upgrade": step.upgrade,
        "stalled": step.stalled,
        "restart": restart.map(|r| serde_json::json!({"pod": r.pod, "reason": r.reason})),
        "events": events,
    }});
    serde_yaml::to_string(&doc).expect("JSON values always serialize to YAML")
}

pub fn field_error_lines(errors: &[ecs_plugin_sdk::FieldError]) -> String {
    errors.iter().map(|e| format!("{e}\n")).collect()
}

/// The CLI's text for a render failure: `path: message` lines for an invalid spec, else the cause.
pub fn error_text(e: &pipeline::RenderError) -> String {
    match e {
        pipeline::RenderError::Invalid(errors) => field_error_lines(errors),
        other => format!("{other}\n"),
    }
}

/// Compares a case with its golden files (or rewrites them with `update`).
pub fn check_case(plugins: &PluginSet, dir: &Path, update: bool) -> Verdict {
    let outcome = match run_case(plugins, dir) {
        Ok(o) => o,
        Err(e) => return Verdict::Fail(e),
    };
    // (file, content) pairs this outcome must match, and the goldens of the other outcome.
    let (files, stale): (Vec<(&str, &str)>, &[&str]) = match &outcome {
        Outcome::Plan { objects, status } => {
            (vec![(EXPECTED_FILE, objects), (EXPECTED_STATUS_FILE, status)], &[EXPECTED_ERROR_FILE])
        }
        Outcome::Error(text) => (vec![(EXPECTED_ERROR_FILE, text)], &[EXPECTED_FILE, EXPECTED_STATUS_FILE]),
    };
    if update {
        let write = || -> std::io::Result<()> {
            for (file, content) in &files {
                std::fs::write(dir.join(file), content)?;
            }
            for file in stale {
                match std::fs::remove_file(dir.join(file)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            Ok(())
        };
        return match write() {
            Ok(()) => Verdict::Updated,
            Err(e) => Verdict::Fail(format!("writing goldens: {e}")),
        };
    }
    if stale.iter().any(|f| dir.join(f).exists()) {
        let (expected, got) = match outcome {
            Outcome::Plan { .. } => ("an error", "a plan"),
            Outcome::Error(_) => ("a plan", "an error"),
        };
        let shown = files.iter().map(|(_, c)| *c).collect::<Vec<_>>().join("");
        return Verdict::Fail(format!("expected {expected} but got {got}:\n{shown}"));
    }
    let mut failures = String::new();
    for (file, actual) in &files {
        match std::fs::read_to_string(dir.join(file)) {
            Ok(expected) if expected == *actual => {}
            Ok(expected) => failures.push_str(&diff(&expected, actual, file)),
            Err(_) => failures.push_str(&format!("no {file}; run with --update to record it\n")),
        }
    }
    if failures.is_empty() { Verdict::Pass } else { Verdict::Fail(failures) }
}

fn diff(expected: &str, actual: &str, file: &str) -> String {
    TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{file} (expected)"), "rendered (actual)")
        .to_string()
}

/// Case directories: the given ones, each either a case or a folder of cases.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut cases = Vec::new();
    for path in paths {
        if path.join(CLUSTER_FILE).is_file() {
            cases.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let mut found: Vec<PathBuf> =
            entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.join(CLUSTER_FILE).is_file()).collect();
        if found.is_empty() {
            return Err(format!("{}: no case directories (with a {CLUSTER_FILE}) found", path.display()));
        }
        found.sort();
        cases.extend(found);
    }
    Ok(cases)
}
