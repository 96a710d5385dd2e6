//! A deliberately misbehaving reconciler for the sandbox and output-policy tests (`host/tests/sandbox.rs`,
//! `host/tests/hostile.rs`); never shipped.
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
//! | `sleep`      | `std::thread::sleep` for an hour (`subscribe-duration` + `pollable.block`) |
//! | `sleep-until`| `subscribe-instant` on the last instant, then `pollable.block`             |
//! | `poll`       | `wasi:io/poll.poll` on a clock an hour away                                |
//! | `poll-stream`| `wasi:io/poll.poll` on stderr's pollable, forever                          |
//! | `random`     | asks the host for 32 MiB of random bytes at a time, forever                |
//! | `many-objects` | returns 20000 ConfigMaps                                                 |
//! | `big-object` | returns one ConfigMap of 3.9 MB                                            |
//! | `many-events`| returns 200000 Events                                                      |
//! | `bad-reason` | returns an Event whose reason Kubernetes refuses (`not ok\n`)              |
//! | `long-event` | returns an Event with a 10 kB message                                      |
//! | `many-members` | reports 100000 status members                                            |
//! | `big-status` | reports 10.8 MB of status (three 3.6 MB member names)                      |
//! | `many-errors`| `validate` returns 400000 field errors; `reconcile` fails with them        |
//! | `long-failure` | fails with an 8 MB message                                               |
//! | `forge-log`  | logs [`FORGED_LOG`], a line that forges an operator log line; then benign  |
//! | `forge-failure` | fails with [`FORGED_FAILURE`]: control, ESC, C1 and separator characters |
//! | anything else| a benign ConfigMap `<name>-bookie`                                         |
//!
//! With `spec.bookkeeper.options.attack` set, it instead emits the honest bookkeeper's objects with
//! one output-policy attack applied (`attacks`), whatever the cluster's name.
//!
//! It implements the raw WIT bindings rather than the SDK's `Reconciler` trait so that it can return
//! output the SDK would never produce.

pub mod attacks;
mod wait;

use ecs_plugin_sdk::wasm::reconciler::Guest;
use ecs_plugin_sdk::wasm::wit::{
    Cleanup, Cluster, ComponentStatus, Event, EventType, FieldError, Plan, PluginError, PluginInfo, PluginKind,
    ReconcileInput,
};
use serde_json::{Value, json};
use std::hint::black_box;

/// The message of the `panic` case, which the host should surface.
pub const PANIC_MESSAGE: &str = "hostile plugin panicked on purpose";

/// What the `forge-log` case logs (at error level): a newline, then a whole JSON log line.
pub const FORGED_LOG: &str = "ok\n{\"level\":\"ERROR\",\"message\":\"forged\"}";

/// The failure message of the `forge-failure` case.
pub const FORGED_FAILURE: &str =
    "ok\r\n{\"level\":\"ERROR\",\"message\":\"forged\"}\t\u{1b}[2J\u{85}\u{2028}\u{2029}\u{202e}end";

