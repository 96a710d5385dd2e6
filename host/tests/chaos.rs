//! A bounded, seeded chaos run against the local control plane (`make integration`; a longer run:
//! `make chaos`). One cluster goes through a create, an options edit, a bookie scale-down with
//! decommission, an upgrade and a rollback; during each, the operator is killed with SIGKILL at
//! random moments and started again, and once, mid-upgrade, the kube-apiserver itself restarts.
//!
//! After every restart the operator must have reconciled the cluster within 5 s of being started
//! (the simulated pods' own time is not counted: only the operator's first complete reconcile).
//! At the end: every object the spec asks for exists once, no claim was deleted but the
//! decommissioned bookie's, no pod was deleted twice in one upgrade step, the status tells the
//! truth, and no API conflict (409) ever surfaced as a failed reconcile.
//!
//!   ECS_CHAOS_SEED=N ECS_CHAOS_KILLS=K cargo test -p ecs-operator --test chaos -- --ignored --nocapture

mod common;

use common::live::*;
use common::{kubectl, wait_for};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a phase may take to settle once the kills stop (pods are replaced one at a time).
const SETTLE: Duration = Duration::from_secs(240);
/// The bound on the operator's first complete reconcile after a restart.
const CONVERGE: Duration = Duration::from_secs(5);

/// xorshift64*: a seeded, reproducible sequence of kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Chaos<'a> {
    ns: &'a Namespace,
    op: Option<Operator>,
    started: usize,
    rng: Rng,
    kills: usize,
    /// Kills that hit an operator within 300 ms of its caches syncing.
    early: usize,
    /// Operator started -> its first complete reconcile of the cluster, per restart.
    converged: Vec<Duration>,
    /// Every operator's log, for the 409 check.
    logs: Vec<std::path::PathBuf>,
}

impl Chaos<'_> {
    /// Starts an operator (no leader election: one replica, killed and replaced) and measures how
    /// long it takes to reconcile the cluster completely.
    fn start(&mut self) {
        self.started += 1;
        let t = Instant::now();
        let op = Operator::start(self.ns, &format!("c{}", self.started), &["--leader-election=false"]);
        self.logs.push(op.log.clone());
        wait_for("the restarted operator's first complete reconcile", Duration::from_secs(60), || {
            first_reconcile(&op.log_text()).then_some(())
        });
        self.converged.push(t.elapsed());
        self.op = Some(op);
    }

    fn kill(&mut self) {
        if let Some(mut op) = self.op.take() {
            op.child.kill().unwrap();
            op.child.wait().unwrap();
            self.kills += 1;
        }
    }

    /// `kills` SIGKILLs at random moments (within 0..`spread` ms of the previous restart), then
    /// the operator runs until `settled` holds. Every other kill, at random, also kills the next
    /// operator within 300 ms of its caches syncing: in the middle of its first reconcile.
    fn storm(&mut self, what: &str, kills: u64, spread: u64, settled: impl FnMut() -> Option<()>) {
        for _ in 0..kills {
            std::thread::sleep(Duration::from_millis(self.rng.below(spread)));
            self.kill();
            if self.rng.below(2) == 0 {
                self.started += 1;
                let op = Operator::start(self.ns, &format!("c{}", self.started), &["--leader-election=false"]);
                self.logs.push(op.log.clone());
                self.op = Some(op);
                std::thread::sleep(Duration::from_millis(self.rng.below(300)));
                self.kill();
                self.early += 1;
            }
            self.start();
        }
        wait_for(what, SETTLE, settled);
    }
}

/// Whether the log shows a reconcile that ran to the end (applied, or found nothing to change).
fn first_reconcile(log: &str) -> bool {
    // Field values are quoted; the log may colour the field names.
    log.lines().any(|l| l.contains("reconciled") && (l.contains("\"applied\"") || l.contains("\"unchanged\"")))
}

fn cr(ns: &Namespace) -> Value {
    ns.get("ecscluster", "ecs").expect("the cluster exists")
}

fn settled(ns: &Namespace) -> Option<Value> {
    let cr = ns.get("ecscluster", "ecs")?;
    let status = &cr["status"];
    let condition = |t: &str| status["conditions"].as_array()?.iter().find(|c| c["type"] == t).cloned();
    let ready = condition("Ready")?["status"] == "True";
    let stable = condition("Progressing")?["status"] == "False";
    let current = status["observedGeneration"] == cr["metadata"]["generation"];
    (ready && stable && current && status["upgrade"].is_null() && status["scaleDown"].is_null()).then_some(cr)
}

