//! `make bench`: plugin-call latency, full render, warm start-up, cold compile, and binary size.
//!
//! Criterion measures the steady-state numbers; the percentile, start-up and compile figures are
//! printed by hand first because criterion reports means and medians, not p99 or one-off costs.

use criterion::{Criterion, criterion_group};
use ecs_operator::pipeline::{self, load};
use ecs_operator::plugins::{LoadOptions, PluginSet};
use ecs_operator::runtime::{Limits, Runtime};
use ecs_plugin_sdk::{Cluster, testing};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn seed_cluster() -> Cluster {
    let text = std::fs::read_to_string(workspace().join("deploy/examples/ecs.yaml")).unwrap();
    let raw = load::cluster_document(&text).unwrap();
    load::plugin_cluster(&load::admit(&raw).unwrap())
}

fn plugins(cache: Option<PathBuf>) -> PluginSet {
    PluginSet::load(Runtime::new(Limits::default(), cache).unwrap(), &LoadOptions::default()).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report_distribution(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name}: n={} p50={:?} p99={:?} max={:?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
}

fn one_off_numbers() {
    let cache = std::env::temp_dir().join(format!("ecs-operator-bench-cache-{}", std::process::id()));
    let started = Instant::now();
    let cold = plugins(Some(cache.clone()));
    println!("cold compile of {} built-in plugins (Cranelift, no cache): {:?}", cold.iter().count(), started.elapsed());
    drop(cold);
    let started = Instant::now();
    let set = plugins(Some(cache.clone()));
    println!("warm load of the same plugins from the compile cache: {:?}", started.elapsed());

    let cluster = seed_cluster();
    let versions = pipeline::target_versions(&cluster);
    let bookkeeper = set.get("bookkeeper").unwrap();
    let input = testing::reconcile_input(cluster.clone());
    let calls: Vec<Duration> = (0..2000)
        .map(|_| {
            let t = Instant::now();
            set.runtime.reconcile(bookkeeper, &input).unwrap();
            t.elapsed()
        })
        .collect();
    report_distribution("plugin call (bookkeeper reconcile: fresh instance + run + decode)", calls);
    let describes: Vec<Duration> = (0..2000)
        .map(|_| {
            let t = Instant::now();
            set.runtime.describe(bookkeeper).unwrap();
            t.elapsed()
        })
        .collect();
    report_distribution("plugin call (bookkeeper describe: fresh instance, trivial export)", describes);
    let renders: Vec<Duration> = (0..500)
        .map(|_| {
            let t = Instant::now();
            pipeline::render(&set, &cluster, &[], &versions).unwrap();
            t.elapsed()
        })
        .collect();
    report_distribution("full render of the seed example (5 plugin calls + policy + config hash)", renders);

    // Process start to the first byte of rendered output, warm cache, as a user runs it.
    let bin = env!("CARGO_BIN_EXE_ecs-operator");
    let example = workspace().join("deploy/examples/ecs.yaml");
    let starts: Vec<Duration> = (0..30)
        .map(|_| {
            let t = Instant::now();
            let mut child = Command::new(bin)
                .args(["render", "-f"])
                .arg(&example)
                .env("ECS_OPERATOR_CACHE_DIR", &cache)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut first = [0u8; 1];
            child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
            let elapsed = t.elapsed();
            child.wait().unwrap();
            elapsed
        })
        .collect();
    report_distribution("process start to first rendered object (warm cache)", starts);
    let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
    println!("binary {bin}: {} bytes ({:.1} MiB)", size, size as f64 / (1 << 20) as f64);
    let _ = std::fs::remove_dir_all(cache);
}

fn steady_state(c: &mut Criterion) {
    let set = plugins(None);
    let cluster = seed_cluster();
    let versions = pipeline::target_versions(&cluster);
    let bookkeeper = set.get("bookkeeper").unwrap();
    let input = testing::reconcile_input(cluster.clone());
    c.bench_function("plugin_call/bookkeeper_reconcile", |b| {
        b.iter(|| set.runtime.reconcile(bookkeeper, &input).unwrap())
    });
    c.bench_function("render/seed_example", |b| b.iter(|| pipeline::render(&set, &cluster, &[], &versions).unwrap()));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = steady_state
}

fn main() {
    one_off_numbers();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
