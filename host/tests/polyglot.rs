//! Tier-2 providers written in Python and JavaScript, in a running operator: the examples
//! `plugins/examples/tier2-nfs-inline-python` and `-js` (built by `make polyglot` into
//! `target/example-plugins-polyglot/`), dropped into one `--plugin-dir` beside each other, each
//! used by its own ECSCluster on the local control plane. Each must wire the segment store nodes
//! exactly as the Rust provider of the same behaviour (`tier2-nfs-inline`) renders them, follow an
//! edit, and report a bad configuration at its field. Run by `make integration`:
//!
//!   cargo test -p ecs-operator --test polyglot -- --ignored
//!
//! with `ECS_TEST_KUBECONFIG` and `ECS_TEST_KUBECTL` set (and `ECS_TEST_ZOOKEEPER`, optional).

mod common;

use common::live::*;
use common::{kubectl, wait_for};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const PYTHON: &str = "tier2-nfs-inline-python";
const JS: &str = "tier2-nfs-inline-js";
const RUST: &str = "tier2-nfs-inline";

/// The seed's example named `cluster`, its Tier-2 the provider `plugin` on `server:path`.
fn cluster_with(cluster: &str, plugin: &str, server: &str, path: &str) -> String {
    let tier2 =
        format!("tier2:\n      plugin:\n        name: {plugin}\n        config: {{server: {server}, path: {path}}}\n");
    seed_example_with_tier2(cluster, &tier2)
}

/// The Python and JavaScript components, as `make polyglot` built them, in one plugin directory.
fn plugin_dir(ns: &Namespace) -> String {
    let built = Path::new(ROOT).join("target/example-plugins-polyglot");
    let dir = ns.dir.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    for name in [PYTHON, JS] {
        let file = built.join(format!("{name}.wasm"));
        std::fs::copy(&file, dir.join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("{}: {e} (build it with `make polyglot`)", file.display()));
    }
    dir.to_string_lossy().into_owned()
}

/// What `ecs-operator render` makes of `manifest` offline with `plugins` (JSON objects).
fn render(ns: &Namespace, plugins: &str, grant: &str, manifest: &str) -> Vec<Value> {
    let file = ns.dir.join("render.yaml");
    std::fs::write(&file, manifest.replacen("metadata:\n", &format!("metadata:\n  namespace: {}\n", ns.name), 1))
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-operator"))
        .args(["render", "-o", "json", "--plugin-dir", plugins, "--grant", &format!("{grant}=volumes:nfs"), "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let objects: Value = serde_json::from_slice(&out.stdout).unwrap();
    objects.get("items").unwrap_or(&objects).as_array().unwrap().clone()
}

/// The Tier-2 part of the nodes: their ConfigMap's Tier-2 settings, the `tier2` volume and its mount.
fn tier2_wiring(config_map: &Value, stateful_set: &Value) -> Value {
    let data = &config_map["data"];
    let pod = &stateful_set["spec"]["template"]["spec"];
    let find = |list: &Value, name: &str| {
        list.as_array().and_then(|l| l.iter().find(|v| v["name"] == name)).cloned().unwrap_or(Value::Null)
    };
    serde_json::json!({
        "TIER2_STORAGE": data["TIER2_STORAGE"],
        "NFS_MOUNT": data["NFS_MOUNT"],
        "volume": find(&pod["volumes"], "tier2"),
        "mount": find(&pod["containers"][0]["volumeMounts"], "tier2"),
    })
}

/// The rendered wiring as the API server stores it: Go's `omitempty` drops `readOnly: false`.
fn rendered_wiring(objects: &[Value], cluster: &str) -> Value {
    let find = |kind: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == format!("{cluster}-ecs-node"))
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} {cluster}-ecs-node rendered"))
    };
    let mut wiring = tier2_wiring(&find("ConfigMap"), &find("StatefulSet"));
    if let Some(nfs) = wiring["volume"]["nfs"].as_object_mut()
        && nfs.get("readOnly") == Some(&Value::Bool(false))
    {
        nfs.remove("readOnly");
    }
    wiring
}

fn live_wiring(ns: &Namespace, cluster: &str) -> Option<Value> {
    let name = format!("{cluster}-ecs-node");
    Some(tier2_wiring(&ns.get("configmap", &name)?, &ns.get("statefulset", &name)?))
}

