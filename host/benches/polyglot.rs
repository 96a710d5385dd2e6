//! `make bench-polyglot`: what a Tier-2 provider costs the operator, by the language it is written in.
//! The same behaviour three times: the Rust example `tier2-nfs-inline` (`make plugins`) and its Python
//! and JavaScript ports (`make polyglot`). Per language: component size, first compile (Cranelift, no
//! cache), cached load (the compile cache, then `describe`), `provide` call and full render latency
//! (p50/p99: fresh instance per call, as in the operator), the smallest per-call memory cap that
//! works (resident memory is measured on the binary: docs/writing-plugins.md).
//!
//! A plain `main` (no criterion): these are one-off costs and percentiles, printed as a table for
//! docs/writing-plugins.md.

use ecs_operator::pipeline::{self, load};
use ecs_operator::plugins::{Grants, LoadOptions, PluginSet};
use ecs_operator::runtime::{CompileCache, Limits, PluginSource, Runtime, WasmBytes};
use ecs_plugin_sdk::{Cluster, Tier2Input};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (language, plugin name, component).
fn plugins() -> Vec<(&'static str, &'static str, PathBuf)> {
    let target = workspace().join("target");
    let found = vec![
        ("Rust", "tier2-nfs-inline", target.join("example-plugins/ecs_plugin_tier2_nfs_inline.wasm")),
        ("Python", "tier2-nfs-inline-python", target.join("example-plugins-polyglot/tier2-nfs-inline-python.wasm")),
        ("JavaScript", "tier2-nfs-inline-js", target.join("example-plugins-polyglot/tier2-nfs-inline-js.wasm")),
    ];
    for (_, _, path) in &found {
        assert!(path.is_file(), "{} is missing: run `make plugins polyglot`", path.display());
    }
    found
}

/// The example's basic case, selecting `plugin`.
fn cluster(plugin: &str) -> Cluster {
    let path = workspace().join("plugins/examples/tier2-nfs-inline/cases/basic/cluster.yaml");
    let text = std::fs::read_to_string(path).unwrap().replace("name: tier2-nfs-inline\n", &format!("name: {plugin}\n"));
    load::plugin_cluster(&load::admit(&load::cluster_document(&text).unwrap()).unwrap())
}

fn input(plugin: &str) -> Tier2Input {
    Tier2Input {
        cluster: cluster(plugin),
        config: serde_json::json!({"server": "10.0.0.2", "path": "/exports/ecs"}),
        config_path: "spec.ecs.tier2.plugin.config".into(),
        observed: Vec::new(),
    }
}

fn runtime(memory_mib: usize, cache: &Path) -> Runtime {
    Runtime::new(Limits { memory_bytes: memory_mib << 20, ..Limits::default() }, Some(cache.to_path_buf())).unwrap()
}

fn load(runtime: &Runtime, path: &Path) -> ecs_operator::runtime::Plugin {
    let bytes = std::fs::read(path).unwrap();
    runtime.load(PluginSource::File(path.to_path_buf()), WasmBytes::File(path.to_path_buf()), &bytes, None).unwrap()
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    (at(0.50), at(0.99))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let scratch = std::env::temp_dir().join(format!("ecs-operator-bench-polyglot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    println!(
        "| language | component | first compile | cached load | provide p50 / p99 | render p50 / p99 | memory floor |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (language, name, path) in plugins() {
        let cache = scratch.join(name);
        let size = std::fs::metadata(&path).unwrap().len();

        let started = Instant::now();
        let cold = runtime(64, &cache);
        drop(load(&cold, &path));
        let first_compile = started.elapsed();
        drop(cold);

        let warm = runtime(64, &cache);
        let started = Instant::now();
        let plugin = load(&warm, &path);
        let cached_load = started.elapsed();
        let input = input(name);
        let provide: Vec<Duration> = (0..300)
            .map(|_| {
                let started = Instant::now();
                warm.provide(&plugin, &input).unwrap();
                started.elapsed()
            })
            .collect();
        drop((plugin, warm));

        // The whole pipeline, built-ins included, with the plugin as a --plugin-dir file.
        let dir = scratch.join(format!("{name}-dir"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&path, dir.join(format!("{name}.wasm"))).unwrap();
        let options = LoadOptions {
            plugin_dir: Some(dir),
            grants: Grants::new([(name.to_string(), "volumes:nfs".to_string())]),
            ..LoadOptions::default()
        };
        // The built-ins from the operator's own compile cache: only the plugin's cost is of interest.
        let shared = CompileCache::default_dir().unwrap_or_else(|| cache.clone());
        let set = PluginSet::load(runtime(64, &shared), &options).unwrap();
        let cluster = cluster(name);
        let versions = pipeline::target_versions(&cluster);
        let render: Vec<Duration> = (0..100)
            .map(|_| {
                let started = Instant::now();
                pipeline::render(&set, &cluster, &[], &versions).unwrap();
                started.elapsed()
            })
            .collect();
        drop(set);

        // The smallest memory cap (whole MiB) at which describe and provide succeed.
        let works = |mib: usize| {
            let runtime = runtime(mib, &cache);
            let bytes = std::fs::read(&path).unwrap();
            runtime
                .load(PluginSource::File(path.clone()), WasmBytes::File(path.clone()), &bytes, None)
                .ok()
                .is_some_and(|p| runtime.provide(&p, &input).is_ok())
        };
        let (mut low, mut high) = (1usize, 64usize);
        assert!(works(high), "{name} does not work with 64 MiB");
        while low < high {
            let mid = (low + high) / 2;
            if works(mid) { high = mid } else { low = mid + 1 }
        }

        let (p50, p99) = percentiles(provide);
        let (r50, r99) = percentiles(render);
        println!(
            "| {language} | {:.1} MB | {:.2} s | {} | {} / {} | {} / {} | {low} MiB |",
            size as f64 / 1e6,
            first_compile.as_secs_f64(),
            ms(cached_load),
            ms(p50),
            ms(p99),
            ms(r50),
            ms(r99),
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
