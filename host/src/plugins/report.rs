//! What `plugins list` shows, locally or from a running operator's admin endpoint (`/plugins`).

use super::PluginSet;
use ecs_plugin_sdk::PluginKind;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub plugins: Vec<PluginReport>,
    /// Plugin files whose last version could not be loaded.
    #[serde(default)]
    pub failures: Vec<FailureReport>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginReport {
    pub name: String,
    pub kind: String,
    pub version: String,
    pub contract: String,
    pub component: String,
    pub sha256: String,
    pub source: String,
    /// Declared capabilities: granted ones as they are, the others with ` (not granted)`.
    pub capabilities: Vec<String>,
    /// Whether its code is compiled and mapped now (a Tier-2 provider is once a cluster uses it).
    pub loaded: bool,
    /// RFC 3339: when this version was swapped in.
    pub loaded_at: String,
    pub load_ms: u64,
    pub calls: u64,
    pub faults: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureReport {
    pub file: String,
    pub error: String,
}

impl PluginSet {
    pub fn report(&self) -> Report {
        let plugins = self
            .iter()
            .map(|p| {
                let granted = self.grants.effective(p);
                let capabilities = p
                    .info
                    .capabilities
                    .iter()
                    .map(|c| if granted.contains(c) { c.clone() } else { format!("{c} (not granted)") })
                    .collect();
                let loaded_at = k8s_openapi::jiff::Timestamp::try_from(p.stats.loaded_at)
                    .ok()
                    .and_then(|t| t.round(k8s_openapi::jiff::Unit::Second).ok())
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                PluginReport {
                    name: p.info.name.clone(),
                    kind: match p.info.kind {
                        PluginKind::Reconciler => "reconciler",
                        PluginKind::Tier2Provider => "tier2-provider",
                    }
                    .to_string(),
                    version: p.info.version.clone(),
                    contract: p.info.contract.clone(),
                    component: p.info.component.clone(),
                    sha256: p.sha256.clone(),
                    source: p.source.to_string(),
                    capabilities,
                    loaded: p.is_loaded(),
                    loaded_at,
                    load_ms: p.stats.load_time.as_millis() as u64,
                    calls: p.stats.calls.load(Ordering::Relaxed),
                    faults: p.stats.faults.load(Ordering::Relaxed),
                }
            })
            .collect();
        let failures = self
            .failures()
            .map(|(file, error)| FailureReport { file: file.display().to_string(), error: error.to_string() })
            .collect();
        Report { plugins, failures }
    }
}

impl Report {
    /// One tab-separated line per plugin (for `column -t`), then the failed files, if any.
    pub fn table(&self) -> String {
        let mut text = String::from(
            "NAME\tKIND\tVERSION\tCONTRACT\tCOMPONENT\tSHA256\tSOURCE\tCAPABILITIES\tMAPPED\tSINCE\tLOAD-MS\tCALLS\tFAULTS\n",
        );
        for p in &self.plugins {
            let caps = if p.capabilities.is_empty() { "-".to_string() } else { p.capabilities.join(",") };
            let mapped = if p.loaded { "yes" } else { "no" };
            text.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{caps}\t{mapped}\t{}\t{}\t{}\t{}\n",
                p.name,
                p.kind,
                p.version,
                p.contract,
                p.component,
                p.sha256,
                p.source,
                p.loaded_at,
                p.load_ms,
                p.calls,
                p.faults
            ));
        }
        for f in &self.failures {
            text.push_str(&format!("# not loaded: {}: {}\n", f.file, f.error));
        }
        text
    }
}
