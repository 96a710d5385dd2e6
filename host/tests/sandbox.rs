//! The sandbox holds against a deliberately hostile plugin (`tests/hostile`, built with `make plugins`):
//! every misbehaviour ends in a typed fault that names the plugin and the cause, a failed call never
//! poisons the next one, the plugin sees no files, environment or clock, and the output policy rejects
//! what a plugin may not create even when it overrides a built-in.

use ecs_operator::pipeline::{self, RenderError};
use ecs_operator::plugins::{Grants, PluginSet};
use ecs_operator::runtime::{Fault, Limits, Plugin, PluginCallError, PluginSource, Runtime};
use ecs_plugin_sdk::{Cluster, Plan, PluginKind, ReconcileInput, testing};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Short enough to keep the runaway-loop test quick, long enough for any honest call.
const DEADLINE: Duration = Duration::from_millis(300);
const NAMESPACE: &str = "streams";
const HOSTILE_WASM: &str = "ecs_plugin_hostile.wasm";

fn wasm_dir() -> PathBuf {
    PathBuf::from(env!("ECS_PLUGIN_WASM_DIR"))
}

fn hostile_path() -> PathBuf {
    let path = wasm_dir().join(HOSTILE_WASM);
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --profile plugin --target wasm32-wasip2 -p ecs-plugin-hostile` \
         (or `make plugins`)",
        path.display()
    );
    path
}

fn limits() -> Limits {
    Limits { deadline: DEADLINE, ..Limits::default() }
}

/// The seed README's example cluster, under the given name.
fn cluster(name: &str) -> Cluster {
    testing::cluster().name(name).namespace(NAMESPACE).uid("6c1a0f5e-0000-4000-8000-00000000beef").build()
}

fn input(name: &str) -> ReconcileInput {
    let cluster = cluster(name);
    // The host's choice of versions, not the fixture's.
    let versions = pipeline::target_versions(&cluster);
    ReconcileInput { versions, ..testing::reconcile_input(cluster) }
}

/// One runtime and one loaded hostile plugin, shared by every Runtime-level test: each call gets a
/// fresh instance, so sharing is exactly what must be safe.
struct Sandbox {
    runtime: Runtime,
    plugin: Plugin,
}

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let runtime = Runtime::new(limits(), None).expect("runtime");
        let path = hostile_path();
        let wasm = std::fs::read(&path).expect("read the hostile plugin");
        let plugin = runtime.load(PluginSource::File(path), &wasm, None).expect("the hostile plugin loads");
        Sandbox { runtime, plugin }
    })
}

#[test]
fn more_concurrent_calls_than_the_pool_holds_fail_cleanly() {
    // A pool of one instance, held by a runaway call: a second call cannot get an instance and must
    // say so, and once the runaway call hits its deadline the pool serves again. The long deadline
    // leaves the runaway thread ample time to take the instance before the second call.
    let deadline = Duration::from_secs(2);
    let runtime = Runtime::new(Limits { concurrent_calls: 1, deadline, ..limits() }, None).expect("runtime");
    let path = hostile_path();
    let wasm = std::fs::read(&path).expect("read the hostile plugin");
    let plugin = runtime.load(PluginSource::File(path), &wasm, None).expect("loads");
    std::thread::scope(|s| {
        let runaway = s.spawn(|| runtime.reconcile(&plugin, &input("loop")));
        std::thread::sleep(deadline / 4);
        let err = runtime.reconcile(&plugin, &input("ecs")).expect_err("the only instance is busy");
        assert!(matches!(err.fault, Fault::Runtime(_)), "{err:?}");
        assert!(err.to_string().contains("plugin bookkeeper (reconcile) could not run"), "{err}");
        let runaway = runaway.join().expect("no panic").expect_err("the loop hits its deadline");
        assert!(matches!(runaway.fault, Fault::DeadlineExceeded(_)), "{runaway:?}");
    });
    runtime.reconcile(&plugin, &input("ecs")).expect("the pool serves again");
}

/// Runs the hostile reconciler on a cluster of the given name; a failure must name the plugin.
fn reconcile(name: &str) -> Result<Plan, PluginCallError> {
    let sb = sandbox();
    let result = sb.runtime.reconcile(&sb.plugin, &input(name));
    if let Err(e) = &result {
        assert_eq!(e.plugin, "bookkeeper");
        assert_eq!(e.op, "reconcile");
        assert!(e.to_string().starts_with("plugin bookkeeper (reconcile) "), "{e}");
    }
    result
}

fn expect_fault(name: &str) -> PluginCallError {
    match reconcile(name) {
        Ok(plan) => {
            panic!("cluster {name:?}: the hostile plugin should have failed, returned {plan:?}")
        }
        Err(e) => e,
    }
}

fn assert_benign_plan(plan: &Plan, name: &str) {
    assert_eq!(plan.objects.len(), 1, "{plan:?}");
    let cm = &plan.objects[0];
    assert_eq!(cm["apiVersion"], "v1");
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], format!("{name}-bookie"));
    assert_eq!(cm["data"], json!({"ok": "true"}));
    assert_eq!(plan.status.component, "bookie");
    assert_eq!(plan.status.desired_replicas, 3);
    assert_eq!(plan.status.ready_replicas, 0);
    assert!(plan.status.ready_members.is_empty() && plan.status.unready_members.is_empty());
    assert!(plan.events.is_empty());
}

/// After a hostile call the same runtime and plugin still serve an honest call: nothing of the
/// failed instance (spent fuel, exhausted memory, a trap) carries over.
fn assert_still_serves() {
    let plan = reconcile("ecs").expect("a benign call after a hostile one succeeds");
    assert_benign_plan(&plan, "ecs");
}

#[test]
fn the_hostile_plugin_describes_itself_as_the_bookkeeper() {
    let sb = sandbox();
    let info = sb.runtime.describe(&sb.plugin).unwrap();
    assert_eq!(info, sb.plugin.info);
    assert_eq!(info.name, "bookkeeper");
    assert_eq!(info.kind, PluginKind::Reconciler);
    assert_eq!(info.contract, ecs_plugin_sdk::CONTRACT_VERSION);
    assert_eq!(info.component, "bookie");
    assert!(info.capabilities.is_empty());
    assert!(sb.runtime.validate_cluster(&sb.plugin, &cluster("ecs")).unwrap().is_empty());
}

#[test]
fn benign_call_succeeds() {
    let plan = reconcile("ecs").unwrap();
    assert_benign_plan(&plan, "ecs");
}

#[test]
fn infinite_loop_hits_the_deadline() {
    let started = Instant::now();
    let e = expect_fault("loop");
    let elapsed = started.elapsed();
    assert!(matches!(e.fault, Fault::DeadlineExceeded(d) if d == DEADLINE), "{e:?}");
    let message = e.to_string();
    assert!(message.contains(&format!("exceeded its {}ms deadline", DEADLINE.as_millis())), "{message}");
    // Epoch interruption never fires early, and stops a runaway plugin promptly (a generous bound:
    // this is a correctness test, not a benchmark).
    assert!(elapsed >= DEADLINE, "interrupted after {elapsed:?}, before the {DEADLINE:?} deadline");
    assert!(elapsed < Duration::from_secs(10), "a runaway loop held the call for {elapsed:?}");
    assert_still_serves();
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let e = expect_fault("oom");
    match &e.fault {
        Fault::MemoryLimit(m) => {
            assert_eq!(m.cap, Limits::default().memory_bytes);
            assert!(m.desired > m.cap, "{m:?}");
        }
        other => panic!("expected Fault::MemoryLimit, got {other:?}"),
    }
    let message = e.to_string();
    assert!(message.contains("exceeded its memory limit"), "{message}");
    assert!(message.contains(&format!("the limit is {} bytes", 64 << 20)), "{message}");
    assert_still_serves();
}

#[test]
fn panic_is_a_trap_carrying_the_panic_message() {
    let e = expect_fault("panic");
    match &e.fault {
        Fault::Trap { guest_message, .. } => {
            let guest = guest_message.as_deref().unwrap_or_default();
            assert!(guest.contains("hostile plugin panicked on purpose"), "guest message: {guest_message:?}");
        }
        other => panic!("expected Fault::Trap, got {other:?}"),
    }
    let message = e.to_string();
    assert!(message.contains("trapped"), "{message}");
    assert!(message.contains("hostile plugin panicked on purpose"), "{message}");
    assert_still_serves();
}

#[test]
fn the_filesystem_is_not_reachable() {
    let e = match reconcile("passwd") {
        Ok(plan) => panic!("the plugin read /etc/passwd: {plan:?}"),
        Err(e) => e,
    };
    match &e.fault {
        Fault::Failed(m) => assert!(m.contains("could not read /etc/passwd"), "{m}"),
        other => panic!("expected Fault::Failed, got {other:?}"),
    }
    let message = e.to_string();
    assert!(message.contains("reported a failure: could not read /etc/passwd"), "{message}");
    assert!(!message.contains("root:"), "{message}");
    assert_still_serves();
}

#[test]
fn output_that_is_not_json_is_malformed() {
    let e = expect_fault("badjson");
    match &e.fault {
        Fault::MalformedOutput(m) => assert!(m.contains("not JSON"), "{m}"),
        other => panic!("expected Fault::MalformedOutput, got {other:?}"),
    }
    let message = e.to_string();
    assert!(message.contains("returned malformed output"), "{message}");
    assert_still_serves();
}

#[test]
fn no_environment_arguments_or_clock() {
    let plan = reconcile("env").expect("the env probe succeeds");
    assert_eq!(plan.objects.len(), 1, "{plan:?}");
    let cm = &plan.objects[0];
    assert_eq!(cm["metadata"]["name"], "env-bookie");
    assert_eq!(cm["data"], json!({"vars": "0", "args": "0", "clock": "0"}), "{cm}");
}

#[test]
fn the_same_input_gives_the_same_plan() {
    for name in ["ecs", "env"] {
        let first = reconcile(name).unwrap();
        let second = reconcile(name).unwrap();
        assert_eq!(first, second, "cluster {name:?}");
    }
}

#[test]
fn hostile_calls_in_parallel_do_not_disturb_honest_ones() {
    std::thread::scope(|s| {
        let hostile: Vec<_> =
            ["loop", "oom", "panic", "badjson"].map(|n| s.spawn(move || reconcile(n).is_err())).into();
        for _ in 0..20 {
            assert_still_serves();
        }
        for h in hostile {
            assert!(h.join().unwrap());
        }
    });
}

// ---- Full pipeline: the hostile plugin dropped into a --plugin-dir overrides the built-in bookkeeper.

/// A plugin directory holding only the hostile plugin; removed when dropped.
struct PluginDir(PathBuf);

impl PluginDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("ecs-operator-sandbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the plugin dir");
        std::fs::copy(hostile_path(), dir.join("hostile.wasm")).expect("copy the hostile plugin");
        PluginDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The built-ins plus the hostile bookkeeper, loaded once (compiling every built-in takes a while).
fn overridden() -> &'static PluginSet {
    static SET: OnceLock<PluginSet> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = PluginDir::new();
        // Default limits: the built-ins are honest, and this is about the policy, not the deadline.
        let runtime = Runtime::new(Limits::default(), None).expect("runtime");
        PluginSet::load(runtime, Some(dir.path()), Grants::default()).unwrap_or_else(|e| {
            panic!(
                "loading the built-ins with the hostile override failed: {e}\n\
                 (the built-in plugins must be built first: `make plugins`, into {})",
                wasm_dir().display()
            )
        })
    })
}

fn render(name: &str) -> Result<pipeline::Rendered, RenderError> {
    let set = overridden();
    let cluster = cluster(name);
    let versions = pipeline::target_versions(&cluster);
    pipeline::render(set, &cluster, &[], &versions)
}

fn expect_policy_violation(name: &str) -> ecs_operator::policy::PolicyViolation {
    match render(name) {
        Err(RenderError::Policy(v)) => {
            assert_eq!(v.plugin, "bookkeeper");
            v
        }
        Err(other) => panic!("cluster {name:?}: expected a policy violation, got {other}"),
        Ok(rendered) => panic!("cluster {name:?}: the policy let the plan through: {:#?}", rendered.objects),
    }
}

#[test]
fn a_plugin_dir_overrides_the_builtin_bookkeeper() {
    let set = overridden();
    let bookkeeper = set.get("bookkeeper").unwrap();
    assert!(
        matches!(&bookkeeper.source, PluginSource::File(p) if p.ends_with("hostile.wasm")),
        "{:?}",
        bookkeeper.source
    );
    for builtin in ["controller", "node", "tier2-nfs"] {
        assert!(set.get(builtin).is_some_and(|p| p.source.is_builtin()), "{builtin} is loaded from the binary");
    }
}

#[test]
fn policy_rejects_a_cluster_role_binding() {
    let v = expect_policy_violation("crb");
    assert_eq!(v.object, "ClusterRoleBinding/crb-admin");
    assert!(v.reason.contains("not allowed"), "{v}");
    let message = RenderError::Policy(v).to_string();
    assert!(message.contains("plugin bookkeeper"), "{message}");
    assert!(message.contains("ClusterRoleBinding"), "{message}");
}

#[test]
fn policy_rejects_another_namespace() {
    let v = expect_policy_violation("otherns");
    assert_eq!(v.object, "ConfigMap/otherns-bookie");
    assert!(v.reason.contains("\"kube-system\""), "{v}");
    assert!(v.reason.contains(&format!("{NAMESPACE:?}")), "{v}");
    let message = RenderError::Policy(v).to_string();
    assert!(message.contains("plugin bookkeeper"), "{message}");
    assert!(message.contains("kube-system"), "{message}");
}

#[test]
fn hostile_faults_surface_through_the_pipeline() {
    match render("panic") {
        Err(RenderError::Plugin(e)) => {
            assert_eq!(e.plugin, "bookkeeper");
            assert!(matches!(e.fault, Fault::Trap { .. }), "{e:?}");
        }
        other => panic!("expected a plugin fault, got {other:?}"),
    }
}

#[test]
fn a_benign_override_renders_and_is_stamped() {
    let rendered = render("ecs").unwrap_or_else(|e| panic!("{e}"));
    let bookie: Vec<&Value> =
        rendered.objects.iter().filter(|o| o["metadata"]["labels"]["component"] == "bookie").collect();
    // Only the hostile bookkeeper's ConfigMap: none of the built-in bookkeeper's objects.
    assert_eq!(bookie.len(), 1, "{bookie:#?}");
    let cm = bookie[0];
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "ecs-bookie");
    assert_eq!(cm["metadata"]["namespace"], NAMESPACE);
    assert_eq!(cm["metadata"]["labels"]["ecs_cluster"], "ecs");
    assert_eq!(cm["metadata"]["ownerReferences"][0]["name"], "ecs");
    assert_eq!(cm["data"], json!({"ok": "true"}));
    let components: Vec<&str> = rendered.components.iter().map(|c| c.component.as_str()).collect();
    assert_eq!(components.first(), Some(&"bookie"), "{components:?}");
    assert_eq!(rendered.components[0].desired_replicas, 3);
    // The other components came from the built-ins.
    assert!(rendered.objects.iter().any(|o| o["kind"] == "StatefulSet"), "{:#?}", rendered.objects);
}

#[test]
fn rendering_is_deterministic() {
    let first = render("ecs").unwrap_or_else(|e| panic!("{e}"));
    let second = render("ecs").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, second);
}
