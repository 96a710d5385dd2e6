//! The sandbox holds against a deliberately hostile plugin (`tests/hostile`, built with `make plugins`):
//! every misbehaviour ends in a typed fault that names the plugin and the cause, a failed call never
//! poisons the next one, the plugin sees no files, environment or clock, cannot wait past its
//! deadline, cannot starve other plugins of instances, cannot return more than its bounds or forge
//! a log line, and the output policy rejects what a plugin may not create even when it overrides a
//! built-in.

use ecs_operator::pipeline::{self, RenderError};
use ecs_operator::plugins::{LoadOptions, PluginSet};
use ecs_operator::runtime::{
    DEADLINE_MARGIN, Fault, Limits, Plugin, PluginCallError, PluginSource, Runtime, WaitDenied, WasmBytes, escape,
};
use ecs_plugin_sdk::{Cluster, Plan, PluginKind, ReconcileInput, testing};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Short enough to keep the runaway-loop test quick, long enough for any honest call.
const DEADLINE: Duration = Duration::from_millis(300);
/// What the tests allow past a deadline: the runtime promises [`DEADLINE_MARGIN`] (and returns within
/// about 20 ms); this leaves room for a loaded 2-core machine, so that the tests are not flaky.
const TEST_MARGIN: Duration = Duration::from_secs(1);
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
    SANDBOX.get_or_init(|| Sandbox::new(limits()))
}

/// Like [`sandbox`], with the default deadline: building and returning the largest outputs takes the
/// guest a while on a loaded machine, and those tests are about the output bounds, not the deadline.
fn roomy_sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| Sandbox::new(Limits { deadline: Duration::from_secs(10), ..limits() }))
}

impl Sandbox {
    fn new(limits: Limits) -> Self {
        let runtime = Runtime::new(limits, None).expect("runtime");
        let plugin = load_hostile(&runtime);
        Sandbox { runtime, plugin }
    }
}

fn load_hostile(runtime: &Runtime) -> Plugin {
    let path = hostile_path();
    let wasm = std::fs::read(&path).expect("read the hostile plugin");
    runtime
        .load(PluginSource::File(path.clone()), WasmBytes::File(path), &wasm, None)
        .expect("the hostile plugin loads")
}

/// The tests that measure waits and deadlines run one at a time: 48 spinning hog calls in a
/// parallel test delay another test's epoch interruption by seconds on a 2-core machine.
fn timing_test() -> std::sync::MutexGuard<'static, ()> {
    static TIMING: Mutex<()> = Mutex::new(());
    TIMING.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn a_call_beyond_the_pool_waits_for_an_instance() {
    let _alone = timing_test();
    // A pool of one instance, held by a runaway call: a second call (of another plugin, so that only
    // the pool is in its way) waits for the instance instead of failing at once, and runs when the
    // runaway call hits its deadline. The long deadline leaves the runaway thread ample time to take
    // the instance before the second call.
    let deadline = Duration::from_secs(2);
    let runtime = Runtime::new(Limits { concurrent_calls: 1, deadline, ..limits() }, None).expect("runtime");
    let (runaway_plugin, other_plugin) = (load_hostile(&runtime), load_hostile(&runtime));
    std::thread::scope(|s| {
        let runaway = s.spawn(|| runtime.reconcile(&runaway_plugin, &input("loop")));
        // Three quarters of the deadline ahead: the waiter may wait one deadline, and the runaway
        // call's overshoot past its own deadline grows when the machine is busy.
        std::thread::sleep(deadline * 3 / 4);
        let started = Instant::now();
        let plan = runtime.reconcile(&other_plugin, &input("ecs")).expect("waits for the instance, then runs");
        assert_benign_plan(&plan, "ecs");
        let waited = started.elapsed();
        assert!(waited >= deadline / 8, "ran after {waited:?}, while the only instance was busy");
        assert!(waited <= deadline + TEST_MARGIN, "waited {waited:?}");
        let runaway = runaway.join().expect("no panic").expect_err("the loop hits its deadline");
        assert!(matches!(runaway.fault, Fault::DeadlineExceeded(_)), "{runaway:?}");
    });
    runtime.reconcile(&other_plugin, &input("ecs")).expect("the pool serves again");
}