#[test]
#[ignore = "needs a local control plane and make polyglot: make integration"]
fn python_and_javascript_providers_wire_live_clusters_as_the_rust_one_renders() {
    let ns = Namespace::new("it-polyglot");
    let plugins = plugin_dir(&ns);
    // Both are told apart in `plugins list`: name, source and digest.
    let list = Command::new(env!("CARGO_BIN_EXE_ecs-operator"))
        .args(["plugins", "list", "--plugin-dir", &plugins])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    for name in [PYTHON, JS] {
        let row =
            table.lines().find(|l| l.split_whitespace().next() == Some(name)).unwrap_or_else(|| panic!("{table}"));
        assert!(row.contains("tier2-provider") && row.contains(&format!("{name}.wasm")), "{row}");
    }

    let grants = [format!("{PYTHON}=volumes:nfs"), format!("{JS}=volumes:nfs")];
    let op = Operator::start(&ns, "a", &["--plugin-dir", &plugins, "--grant", &grants[0], "--grant", &grants[1]]);
    let clusters = [("py", PYTHON, "10.0.0.2", "/exports/py"), ("js", JS, "10.0.0.3", "/exports/js")];
    for (cluster, plugin, server, path) in clusters {
        ns.apply(&cluster_with(cluster, plugin, server, path));
    }
    let rust_plugins = Path::new(ROOT).join("target/example-plugins");
    for (cluster, plugin, server, path) in clusters {
        ns.wait_ready(cluster);
        let live = live_wiring(&ns, cluster).unwrap();
        // What the Rust provider renders for the same cluster, with the provider's name swapped.
        let rust = render(&ns, &rust_plugins.to_string_lossy(), RUST, &cluster_with(cluster, RUST, server, path));
        assert_eq!(live, rendered_wiring(&rust, cluster), "{plugin} vs {RUST}");
        assert_eq!(live["volume"]["nfs"], serde_json::json!({"server": server, "path": path}));
        assert_eq!(live["NFS_MOUNT"], "/mnt/tier2", "{live}");
        // Every object the operator keeps is one the CLI renders offline with the same plugin.
        let mine = render(&ns, &plugins, plugin, &cluster_with(cluster, plugin, server, path));
        let mut expected: Vec<(String, String)> = mine
            .iter()
            .map(|o| (o["kind"].as_str().unwrap().to_string(), o["metadata"]["name"].as_str().unwrap().to_string()))
            .collect();
        expected.sort();
        assert_eq!(ns.managed(cluster), expected, "{plugin}");
    }

    // Each follows an edit of its configuration.
    for (cluster, plugin, _, _) in clusters {
        let patch = r#"{"spec":{"ecs":{"tier2":{"plugin":{"config":{"path":"/exports/moved"}}}}}}"#;
        ns.patch("ecscluster", cluster, patch);
        wait_for(&format!("{plugin}: the moved export on the nodes"), T, || {
            (live_wiring(&ns, cluster)?["volume"]["nfs"]["path"] == "/exports/moved").then_some(())
        });
    }
    // And reports a relative path at its field, applying nothing of it.
    for (cluster, plugin, _, _) in clusters {
        ns.patch("ecscluster", cluster, r#"{"spec":{"ecs":{"tier2":{"plugin":{"config":{"path":"relative"}}}}}}"#);
        let invalid = wait_for(&format!("{plugin}: SpecValid=False"), T, || {
            ns.condition(cluster, "SpecValid").filter(|c| c["status"] == "False")
        });
        let message = invalid["message"].as_str().unwrap();
        assert!(message.contains("spec.ecs.tier2.plugin.config.path: must be an absolute path"), "{message}");
        assert_eq!(live_wiring(&ns, cluster).unwrap()["volume"]["nfs"]["path"], "/exports/moved");
    }
    let metrics = op.metrics();
    for plugin in [PYTHON, JS] {
        let calls = metrics
            .lines()
            .find(|l| l.starts_with("ecs_operator_plugin_call_duration_seconds_count") && l.contains(plugin))
            .unwrap_or_else(|| panic!("no calls of {plugin} in the metrics"));
        assert!(!calls.ends_with(" 0"), "{calls}");
    }
    op.stop();

    release_clusters(&ns.name);
    kubectl(&["delete", "namespace", &ns.name, "--wait=true", "--timeout=60s"]);
}

/// A full instance pool of Python calls (CPython's libraries are 14 core instances per call), then of
/// JavaScript calls: every call gets its instance. The deadline is raised: this is about the pool's
/// capacity (an exhausted pool fails a call at once), and 32 calls at once on a 2-core machine are
/// slow. Run by `make polyglot`:
///
///   cargo test -p ecs-operator --test polyglot -- --ignored the_instance_pool
#[test]
#[ignore = "needs make polyglot"]
fn the_instance_pool_holds_a_full_load_of_python_and_javascript_calls() {
    use ecs_operator::runtime::{Limits, PluginSource, Runtime, WasmBytes};
    let defaults = Limits::default();
    // One plugin may take the whole pool here (in the operator, a plugin's share is a quarter of it).
    let limits = Limits {
        calls_per_plugin: defaults.concurrent_calls,
        deadline: std::time::Duration::from_secs(60),
        ..defaults
    };
    let cache = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("polyglot-plugin-cache");
    let runtime = Runtime::new(limits.clone(), Some(cache)).unwrap();
    let built = Path::new(ROOT).join("target/example-plugins-polyglot");
    let plugins: Vec<_> = [PYTHON, JS]
        .iter()
        .map(|name| {
            let path = built.join(format!("{name}.wasm"));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (make polyglot)", path.display()));
            runtime.load(PluginSource::File(path.clone()), WasmBytes::File(path), &bytes, None).unwrap()
        })
        .collect();
    let cluster = ecs_plugin_sdk::testing::cluster().namespace("default").build();
    let input =
        ecs_plugin_sdk::testing::tier2_input_with(cluster, serde_json::json!({"server": "10.0.0.2", "path": "/e"}));
    for plugin in &plugins {
        let threads = limits.concurrent_calls as usize;
        let start = std::sync::Barrier::new(threads);
        std::thread::scope(|s| {
            let calls: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        (0..3).map(|_| runtime.provide(plugin, &input).map(|_| ())).collect::<Result<Vec<()>, _>>()
                    })
                })
                .collect();
            for call in calls {
                if let Err(e) = call.join().unwrap() {
                    panic!("{} with {threads} calls at once: {e}", plugin.info.name);
                }
            }
        });
    }
}