/// UIDs of every claim in the namespace, by name.
fn claims(ns: &Namespace) -> BTreeMap<String, String> {
    let list: Value = serde_json::from_str(&kubectl(&["-n", &ns.name, "get", "pvc", "-o", "json"])).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["metadata"]["name"].as_str().unwrap().to_string(), c["metadata"]["uid"].as_str().unwrap().to_string())
        })
        .collect()
}

fn twice(deleted: &[String]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for pod in deleted {
        *counts.entry(pod).or_default() += 1;
    }
    counts.into_iter().filter(|(_, n)| *n > 1).map(|(p, n)| format!("{p} x{n}")).collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
#[ignore = "needs a local control plane: make integration"]
fn the_operator_survives_being_killed_anywhere() {
    let seed = env_u64("ECS_CHAOS_SEED", 20261201);
    let per_phase = env_u64("ECS_CHAOS_KILLS", 10);
    println!("chaos: seed {seed}, {per_phase} kills per phase (ECS_CHAOS_SEED, ECS_CHAOS_KILLS)");
    let ns = Namespace::new("it-chaos");
    let mut chaos = Chaos {
        ns: &ns,
        op: None,
        started: 0,
        rng: Rng(seed | 1),
        kills: 0,
        early: 0,
        converged: Vec::new(),
        logs: Vec::new(),
    };
    let mut phase_deletes = Vec::new();

    // 1. Create: 4 bookies, version 0.4.0 (the operator starts on it).
    ns.apply(&tier2_claim("ecs"));
    let manifest = seed_example("ecs").replacen("spec:\n", "spec:\n  version: 0.4.0\n", 1).replacen(
        "    replicas: 3\n",
        "    replicas: 4\n",
        1,
    );
    ns.apply(&manifest);
    chaos.start();
    chaos.storm("the created cluster to settle", per_phase, 800, || settled(&ns).map(drop));
    let created = claims(&ns);

    // 2. An options edit: the bookies roll one at a time.
    let mark = audit_mark();
    ns.patch("ecscluster", "ecs", r#"{"spec":{"bookkeeper":{"options":{"journalMaxGroupWaitMSec":"2"}}}}"#);
    chaos.storm("the options roll to settle", per_phase, 1500, || settled(&ns).map(drop));
    phase_deletes.push(("options edit", pod_deletes(&ns, mark)));

    // 3. Scale-down 4 -> 3: bookie 3 stops, is decommissioned, then its claims go.
    ns.patch("ecscluster", "ecs", r#"{"spec":{"bookkeeper":{"replicas":3}}}"#);
    chaos.storm("the scale-down to settle", per_phase, 800, || {
        let cr = settled(&ns)?;
        (cr["status"]["components"]["bookie"]["readyReplicas"] == 3 && ns.names("jobs", "ecs-bookie-").is_empty())
            .then_some(())
    });

    // 4. Upgrade to 0.5.0, with the kube-apiserver restarted once in the middle.
    let mark = audit_mark();
    ns.patch("ecscluster", "ecs", r#"{"spec":{"version":"0.5.0"}}"#);
    let restart_after = chaos.rng.below(per_phase.max(1));
    let script = Path::new(ROOT).join("tests/cluster/local-cluster.sh");
    let mut apiserver_back = None;
    for i in 0..per_phase {
        std::thread::sleep(Duration::from_millis(chaos.rng.below(1500)));
        if i == restart_after {
            // The operator keeps running through it: it reconnects and goes on by itself.
            let op = chaos.op.as_ref().unwrap();
            let before = op.log_text().lines().count();
            let out = Command::new(&script).arg("restart-apiserver").output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let back = Instant::now();
            wait_for("a reconcile after the kube-apiserver restart", Duration::from_secs(60), || {
                let text = op.log_text();
                first_reconcile(&text.lines().skip(before).collect::<Vec<_>>().join("\n")).then_some(())
            });
            apiserver_back = Some(back.elapsed());
        }
        chaos.kill();
        chaos.start();
    }
    wait_for("the upgrade to complete", SETTLE, || {
        let cr = settled(&ns)?;
        (cr["status"]["currentVersion"] == "0.5.0").then_some(())
    });
    phase_deletes.push(("upgrade", pod_deletes(&ns, mark)));

    // 5. Rollback to 0.4.0 (status.previousVersion).
    let mark = audit_mark();
    ns.patch("ecscluster", "ecs", r#"{"spec":{"version":"0.4.0"}}"#);
    chaos.storm("the rollback to complete", per_phase, 1500, || {
        let cr = settled(&ns)?;
        (cr["status"]["currentVersion"] == "0.4.0").then_some(())
    });
    phase_deletes.push(("rollback", pod_deletes(&ns, mark)));

    // --- What must hold.
    let last = cr(&ns);
    // Every object the spec asks for, once; nothing else.
    let spec = serde_json::json!({"apiVersion": last["apiVersion"], "kind": last["kind"],
        "metadata": {"name": "ecs"}, "spec": last["spec"]});
    let want = rendered(&ns.name, &serde_yaml::to_string(&spec).unwrap());
    let have = ns.managed("ecs");
    let lost: Vec<_> = want.iter().filter(|o| !have.contains(o)).collect();
    let extra: Vec<_> = have.iter().filter(|o| !want.contains(o) && o.0 != "PersistentVolumeClaim").collect();
    // No claim deleted, but the decommissioned bookie's; none replaced.
    let now = claims(&ns);
    let removed: Vec<&String> = created.keys().filter(|n| !now.contains_key(*n)).collect();
    let replaced: Vec<&String> =
        created.iter().filter(|(n, uid)| now.get(*n).is_some_and(|u| u != *uid)).map(|(n, _)| n).collect();
    // No pod deleted twice in one step of a roll.
    let doubled: Vec<String> = phase_deletes
        .iter()
        .flat_map(|(phase, d)| twice(d).into_iter().map(move |p| format!("{phase}: {p}")))
        .collect();
    // A 409 never surfaced as a failure.
    let conflicts: Vec<String> = chaos
        .logs
        .iter()
        .flat_map(|l| std::fs::read_to_string(l).unwrap_or_default().lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| l.contains("reconcile failed") && (l.contains("409") || l.contains("Conflict")))
        .collect();
    let status = &last["status"];

    if let Some(mut op) = chaos.op.take() {
        op.child.kill().unwrap();
        op.child.wait().unwrap();
    }
    let mut times = chaos.converged.clone();
    times.sort();
    println!(
        "chaos summary: seed {seed}; {} SIGKILLs ({} of them within 300 ms of the caches syncing), {} operator starts, 1 kube-apiserver restart (reconciled {} ms after it was back); \
         first complete reconcile after a start: p50 {} ms, p90 {} ms, max {} ms; objects lost {}, unexpected {}; \
         claims deleted {:?}, replaced {}; pods deleted twice in one step {}; 409s surfaced {}",
        chaos.kills,
        chaos.early,
        chaos.started,
        apiserver_back.map_or(0, |d| d.as_millis()),
        percentile(&times, 0.5).as_millis(),
        percentile(&times, 0.9).as_millis(),
        times.last().unwrap().as_millis(),
        lost.len(),
        extra.len(),
        removed,
        replaced.len(),
        doubled.len(),
        conflicts.len(),
    );
    assert!(chaos.kills >= 5 * per_phase as usize, "{} kills", chaos.kills);
    assert!(lost.is_empty() && extra.is_empty(), "lost {lost:?}, unexpected {extra:?}");
    assert_eq!(removed, ["journal-ecs-bookie-3", "ledger-ecs-bookie-3"], "only the decommissioned bookie's claims go");
    assert!(replaced.is_empty(), "replaced claims: {replaced:?}");
    assert!(doubled.is_empty(), "pods deleted twice in one step: {doubled:?}");
    assert!(conflicts.is_empty(), "conflicts surfaced as failures:\n{}", conflicts.join("\n"));
    assert!(times.last().unwrap() <= &CONVERGE, "a restart took {:?} to reconcile (bound {CONVERGE:?})", times.last());
    // The status tells the truth.
    assert_eq!(status["currentVersion"], "0.4.0");
    assert_eq!(status["previousVersion"], "0.5.0");
    assert_eq!(status["components"]["bookie"]["readyReplicas"], 3);
    assert_eq!(status["components"]["bookie"]["desiredReplicas"], 3);
    assert!(status["upgrade"].is_null() && status["scaleDown"].is_null(), "{status}");
    let pods = kubectl(&["-n", &ns.name, "get", "pods", "-l", "ecs_cluster=ecs,component!=bookie-job", "-o", "name"]);
    assert_eq!(pods.lines().count() as i64, status["replicas"].as_i64().unwrap(), "{pods}");
}