/// Starts a runaway call of `runaway`, then, once it holds its slots, one runaway call of each of
/// `waiters`; returns the waiters' outcomes.
fn queue_behind_a_runaway(
    runtime: &Runtime,
    runaway: &Plugin,
    waiters: &[&Plugin],
) -> Vec<Result<Plan, PluginCallError>> {
    std::thread::scope(|s| {
        let first = s.spawn(|| runtime.reconcile(runaway, &input("loop")));
        std::thread::sleep(Duration::from_millis(200));
        let waiting: Vec<_> =
            waiters.iter().map(|&plugin| s.spawn(move || runtime.reconcile(plugin, &input("loop")))).collect();
        let first = first.join().expect("no panic").expect_err("the loop hits its deadline");
        assert!(matches!(first.fault, Fault::DeadlineExceeded(_)), "{first:?}");
        waiting.into_iter().map(|w| w.join().expect("no panic")).collect()
    })
}

#[test]
fn calls_that_wait_longer_than_their_deadline_fail_naming_what_stayed_busy() {
    let _alone = timing_test();
    // Three calls queue behind a runaway one; its slot frees at the deadline, so at most one of them
    // gets it (and loops in turn): the others have waited their deadline and give up. Queued behind
    // a call of the same plugin they wait for its share; behind another plugin, for the pool.
    let deadline = Duration::from_millis(600);
    for share_bound in [true, false] {
        let limits = if share_bound {
            Limits { calls_per_plugin: 1, deadline, ..limits() }
        } else {
            Limits { concurrent_calls: 1, deadline, ..limits() }
        };
        let runtime = Runtime::new(limits, None).expect("runtime");
        let plugins: Vec<Plugin> = (0..4).map(|_| load_hostile(&runtime)).collect();
        let waiters: Vec<&Plugin> = if share_bound { vec![&plugins[0]; 3] } else { plugins[1..].iter().collect() };
        let outcomes = queue_behind_a_runaway(&runtime, &plugins[0], &waiters);
        let mut busy = 0;
        for outcome in outcomes {
            let e = outcome.expect_err("a loop never succeeds");
            let message = e.to_string();
            let waited = match &e.fault {
                Fault::DeadlineExceeded(_) => continue,
                Fault::ShareBusy { share: 1, waited } if share_bound => {
                    let want = "plugin bookkeeper (reconcile) could not start: all 1 calls of its share of the \
                                instance pool stayed busy for";
                    assert!(message.starts_with(want), "{message}");
                    *waited
                }
                Fault::PoolBusy { pool: 1, waited } if !share_bound => {
                    let want = "plugin bookkeeper (reconcile) could not start: all 1 pooled plugin instances \
                                stayed busy for";
                    assert!(message.starts_with(want), "{message}");
                    *waited
                }
                other => panic!("share bound {share_bound}: unexpected fault {other:?}"),
            };
            assert!(waited >= deadline - Duration::from_millis(100), "gave up after {waited:?}");
            assert!(waited <= deadline + TEST_MARGIN, "gave up after {waited:?}");
            busy += 1;
        }
        assert!(busy >= 2, "share bound {share_bound}: {busy} calls gave up waiting");
        runtime.reconcile(&plugins[0], &input("ecs")).expect("serves again once the slots are free");
    }
}

/// The built-in controller reconciler, as `make plugins` built it.
fn load_controller(runtime: &Runtime) -> Plugin {
    let path = wasm_dir().join("ecs_plugin_controller.wasm");
    let wasm = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (build the built-in plugins with `make plugins`)", path.display()));
    runtime.load(PluginSource::File(path.clone()), WasmBytes::File(path), &wasm, None).expect("the controller loads")
}

