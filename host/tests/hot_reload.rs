//! Plugins dropped into a running operator, against the local control plane (`make integration`):
//!
//!   cargo test -p ecs-operator --test hot_reload -- --ignored --test-threads=1
//!
//! Version 1 of the example provider serves a cluster; version 2 is copied over it and goes into
//! service without a restart (a rendered object changes, no reconcile fails); a file refused by the
//! pinning manifest leaves version 1 in service and says why in a Warning Event and a metric; and
//! `plugins list --operator` shows what is in service.

mod common;

use common::live::*;
use common::wait_for;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const NAME: &str = "tier2-nfs-inline";

fn wasm_dir() -> PathBuf {
    PathBuf::from(env!("ECS_PLUGIN_WASM_DIR"))
}

fn v1() -> PathBuf {
    wasm_dir().join("ecs_plugin_tier2_nfs_inline.wasm")
}

fn v2() -> PathBuf {
    let target = wasm_dir().parent().and_then(Path::parent).unwrap().to_path_buf();
    target.join("example-plugins-v2/ecs_plugin_tier2_nfs_inline.wasm")
}

fn sha256(path: &Path) -> String {
    ecs_operator::runtime::digest(&std::fs::read(path).unwrap())
}

/// A plugin directory holding version 1, as the operator's volume would.
fn plugin_dir(ns: &Namespace) -> PathBuf {
    for file in [v1(), v2()] {
        assert!(file.is_file(), "{} is missing: build the plugins with `make plugins`", file.display());
    }
    let dir = ns.dir.join("plugins");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(v1(), dir.join("nfs-inline.wasm")).unwrap();
    dir
}

/// Replaces the plugin file the way a volume update does: a new file renamed over the old one.
fn replace(dir: &Path, with: &Path) {
    let tmp = dir.join(".incoming");
    std::fs::copy(with, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("nfs-inline.wasm")).unwrap();
}

fn nfs_cluster(name: &str) -> String {
    seed_example(name).replace(
        &format!("      filesystem:\n        persistentVolumeClaim:\n          claimName: {name}-tier2\n"),
        "      plugin:\n        name: tier2-nfs-inline\n        config:\n          server: 10.0.0.2\n          path: /exports/ecs\n",
    )
}

/// The `NFS_EXPORT` setting in the segment stores' ConfigMap (version 2 of the plugin adds it).
fn nfs_export(ns: &Namespace, cluster: &str) -> Option<String> {
    let config = ns.get("configmap", &format!("{cluster}-ecs-node"))?;
    config["data"]["NFS_EXPORT"].as_str().map(str::to_string)
}

fn plugins_list(op: &Operator) -> (String, Value) {
    let url = format!("http://127.0.0.1:{}", op.admin_port.expect("the harness gives an admin port"));
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ecs-operator"))
            .args(["plugins", "list", "--operator", &url])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    (run(&[]), serde_json::from_str(&run(&["--json"])).unwrap())
}

