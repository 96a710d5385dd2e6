//! Fixtures for the tests of the plugins and of the host: the seed's example cluster, and the inputs
//! the host builds from a cluster. Not part of the SDK's API.

use crate::model::{Cluster, PluginInfo, PluginKind, ReconcileInput, Tier2Input, Versions};
use crate::spec::ECSClusterSpec;
use serde_json::{Value, json};

/// Name of the fixtures' cluster, unless a test chooses another.
pub const NAME: &str = "ecs";
/// Namespace of the fixtures' cluster, unless a test chooses another.
pub const NAMESPACE: &str = "ecs-io";

/// The seed README's example cluster ("Deploy a sample ECS cluster": 3 bookies, 1 controller, 3 nodes,
/// NFS Tier-2 on the claim `ecs-tier2`), as a spec document.
pub fn seed_spec_json() -> Value {
    json!({
        "zookeeperUri": "zk-client:2181",
        "bookkeeper": {
            "image": {"repository": "ecs/bookkeeper", "tag": "0.4.0", "pullPolicy": "IfNotPresent"},
            "replicas": 3,
            "storage": {
                "ledgerVolumeClaimTemplate": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "standard",
                    "resources": {"requests": {"storage": "10Gi"}}
                },
                "journalVolumeClaimTemplate": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "standard",
                    "resources": {"requests": {"storage": "10Gi"}}
                }
            },
            "autoRecovery": true
        },
        "ecs": {
            "controllerReplicas": 1,
            "nodeReplicas": 3,
            "cacheVolumeClaimTemplate": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "standard",
                "resources": {"requests": {"storage": "20Gi"}}
            },
            "image": {"repository": "ecs/ecs", "tag": "0.4.0", "pullPolicy": "IfNotPresent"},
            "tier2": {"filesystem": {"persistentVolumeClaim": {"claimName": "ecs-tier2"}}}
        }
    })
}

/// The seed's spec, typed.
pub fn seed_spec() -> ECSClusterSpec {
    serde_json::from_value(seed_spec_json()).expect("the seed example is a valid spec")
}

/// `patch` merged into `base`: objects merge key by key, recursively; anything else replaces.
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

/// Builds a [`Cluster`]: by default the seed's, named [`NAME`] in [`NAMESPACE`], generation 1, no uid.
#[derive(Clone, Debug)]
pub struct ClusterBuilder {
    name: String,
    namespace: String,
    uid: String,
    generation: i64,
    spec: Value,
}

/// The seed's cluster, to adjust and [`build`](ClusterBuilder::build).
pub fn cluster() -> ClusterBuilder {
    ClusterBuilder {
        name: NAME.to_string(),
        namespace: NAMESPACE.to_string(),
        uid: String::new(),
        generation: 1,
        spec: seed_spec_json(),
    }
}

impl ClusterBuilder {
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.to_string();
        self
    }

    pub fn uid(mut self, uid: &str) -> Self {
        self.uid = uid.to_string();
        self
    }

    pub fn generation(mut self, generation: i64) -> Self {
        self.generation = generation;
        self
    }

    /// Replaces the whole spec document.
    pub fn spec(mut self, spec: Value) -> Self {
        self.spec = spec;
        self
    }

    /// Edits the spec document.
    pub fn edit(mut self, edit: impl FnOnce(&mut Value)) -> Self {
        edit(&mut self.spec);
        self
    }

    /// Merges `patch` into the spec document (see [`merge`]).
    pub fn patch(mut self, patch: Value) -> Self {
        merge(&mut self.spec, patch);
        self
    }

    /// Replaces `spec.ecs.tier2`, e.g. with `{"hdfs": {...}}`.
    pub fn tier2(mut self, tier2: Value) -> Self {
        self.spec["ecs"]["tier2"] = tier2;
        self
    }

    /// The cluster, its spec defaulted the way the host does it: parsed, re-serialized and parsed again,
    /// as a plugin receives it.
    pub fn build(self) -> Cluster {
        let spec: ECSClusterSpec = serde_json::from_value(self.spec).expect("the spec parses");
        let spec = serde_json::to_value(spec).expect("a spec serializes");
        let spec = serde_json::from_value(spec).expect("a serialized spec parses");
        Cluster { name: self.name, namespace: self.namespace, uid: self.uid, generation: self.generation, spec }
    }
}

/// The provider input the host builds for a cluster: its (first) Tier-2 selection, nothing observed.
pub fn tier2_input(cluster: Cluster) -> Tier2Input {
    let selection = cluster.spec.ecs.tier2.selections().into_iter().next().expect("the spec selects a Tier-2");
    Tier2Input { cluster, config: selection.config, config_path: selection.config_path, observed: Vec::new() }
}

/// [`tier2_input`] with another configuration in place of the spec's (at the spec's config path).
pub fn tier2_input_with(cluster: Cluster, config: Value) -> Tier2Input {
    Tier2Input { config, ..tier2_input(cluster) }
}

/// The provider input for the seed's cluster with `tier2` (e.g. `{"hdfs": {...}}`) as its Tier-2.
pub fn seed_tier2_input(tier2: Value) -> Tier2Input {
    tier2_input(cluster().tier2(tier2).build())
}

/// The reconciler input for a cluster: nothing observed, no Tier-2 wiring, the target versions.
pub fn reconcile_input(cluster: Cluster) -> ReconcileInput {
    let versions = Versions::targets(&cluster.spec);
    ReconcileInput { cluster, observed: Vec::new(), tier2: None, versions, scale_down: None }
}

/// An observed pod of [`NAME`]'s `component`, running `image` in a container named after the
/// component, Ready or not.
pub fn observed_pod(name: &str, component: &str, image: &str, ready: bool) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "ecs-cluster", "ecs_cluster": NAME, "component": component}},
        "spec": {"containers": [{"name": component, "image": image}]},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
    })
}

/// A JSON document (e.g. one of a plan's objects), typed.
pub fn typed<T: serde::de::DeserializeOwned>(document: &Value) -> T {
    serde_json::from_value(document.clone()).expect("the document deserializes")
}

/// `(apiVersion, kind, metadata.name)` of each object, in order.
pub fn object_ids(objects: &[Value]) -> Vec<(&str, &str, &str)> {
    fn text(v: &Value) -> &str {
        v.as_str().unwrap_or_default()
    }
    objects.iter().map(|o| (text(&o["apiVersion"]), text(&o["kind"]), text(&o["metadata"]["name"]))).collect()
}

/// Asserts each part of what a plugin says of itself; `version` is the plugin crate's
/// (`env!("CARGO_PKG_VERSION")`), and the contract this SDK's.
pub fn assert_plugin_info(
    info: &PluginInfo,
    name: &str,
    version: &str,
    kind: PluginKind,
    component: &str,
    capabilities: &[&str],
) {
    assert_eq!(info.name, name);
    assert_eq!(info.version, version);
    assert_eq!(info.kind, kind);
    assert_eq!(info.contract, crate::CONTRACT_VERSION);
    assert_eq!(info.component, component);
    assert_eq!(info.capabilities, capabilities);
}