#[test]
fn a_plugin_that_hogs_its_share_does_not_starve_the_others() {
    let _alone = timing_test();
    // 48 calls of the hostile plugin that loop, sleep or poll, all at once, against a pool of 32: they
    // get their plugin's share (8) and wait or fail; meanwhile another plugin's calls keep working.
    // A deadline long enough that an honest call on a busy 2-core machine (48 hogs running) fits.
    let deadline = Duration::from_secs(2);
    let limits = Limits { deadline, ..Limits::default() };
    let share = limits.plugin_share();
    assert_eq!((limits.concurrent_calls, share), (32, 8));
    let runtime = Runtime::new(limits, None).expect("runtime");
    let (hostile, controller) = (load_hostile(&runtime), load_controller(&runtime));
    let honest = testing::reconcile_input(testing::cluster().name("benign").namespace(NAMESPACE).build());
    let running = AtomicUsize::new(48);
    let (mut honest_calls, mut busy) = (0, 0);
    std::thread::scope(|s| {
        let hogs: Vec<_> = (0..48)
            .map(|i| {
                let (runtime, hostile, running) = (&runtime, &hostile, &running);
                s.spawn(move || {
                    let name = ["loop", "loop", "sleep", "poll-stream"][i % 4];
                    let result = runtime.reconcile(hostile, &input(name));
                    running.fetch_sub(1, Ordering::SeqCst);
                    result
                })
            })
            .collect();
        while running.load(Ordering::SeqCst) > 0 {
            let started = Instant::now();
            let plan = runtime
                .reconcile(&controller, &honest)
                .unwrap_or_else(|e| panic!("an honest call failed while another plugin hogged its share: {e}"));
            assert!(plan.objects.iter().any(|o| o["kind"] == "Deployment"), "{plan:?}");
            assert!(started.elapsed() < deadline, "an honest call took {:?}", started.elapsed());
            honest_calls += 1;
        }
        for hog in hogs {
            let e = hog.join().expect("no panic").expect_err("a hostile call never succeeds");
            assert_eq!(e.plugin, "bookkeeper");
            match &e.fault {
                Fault::DeadlineExceeded(_) | Fault::Blocked(_) => {}
                Fault::ShareBusy { share: s, .. } => {
                    assert_eq!(*s, share);
                    let message = e.to_string();
                    assert!(
                        message.contains("plugin bookkeeper (reconcile)") && message.contains("all 8 calls"),
                        "{message}"
                    );
                    busy += 1;
                }
                other => panic!("unexpected fault {other:?}"),
            }
        }
    });
    eprintln!("{honest_calls} honest calls succeeded while 48 hostile calls ran; {busy} hostile calls gave up waiting");
    assert!(honest_calls >= 10, "only {honest_calls} honest calls");
    assert!(busy >= 1, "more loops ran than the share allows");
}

/// Runs the hostile reconciler on a cluster of the given name; a failure must name the plugin.
fn reconcile(name: &str) -> Result<Plan, PluginCallError> {
    reconcile_in(sandbox(), name)
}

fn reconcile_in(sb: &Sandbox, name: &str) -> Result<Plan, PluginCallError> {
    let result = sb.runtime.reconcile(&sb.plugin, &input(name));
    if let Err(e) = &result {
        assert_eq!(e.plugin, "bookkeeper");
        assert_eq!(e.op, "reconcile");
        assert!(e.to_string().starts_with("plugin bookkeeper (reconcile) "), "{e}");
    }
    result
}

fn expect_fault(name: &str) -> PluginCallError {
    expect_fault_in(sandbox(), name)
}