fn reported<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["plugins"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or(&Value::Null)
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn a_plugin_swapped_under_a_running_operator_changes_what_it_renders() {
    let ns = Namespace::new("it-hot-reload");
    let dir = plugin_dir(&ns);
    let dir_arg = dir.to_str().unwrap();
    let op = Operator::start(
        &ns,
        "a",
        &["--plugin-dir", dir_arg, "--grant", "tier2-nfs-inline=volumes:nfs", "--plugin-poll-seconds", "1"],
    );
    ns.apply(&nfs_cluster("ecs"));
    ns.wait_ready("ecs");
    assert_eq!(nfs_export(&ns, "ecs"), None, "version 1 sets no NFS_EXPORT");
    let pid = op.child.id();
    let failures_before = op.metric("ecs_operator_reconciles_total{result=\"plugin_fault\"}")
        + op.metric("ecs_operator_reconciles_total{result=\"api_error\"}");

    let (table, report) = plugins_list(&op);
    assert!(table.starts_with("NAME\tKIND\tVERSION"), "{table}");
    let plugin = reported(&report, NAME);
    assert_eq!(plugin["sha256"], sha256(&v1()));
    assert_eq!(plugin["source"], dir.join("nfs-inline.wasm").display().to_string());
    assert_eq!(plugin["capabilities"], serde_json::json!(["volumes:nfs"]));
    assert!(plugin["calls"].as_u64().unwrap() > 0 && plugin["loaded"] == true, "{plugin}");
    assert_eq!(plugin["faults"], 0);
    // The built-in Tier-2 providers no cluster here uses are not even compiled.
    assert_eq!(reported(&report, "tier2-hdfs")["loaded"], false, "{report}");

    replace(&dir, &v2());
    let export = wait_for("version 2's NFS_EXPORT on the segment stores", T, || nfs_export(&ns, "ecs"));
    assert_eq!(export, "10.0.0.2:/exports/ecs");
    ns.wait_ready("ecs");
    assert_eq!(op.child.id(), pid);
    assert!(op.log_text().contains("plugins swapped in"), "{}", op.log_text());
    assert_eq!(op.metric("ecs_operator_plugin_reloads_total"), 1.0);
    let failures_after = op.metric("ecs_operator_reconciles_total{result=\"plugin_fault\"}")
        + op.metric("ecs_operator_reconciles_total{result=\"api_error\"}");
    assert_eq!(failures_after, failures_before, "no reconcile failed across the swap");
    let events = wait_for("the PluginsReloaded Event", T, || {
        let events = ns.events();
        events.contains("PluginsReloaded").then_some(events)
    });
    assert!(events.contains("+v2"), "{events}");
    let (_, report) = plugins_list(&op);
    assert_eq!(reported(&report, NAME)["sha256"], sha256(&v2()));
    assert!(reported(&report, NAME)["version"].as_str().unwrap().ends_with("+v2"));
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn a_pinned_plugin_replaced_by_another_file_is_refused_and_stays_in_service() {
    let ns = Namespace::new("it-plugin-pins");
    let dir = plugin_dir(&ns);
    let pins = ns.dir.join("pins.yaml");
    std::fs::write(&pins, format!("{NAME}: sha256:{}\n", sha256(&v1()))).unwrap();
    let op = Operator::start(
        &ns,
        "a",
        &[
            "--plugin-dir",
            dir.to_str().unwrap(),
            "--grant",
            "tier2-nfs-inline=volumes:nfs",
            "--plugin-pins",
            pins.to_str().unwrap(),
            "--plugin-poll-seconds",
            "1",
        ],
    );
    ns.apply(&nfs_cluster("ecs"));
    ns.wait_ready("ecs");

    replace(&dir, &v2());
    let events = wait_for("the PluginLoadFailed Event", T, || {
        let events = ns.events();
        events.contains("PluginLoadFailed").then_some(events)
    });
    assert!(events.contains(&sha256(&v2())) && events.contains("refused without running it"), "{events}");
    assert!(events.contains("stays in service"), "{events}");
    assert_eq!(op.metric("ecs_operator_plugin_load_failures_total{file=\"nfs-inline.wasm\"}"), 1.0);
    assert!(op.log_text().contains("refused without running it"), "{}", op.log_text());
    let (table, report) = plugins_list(&op);
    assert_eq!(reported(&report, NAME)["sha256"], sha256(&v1()), "version 1 stays in service");
    assert!(table.contains("# not loaded:"), "{table}");

    // Version 1 still renders: an edit of the cluster is applied with it (no NFS_EXPORT).
    ns.patch("ecscluster", "ecs", r#"{"spec":{"ecs":{"nodeReplicas":2}}}"#);
    wait_for("the edit applied with version 1", T, || {
        let sts = ns.get("statefulset", "ecs-ecs-node")?;
        (sts["spec"]["replicas"] == 2).then_some(())
    });
    assert_eq!(nfs_export(&ns, "ecs"), None);
    assert_eq!(op.metric("ecs_operator_plugin_reloads_total"), 0.0, "nothing was swapped in");
}
