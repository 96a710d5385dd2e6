//! Prometheus metrics served on `/metrics` (OpenMetrics text).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `applied`, `unchanged`, `invalid`, `deleted`, `conflict`, `standby`, `caches_syncing`, and the
    /// failures `plugin_fault`, `api_error`, `ownership_conflict`, `cleanup_failed`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    pub plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabels {
    pub plugin: String,
    pub fault: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FileLabels {
    /// The plugin file that failed to load, as named in the plugin directory.
    pub file: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    pub kind: String,
    /// `apply`, `delete`, `status`, `event`.
    pub verb: String,
}

fn duration_histogram() -> Histogram {
    // 100 us .. ~3 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Family<ResultLabels, Counter>,
    pub reconcile_seconds: Family<ResultLabels, Histogram>,
    pub plugin_call_seconds: Family<PluginLabels, Histogram>,
    pub plugin_faults: Family<FaultLabels, Counter>,
    pub writes: Family<WriteLabels, Counter>,
    pub leader: Gauge,
    pub clusters: Gauge,
    /// Clusters whose `Ready` condition is not `True` (as last written to their status).
    pub clusters_not_ready: Gauge,
    pub plugin_reloads: Counter,
    pub plugin_load_failures: Family<FileLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ecs_operator");
        let reconciles = Family::<ResultLabels, Counter>::default();
        let reconcile_seconds =
            Family::<ResultLabels, Histogram>::new_with_constructor(duration_histogram as fn() -> _);
        let plugin_call_seconds =
            Family::<PluginLabels, Histogram>::new_with_constructor(duration_histogram as fn() -> _);
        let plugin_faults = Family::<FaultLabels, Counter>::default();
        let writes = Family::<WriteLabels, Counter>::default();
        let leader = Gauge::default();
        let clusters = Gauge::default();
        let clusters_not_ready = Gauge::default();
        let plugin_reloads = Counter::default();
        let plugin_load_failures = Family::<FileLabels, Counter>::default();
        registry.register("reconciles", "Reconciles by result", reconciles.clone());
        registry.register("reconcile_duration_seconds", "Reconcile duration by result", reconcile_seconds.clone());
        registry.register("plugin_call_duration_seconds", "Plugin render time by plugin", plugin_call_seconds.clone());
        registry.register("plugin_faults", "Plugin faults by plugin and fault", plugin_faults.clone());
        registry.register("api_writes", "Write requests sent to the API server, by kind and verb", writes.clone());
        registry.register("leader", "1 while this replica holds the leader lease", leader.clone());
        registry.register("clusters", "ECSClusters in the watched namespaces", clusters.clone());
        registry.register(
            "clusters_not_ready",
            "ECSClusters whose Ready condition is not True (absent counts as not Ready)",
            clusters_not_ready.clone(),
        );
        registry.register(
            "plugin_reloads",
            "Plugin sets swapped in while running (a plugin file added, changed or removed)",
            plugin_reloads.clone(),
        );
        registry.register(
            "plugin_load_failures",
            "Plugin files that failed to load or compile while running, by file",
            plugin_load_failures.clone(),
        );
        Metrics {
            registry,
            reconciles,
            reconcile_seconds,
            plugin_call_seconds,
            plugin_faults,
            writes,
            leader,
            clusters,
            clusters_not_ready,
            plugin_reloads,
            plugin_load_failures,
        }
    }
}

impl Metrics {
    pub fn reconciled(&self, result: &str, took: Duration) {
        let labels = ResultLabels { result: result.to_string() };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_seconds.get_or_create(&labels).observe(took.as_secs_f64());
    }

    pub fn wrote(&self, kind: &str, verb: &str) {
        self.writes.get_or_create(&WriteLabels { kind: kind.to_string(), verb: verb.to_string() }).inc();
    }

    pub fn plugin_called(&self, plugin: &str, took: Duration) {
        let labels = PluginLabels { plugin: plugin.to_string() };
        self.plugin_call_seconds.get_or_create(&labels).observe(took.as_secs_f64());
    }

    pub fn plugin_fault(&self, plugin: &str, fault: &str) {
        self.plugin_faults.get_or_create(&FaultLabels { plugin: plugin.to_string(), fault: fault.to_string() }).inc();
    }

    pub fn plugins_reloaded(&self) {
        self.plugin_reloads.inc();
    }

    pub fn plugin_load_failed(&self, file: &str) {
        self.plugin_load_failures.get_or_create(&FileLabels { file: file.to_string() }).inc();
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}