fn expect_fault_in(sb: &Sandbox, name: &str) -> PluginCallError {
    match reconcile_in(sb, name) {
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
    sandbox(); // loaded (compiled) before the clock starts
    let started = Instant::now();
    let e = expect_fault("loop");
    let elapsed = started.elapsed();
    assert!(matches!(e.fault, Fault::DeadlineExceeded(d) if d == DEADLINE), "{e:?}");
    let message = e.to_string();
    assert!(message.contains(&format!("exceeded its {}ms deadline", DEADLINE.as_millis())), "{message}");
    // Epoch interruption never fires early, and stops a runaway plugin promptly (a generous bound:
    // this is a correctness test, not a benchmark).
    assert!(elapsed >= DEADLINE, "interrupted after {elapsed:?}, before the {DEADLINE:?} deadline");
    eprintln!("loop: returned {:?} after its {DEADLINE:?} deadline", elapsed - DEADLINE);
    assert!(elapsed <= DEADLINE + TEST_MARGIN, "a runaway loop held the call for {elapsed:?}");
    assert!(TEST_MARGIN >= DEADLINE_MARGIN);
    assert_still_serves();
}

#[test]
fn waiting_through_wasi_is_stopped_at_once() {
    // Each of these never returned (or returned after seconds) with stock WASI: epoch interruption
    // cannot stop a guest blocked in a host call. Now the waiting call itself traps.
    for (name, on, call) in [
        ("sleep", "a clock", "wasi:clocks/monotonic-clock.subscribe-duration"),
        ("sleep-until", "a clock", "wasi:clocks/monotonic-clock.subscribe-instant"),
        ("poll", "a clock", "wasi:clocks/monotonic-clock.subscribe-duration"),
        ("poll-stream", "a pollable", "wasi:io/poll.poll"),
    ] {
        sandbox();
        let started = Instant::now();
        let e = expect_fault(name);
        let elapsed = started.elapsed();
        eprintln!("{name}: stopped after {elapsed:?}");
        match &e.fault {
            Fault::Blocked(WaitDenied { on: o, call: c }) => assert_eq!((*o, *c), (on, call), "{name}"),
            other => panic!("{name}: expected Fault::Blocked, got {other:?}"),
        }
        assert_eq!(
            e.to_string(),
            format!(
                "plugin bookkeeper (reconcile) tried to wait on {on} ({call}), which the sandbox does not \
                 allow: a plugin must not sleep or block"
            )
        );
        assert!(elapsed <= DEADLINE + TEST_MARGIN, "{name}: held the call for {elapsed:?}");
        assert_still_serves();
    }
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

#[test]
fn host_work_a_plugin_asks_for_is_bounded() {
    // Random bytes are generated by host code, which epoch interruption cannot stop: stock WASI
    // generates up to 64 MiB per request. The sandbox refuses requests over 64 KiB.
    sandbox();
    let started = Instant::now();
    let e = expect_fault("random");
    let elapsed = started.elapsed();
    eprintln!("random: stopped after {elapsed:?}");
    match &e.fault {
        Fault::Runtime(m) => assert!(m.contains("requested len 33554432 exceeds limit 65536"), "{m}"),
        other => panic!("expected Fault::Runtime, got {other:?}"),
    }
    assert!(elapsed <= DEADLINE + TEST_MARGIN, "held the call for {elapsed:?}");
    assert_still_serves();
}

/// The bound a fault names, with its two numbers; the message must say all three.
fn expect_bound(name: &str) -> (&'static str, usize, usize) {
    let e = expect_fault_in(roomy_sandbox(), name);
    let message = e.to_string();
    match e.fault {
        Fault::OutputBound { bound, found, limit, .. } => {
            assert!(message.contains(&format!("returned {found} ")), "{message}");
            assert!(message.ends_with(&format!("the bound \"{bound}\" is {limit}")), "{message}");
            (bound, found, limit)
        }
        other => panic!("{name}: expected Fault::OutputBound, got {other:?}"),
    }
}

#[test]
fn everything_a_call_returns_is_bounded() {
    let l = Limits::default();
    assert_eq!(expect_bound("many-objects"), ("objects per call", 20_000, l.objects_per_call));
    let (bound, found, limit) = expect_bound("big-object");
    assert_eq!((bound, limit), ("bytes per object", l.object_bytes));
    assert!(found > 3_900_000, "{found}");
    assert_eq!(expect_bound("many-events"), ("events per call", 200_000, l.events_per_call));
    assert_eq!(expect_bound("long-event"), ("bytes per message", 10_000, l.message_bytes));
    assert_eq!(expect_bound("many-members"), ("members per status", 100_000, l.members_per_status));
    assert_eq!(expect_bound("many-cleanups"), ("cleanup steps per call", 9, 8));
    assert_eq!(expect_bound("many-errors"), ("field errors per call", 400_000, l.field_errors_per_call));
    assert_eq!(expect_bound("long-failure"), ("bytes per message", 8 << 20, l.message_bytes));
    match expect_fault_in(roomy_sandbox(), "big-status").fault {
        Fault::OutputTooLarge { size, limit } => assert_eq!((size, limit), (10_800_000 + 6, l.output_bytes)),
        other => panic!("expected Fault::OutputTooLarge, got {other:?}"),
    }
    // `validate` is bounded too.
    let sb = roomy_sandbox();
    let e = sb.runtime.validate_cluster(&sb.plugin, &cluster("many-errors")).expect_err("400000 field errors");
    assert_eq!(e.op, "validate");
    assert!(matches!(e.fault, Fault::OutputBound { bound: "field errors per call", found: 400_000, .. }), "{e:?}");
    assert_still_serves();
}

#[test]
fn event_reasons_must_be_what_kubernetes_accepts() {
    let e = expect_fault("bad-reason");
    match &e.fault {
        Fault::InvalidEventReason { index: 0, reason, rule } => {
            assert_eq!(reason, "not ok\\n");
            assert!(rule.contains("UpperCamelCase"), "{rule}");
        }
        other => panic!("expected Fault::InvalidEventReason, got {other:?}"),
    }
    let message = e.to_string();
    assert!(message.contains(r#"with reason "not ok\n", which Kubernetes does not accept"#), "{message}");
    assert!(!message.contains('\n'), "{message:?}");
}

/// Captures what the `tracing` events of the current thread print, as the operator's text logs would.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged_while<R>(json: bool, f: impl FnOnce() -> R) -> (R, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone());
    let result = if json {
        tracing::subscriber::with_default(builder.json().finish(), f)
    } else {
        tracing::subscriber::with_default(builder.finish(), f)
    };
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    (result, text)
}

#[test]
fn a_plugin_cannot_forge_a_log_line() {
    for json in [false, true] {
        let (plan, logs) = logged_while(json, || reconcile("forge-log"));
        plan.expect("the forge-log case succeeds after logging");
        let plugin_lines: Vec<&str> = logs.lines().filter(|l| l.contains("forged")).collect();
        assert_eq!(plugin_lines.len(), 1, "json {json}: the plugin's message spans one line:\n{logs}");
        let line = plugin_lines[0];
        assert!(line.contains("bookkeeper"), "the line names the plugin: {line}");
        for forged in logs.lines() {
            assert!(!forged.starts_with('{') || json, "a line starts with the plugin's JSON: {forged}");
            assert!(!forged.starts_with(r#"{"level":"ERROR","message":"forged"#), "forged line: {forged}");
        }
        if !json {
            assert!(line.contains(r#"ok\n{"level":"ERROR","message":"forged"}"#), "{line}");
        }
    }
}

#[test]
fn plugin_failure_messages_are_escaped() {
    let e = expect_fault("forge-failure");
    let Fault::Failed(message) = &e.fault else { panic!("expected Fault::Failed, got {:?}", e.fault) };
    assert_eq!(message.as_str(), escape(hostile_forged_failure()));
    assert!(message.ends_with(r#"\t\u{1b}[2J\u{85}\u{2028}\u{2029}\u{202e}end"#), "{message}");
    let shown = e.to_string();
    assert!(!shown.chars().any(|c| c.is_control() || ('\u{2028}'..='\u{202e}').contains(&c)), "{shown:?}");
    let (_, logs) = logged_while(false, || tracing::error!("{e}"));
    assert_eq!(logs.lines().count(), 1, "{logs}");
}

/// `tests/hostile`'s `FORGED_FAILURE` (the plugin crate is built for wasm only).
fn hostile_forged_failure() -> &'static str {
    "ok\r\n{\"level\":\"ERROR\",\"message\":\"forged\"}\t\u{1b}[2J\u{85}\u{2028}\u{2029}\u{202e}end"
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
        let options = LoadOptions {
            plugin_dir: Some(dir.path().to_path_buf()),
            allow_override: ["bookkeeper".to_string()].into(),
            ..LoadOptions::default()
        };
        PluginSet::load(runtime, &options).unwrap_or_else(|e| {
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
    assert!(v.breaks(ecs_operator::policy::Rule::Kinds), "{v}");
    assert!(v.reason.contains("not one the bookkeeper reconciler may emit"), "{v}");
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
