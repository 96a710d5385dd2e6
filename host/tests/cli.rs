//! The command line as users run it: exit codes, stderr lines, output formats, plugin listing.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn command(args: &[&str]) -> Output {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-cache-{}", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_ecs-operator"))
        .args(args)
        .current_dir(workspace())
        .env("ECS_OPERATOR_CACHE_DIR", cache)
        .output()
        .expect("the binary runs")
}

/// Runs the binary with this test run's own compile cache, filled once (compiling the built-ins takes
/// seconds) before the tests use it.
fn run(args: &[&str]) -> Output {
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| assert!(command(&["plugins", "list"]).status.success()));
    command(args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write_temp(name: &str, content: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cluster.yaml");
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn render_prints_every_object_of_the_seed_example_as_json() {
    let out = run(&["render", "-f", "deploy/examples/ecs.yaml", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_str(&stdout(&out)).expect("a JSON List");
    assert_eq!(list["kind"], "List");
    let names: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| format!("{}/{}", o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap()))
        .collect();
    for expected in [
        "StatefulSet/ecs-bookie",
        "Service/ecs-bookie-headless",
        "Deployment/ecs-ecs-controller",
        "Service/ecs-ecs-controller",
        "StatefulSet/ecs-ecs-node",
        "Service/ecs-ecs-node-headless",
        "PodDisruptionBudget/ecs-bookie",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}

#[test]
fn an_invalid_spec_exits_2_with_one_line_per_field() {
    let out = run(&["render", "-f", "tests/cases/invalid-bookie-replicas/cluster.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "spec.bookkeeper.replicas: must be greater than or equal to 1\n\
         spec.ecs.nodeReplicas: must be greater than or equal to 1\n"
    );
    assert!(stdout(&out).is_empty(), "nothing is printed for an invalid spec");

    let unknown = run(&["validate", "-f", "tests/cases/invalid-unknown-plugin/cluster.yaml"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).starts_with("spec.ecs.tier2.plugin.name: no loaded Tier-2 plugin is named"));
}

#[test]
fn a_plugin_fault_exits_3_naming_the_plugin() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = Path::new(env!("ECS_PLUGIN_WASM_DIR")).join("ecs_plugin_hostile.wasm");
    std::fs::copy(&wasm, dir.join("hostile.wasm")).expect("make plugins built the hostile plugin");
    let cluster = std::fs::read_to_string(workspace().join("deploy/examples/ecs.yaml"))
        .unwrap()
        .replace("name: \"ecs\"", "name: \"panic\"")
        .replace("claimName: ecs-tier2", "claimName: panic-tier2");
    let path = write_temp("panic", &cluster);
    let render = |extra: &[&str]| {
        let mut args = vec!["render", "-f", path.to_str().unwrap(), "--plugin-dir", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        run(&args)
    };
    // A file named like a built-in is refused unless the configuration allows the override.
    let out = render(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("would replace the built-in") && err.contains("--allow-override bookkeeper"), "{err}");
    let out = render(&["--allow-override", "bookkeeper"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("plugin bookkeeper (reconcile) trapped"), "{err}");
    assert!(err.contains("hostile plugin panicked on purpose"), "{err}");
}

#[test]
fn validate_accepts_the_seed_example() {
    let out = run(&["validate", "-f", "deploy/examples/ecs.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "default/ecs: valid\n");
}

#[test]
fn plugins_list_shows_every_builtin_with_its_digest() {
    let out = run(&["plugins", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for name in ["bookkeeper", "controller", "node", "tier2-nfs", "tier2-filestore", "tier2-hdfs", "tier2-ecs"] {
        let line = text.lines().find(|l| l.starts_with(&format!("{name}\t"))).unwrap_or_else(|| panic!("{name}"));
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields[3], "0.2.0", "contract of {name}");
        assert_eq!(fields[5].len(), 64, "sha256 of {name}");
        assert!(fields[6].starts_with("builtin:"), "source of {name}");
    }
    assert!(text.contains("emits:PersistentVolume"), "filestore's granted capability is listed");
}

#[test]
fn a_missing_file_exits_1() {
    let out = run(&["render", "-f", "no/such/file.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("reading no/such/file.yaml"), "{}", stderr(&out));
}
