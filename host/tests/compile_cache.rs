//! A plugin compiled at start-up is served from the compile cache's file afterwards: its code is
//! mapped from that file (page cache, shared and reclaimable), not kept in anonymous memory for the
//! life of the process, as on a warm start (a new pod starts with an empty cache).
#![cfg(target_os = "linux")]

use ecs_operator::plugins::{LoadOptions, PluginSet};
use ecs_operator::runtime::{Limits, Runtime};
use std::path::{Path, PathBuf};

/// The cache files this process has mapped.
fn mapped_cache_files(cache: &Path) -> Vec<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mut files: Vec<PathBuf> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .map(PathBuf::from)
        .filter(|path| path.starts_with(cache) && path.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    files.sort();
    files.dedup();
    files
}

#[test]
fn code_compiled_on_a_cold_start_is_mapped_from_the_cache_file() {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cold-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let runtime = Runtime::new(Limits::default(), Some(cache.clone())).unwrap();
    let set = PluginSet::load(runtime, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));

    // The three reconcilers are compiled at start (Tier-2 providers on first use): each one's code
    // is a mapping of a file the cache now holds.
    let reconcilers = ["bookkeeper", "controller", "node"];
    for name in reconcilers {
        assert!(set.get(name).is_some(), "{name} is loaded");
    }
    let written: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    let mapped = mapped_cache_files(&cache);
    assert_eq!(mapped.len(), reconcilers.len(), "mapped: {mapped:?}; written: {written:?}");
    assert!(mapped.iter().all(|m| written.contains(m)), "mapped: {mapped:?}; written: {written:?}");

    drop(set);
    let _ = std::fs::remove_dir_all(&cache);
}
