//! A deliberately misbehaving reconciler for the sandbox tests (`host/tests/sandbox.rs`); never shipped.
//!
//! It calls itself `bookkeeper`, so dropping it into a `--plugin-dir` overrides the built-in one, and
//! chooses how to misbehave from the name of the cluster it is asked to reconcile, so one build covers
//! every case:
//!
//! | cluster name | behaviour                                                                  |
//! |--------------|----------------------------------------------------------------------------|
//! | `loop`       | spins forever                                                              |
//! | `oom`        | allocates 1 MiB chunks forever                                             |
//! | `panic`      | panics                                                                     |
//! | `passwd`     | reads `/etc/passwd` and returns it in a ConfigMap (fails if it cannot)     |
//! | `crb`        | emits a ClusterRoleBinding to `cluster-admin`                              |
//! | `otherns`    | emits a ConfigMap in `kube-system`                                         |
//! | `badjson`    | returns an object that is not JSON                                         |
//! | `env`        | reports the environment, arguments and clock it sees                       |
//! | anything else| a benign ConfigMap `<name>-bookie`                                         |
//!
//! It implements the raw WIT bindings rather than the SDK's `Reconciler` trait so that it can return
//! output the SDK would never produce.

use ecs_plugin_sdk::wasm::reconciler::Guest;
use ecs_plugin_sdk::wasm::wit::{
    Cluster, ComponentStatus, FieldError, Plan, PluginError, PluginInfo, PluginKind, ReconcileInput,
};
use serde_json::{Value, json};
use std::hint::black_box;

/// The message of the `panic` case, which the host should surface.
pub const PANIC_MESSAGE: &str = "hostile plugin panicked on purpose";

/// Value of the `component` label: the built-in bookkeeper's.
const COMPONENT: &str = "bookie";

pub struct Hostile;

impl Guest for Hostile {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "bookkeeper".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::Reconciler,
            contract: ecs_plugin_sdk::CONTRACT_VERSION.to_string(),
            component: COMPONENT.to_string(),
            capabilities: Vec::new(),
        }
    }

    fn validate(_cluster: Cluster) -> Vec<FieldError> {
        Vec::new()
    }

    fn reconcile(input: ReconcileInput) -> Result<Plan, PluginError> {
        let cluster = &input.cluster;
        match cluster.name.as_str() {
            "loop" => spin(),
            "oom" => exhaust_memory(),
            "panic" => panic!("{PANIC_MESSAGE}"),
            "passwd" => match std::fs::read_to_string("/etc/passwd") {
                Ok(content) => Ok(plan(vec![config_map("passwd-leak", None, json!({ "passwd": content }))])),
                Err(e) => Err(PluginError::Failed(format!("could not read /etc/passwd: {e}"))),
            },
            "crb" => Ok(plan(vec![json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": { "name": "crb-admin" },
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [{ "kind": "ServiceAccount", "name": "default", "namespace": cluster.namespace }],
            })])),
            "otherns" => Ok(plan(vec![config_map("otherns-bookie", Some("kube-system"), json!({ "ok": "true" }))])),
            "badjson" => {
                Ok(Plan { objects: vec![r#"{"kind": "ConfigMap","#.to_string()], status: status(), events: Vec::new() })
            }
            "env" => {
                let clock = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs().to_string())
                    .unwrap_or_else(|e| format!("before the epoch: {e}"));
                let data = json!({
                    "vars": std::env::vars_os().count().to_string(),
                    "args": std::env::args_os().count().to_string(),
                    "clock": clock,
                });
                Ok(plan(vec![config_map("env-bookie", None, data)]))
            }
            name => Ok(plan(vec![config_map(&format!("{name}-bookie"), None, json!({ "ok": "true" }))])),
        }
    }
}

/// Never returns; `black_box` keeps the optimizer from proving the loop side-effect free.
fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Never returns: keeps every chunk alive until an allocation fails.
fn exhaust_memory() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let chunk = black_box(vec![0xa5u8; 1 << 20]);
        hoard.push(chunk);
        black_box(&hoard);
    }
}

fn config_map(name: &str, namespace: Option<&str>, data: Value) -> Value {
    let mut metadata = json!({ "name": name });
    if let Some(ns) = namespace {
        metadata["namespace"] = ns.into();
    }
    json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data })
}

fn status() -> ComponentStatus {
    ComponentStatus {
        component: COMPONENT.to_string(),
        desired_replicas: 3,
        ready_replicas: 0,
        ready_members: Vec::new(),
        unready_members: Vec::new(),
        current_version: None,
    }
}

fn plan(objects: Vec<Value>) -> Plan {
    Plan { objects: objects.iter().map(Value::to_string).collect(), status: status(), events: Vec::new() }
}

ecs_plugin_sdk::wasm::reconciler::export_reconciler_world!(Hostile with_types_in ecs_plugin_sdk::wasm::reconciler);