/// Field errors of the `many-errors` case.
pub const MANY_ERRORS: usize = 400_000;

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

    fn validate(cluster: Cluster) -> Vec<FieldError> {
        match cluster.name.as_str() {
            "many-errors" => many_errors(),
            _ => Vec::new(),
        }
    }

    fn reconcile(input: ReconcileInput) -> Result<Plan, PluginError> {
        let cluster = &input.cluster;
        // An output-policy attack (`spec.bookkeeper.options.attack`, see `attacks`), if asked for.
        let spec: Value = serde_json::from_str(&cluster.spec).unwrap_or_default();
        if let Some(attack) = spec.pointer("/bookkeeper/options/attack").and_then(Value::as_str) {
            // The host deletes the trees a plan declares: ask for a sibling's, the root's, and an escape.
            if attack == "zookeeper-escape" {
                let cleanup = ["/ecs/ecs-x", "/ecs", &format!("/ecs/{}/../ecs-x", cluster.name)]
                    .iter()
                    .map(|p| Cleanup::ZookeeperTree(p.to_string()))
                    .collect();
                return Ok(Plan { cleanup, ..plan(Vec::new()) });
            }
            return match attacks::objects(&cluster.name, &spec, attack) {
                Some(objects) => Ok(plan(objects)),
                None => Err(PluginError::Failed(format!("unknown attack {attack:?}"))),
            };
        }
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
            "badjson" => Ok(Plan { objects: vec![r#"{"kind": "ConfigMap","#.to_string()], ..plan(Vec::new()) }),
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
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Err(PluginError::Failed("slept for an hour".to_string()))
            }
            "sleep-until" => {
                wait::until_the_end_of_time();
                Err(PluginError::Failed("the end of time came".to_string()))
            }
            "poll" => {
                wait::poll_a_clock();
                Err(PluginError::Failed("an hour passed".to_string()))
            }
            "poll-stream" => {
                wait::poll_a_stream_forever();
                Err(PluginError::Failed("stopped polling".to_string()))
            }
            "random" => {
                wait::random_forever();
                Err(PluginError::Failed("stopped asking for random bytes".to_string()))
            }
            "many-objects" => {
                let objects = (0..20_000).map(|i| config_map(&format!("many-objects-{i}"), None, json!({})));
                Ok(plan(objects.collect()))
            }
            "big-object" => {
                Ok(plan(vec![config_map("big-object-bookie", None, json!({ "blob": "x".repeat(3_900_000) }))]))
            }
            "many-events" => {
                let events = vec![event("Spam", ""); 200_000];
                Ok(Plan { events, ..plan(Vec::new()) })
            }
            // Asks the host to delete ZooKeeper trees: many, and everybody's.
            "many-cleanups" => {
                let cleanup = (0..9).map(|i| Cleanup::ZookeeperTree(format!("/ecs/{i}"))).collect();
                Ok(Plan { cleanup, ..plan(Vec::new()) })
            }
            "bad-reason" => Ok(Plan { events: vec![event("not ok\n", "m")], ..plan(Vec::new()) }),
            "long-event" => Ok(Plan { events: vec![event("Chatty", &"m".repeat(10_000))], ..plan(Vec::new()) }),
            "many-members" => {
                let mut p = plan(Vec::new());
                p.status.ready_members = (0..100_000).map(|i| format!("many-members-bookie-{i}")).collect();
                Ok(p)
            }
            "big-status" => {
                let mut p = plan(Vec::new());
                p.status.ready_members = vec!["m".repeat(3_600_000); 3];
                Ok(p)
            }
            "many-errors" => Err(PluginError::InvalidInput(many_errors())),
            "long-failure" => Err(PluginError::Failed("f".repeat(8 << 20))),
            "forge-log" => {
                ecs_plugin_sdk::log(ecs_plugin_sdk::LogLevel::Error, FORGED_LOG);
                Ok(plan(vec![config_map("forge-log-bookie", None, json!({ "ok": "true" }))]))
            }
            "forge-failure" => Err(PluginError::Failed(FORGED_FAILURE.to_string())),
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

fn event(reason: &str, message: &str) -> Event {
    Event { type_: EventType::Warning, reason: reason.to_string(), message: message.to_string() }
}

/// Empty paths and messages: only the count is hostile (and the guest's memory stays small).
fn many_errors() -> Vec<FieldError> {
    vec![FieldError { path: String::new(), message: String::new() }; MANY_ERRORS]
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
    Plan {
        objects: objects.iter().map(Value::to_string).collect(),
        status: status(),
        events: Vec::new(),
        cleanup: Vec::new(),
    }
}

ecs_plugin_sdk::wasm::reconciler::export_reconciler_world!(Hostile with_types_in ecs_plugin_sdk::wasm::reconciler);
