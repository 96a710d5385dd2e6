//! The recorded-spec runner behind `ecs-operator test`: each case directory holds `cluster.yaml`,
//! an optional `observed.yaml` (live objects, e.g. captured by `ecs-operator record`), and the golden
//! `expected.yaml` (the rendered plan) or `expected-error.txt`. Cases run offline through the real
//! plugins, so a plugin author can test a plugin against recorded clusters without Kubernetes.

use crate::output;
use crate::pipeline::{self, load};
use crate::plugins::PluginSet;
use similar::TextDiff;
use std::path::{Path, PathBuf};

pub const CLUSTER_FILE: &str = "cluster.yaml";
pub const OBSERVED_FILE: &str = "observed.yaml";
pub const EXPECTED_FILE: &str = "expected.yaml";
pub const EXPECTED_ERROR_FILE: &str = "expected-error.txt";

/// What rendering a case produced: the plan as YAML, or the error text the CLI would print.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Plan(String),
    Error(String),
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
pub fn render_manifest(plugins: &PluginSet, manifest: &str, observed: &[serde_json::Value]) -> Outcome {
    let cluster = match load::cluster_document(manifest).and_then(|raw| load::admit(&raw)) {
        Ok(cr) => load::plugin_cluster(&cr),
        Err(errors) => return Outcome::Error(field_error_lines(&errors)),
    };
    let versions = pipeline::target_versions(&cluster);
    match pipeline::render(plugins, &cluster, observed, &versions) {
        Ok(rendered) => Outcome::Plan(output::yaml(&rendered.objects)),
        Err(e) => Outcome::Error(error_text(&e)),
    }
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
    let (file, other, actual) = match &outcome {
        Outcome::Plan(yaml) => (EXPECTED_FILE, EXPECTED_ERROR_FILE, yaml.as_str()),
        Outcome::Error(text) => (EXPECTED_ERROR_FILE, EXPECTED_FILE, text.as_str()),
    };
    if update {
        let result = std::fs::write(dir.join(file), actual).and_then(|_| match std::fs::remove_file(dir.join(other)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        });
        return match result {
            Ok(()) => Verdict::Updated,
            Err(e) => Verdict::Fail(format!("writing {file}: {e}")),
        };
    }
    match std::fs::read_to_string(dir.join(file)) {
        Ok(expected) if expected == actual => Verdict::Pass,
        Ok(expected) => Verdict::Fail(diff(&expected, actual, file)),
        Err(_) if dir.join(other).exists() => Verdict::Fail(format!(
            "expected {} but got {}:\n{actual}",
            if other == EXPECTED_FILE { "a plan" } else { "an error" },
            if file == EXPECTED_FILE { "a plan" } else { "an error" },
        )),
        Err(_) => {
            Verdict::Fail(format!("no {EXPECTED_FILE} or {EXPECTED_ERROR_FILE}; run with --update to record one"))
        }
    }
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
