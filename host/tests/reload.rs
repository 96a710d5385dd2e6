//! Plugins swapped while running, offline: `PluginSet::reload` against a real plugin directory with
//! the example provider's two versions (`make plugins` builds both), digest pinning, the override
//! guard, and Tier-2 providers that are compiled only once used.

use ecs_operator::pipeline;
use ecs_operator::plugins::{Grants, LoadOptions, PluginSet};
use ecs_operator::runtime::{Limits, Runtime, digest};
use ecs_plugin_sdk::{Cluster, testing};
use serde_json::json;
use std::path::{Path, PathBuf};

const NAME: &str = "tier2-nfs-inline";

fn wasm_dir() -> PathBuf {
    PathBuf::from(env!("ECS_PLUGIN_WASM_DIR"))
}

fn built(path: PathBuf) -> PathBuf {
    assert!(path.is_file(), "{} is missing: build the plugins with `make plugins`", path.display());
    path
}

fn v1() -> PathBuf {
    built(wasm_dir().join("ecs_plugin_tier2_nfs_inline.wasm"))
}

/// `wasm_dir` is `<target>/wasm32-wasip2/plugin`; version 2 is in `<target>/example-plugins-v2`.
fn v2() -> PathBuf {
    let target = wasm_dir().parent().and_then(Path::parent).expect("<target>/wasm32-wasip2/plugin").to_path_buf();
    built(target.join("example-plugins-v2/ecs_plugin_tier2_nfs_inline.wasm"))
}

/// A plugin directory of its own, removed when dropped.
struct PluginDir(PathBuf);

impl PluginDir {
    fn new(test: &str) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("reload-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        PluginDir(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("nfs-inline.wasm")
    }

    /// Puts `from` in place the way a ConfigMap volume or `kubectl cp` would: a new file renamed in.
    fn install(&self, from: &Path) {
        let tmp = self.0.join(".incoming");
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, self.file()).unwrap();
    }

    fn write(&self, bytes: &[u8]) {
        let tmp = self.0.join(".incoming");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.file()).unwrap();
    }

    fn options(&self) -> LoadOptions {
        LoadOptions {
            plugin_dir: Some(self.0.clone()),
            grants: Grants::new([(NAME.to_string(), "volumes:nfs".to_string())]),
            ..LoadOptions::default()
        }
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn runtime() -> Runtime {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reload-plugin-cache");
    Runtime::new(Limits::default(), Some(cache)).expect("runtime")
}

fn cluster() -> Cluster {
    testing::cluster()
        .name("ecs")
        .namespace("reload")
        .tier2(json!({"plugin": {"name": NAME, "config": {"server": "10.0.0.2", "path": "/exports/ecs"}}}))
        .build()
}

/// The `NFS_EXPORT` setting the segment stores get in their ConfigMap (version 2 adds it), rendered
/// by `set`.
fn nfs_export(set: &PluginSet) -> Option<String> {
    let cluster = cluster();
    let rendered = pipeline::render(set, &cluster, &[], &pipeline::target_versions(&cluster))
        .unwrap_or_else(|e| panic!("render: {e}"));
    let config = rendered
        .objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "ecs-ecs-node")
        .expect("the segment stores' ConfigMap");
    config["data"]["NFS_EXPORT"].as_str().map(str::to_string)
}

fn version(set: &PluginSet) -> String {
    set.get(NAME).map(|p| p.info.version.clone()).unwrap_or_default()
}

#[test]
fn a_changed_file_is_swapped_in_while_the_old_set_still_serves() {
    let dir = PluginDir::new("swap");
    dir.install(&v1());
    let old = PluginSet::load(runtime(), &dir.options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nfs_export(&old), None);
    assert!(old.reload().set.is_none(), "nothing changed: no new set");

    dir.install(&v2());
    let reload = old.reload();
    assert!(reload.failures.is_empty(), "{:?}", reload.failures);
    assert_eq!(reload.changed.iter().collect::<Vec<_>>(), [NAME]);
    let new = reload.set.expect("a new set");
    assert!(version(&new).ends_with("+v2"), "{}", version(&new));
    assert_eq!(nfs_export(&new).as_deref(), Some("10.0.0.2:/exports/ecs"));
    // A reconcile that started with the old set finishes with it.
    assert_eq!(nfs_export(&old), None);
    // The built-ins are the same plugins, not reloaded.
    let same = |name: &str| std::ptr::eq(old.get(name).unwrap(), new.get(name).unwrap());
    assert!(same("bookkeeper") && same("tier2-nfs"));

    std::fs::remove_file(dir.file()).unwrap();
    let reload = new.reload();
    assert_eq!(reload.changed.iter().collect::<Vec<_>>(), [NAME]);
    assert!(reload.set.expect("a new set").get(NAME).is_none(), "a removed file's plugin leaves service");
}

#[test]
fn a_file_that_fails_to_load_leaves_the_previous_version_in_service() {
    let dir = PluginDir::new("broken");
    dir.install(&v1());
    let set = PluginSet::load(runtime(), &dir.options()).unwrap();
    let v1_digest = set.get(NAME).unwrap().sha256.clone();

    dir.write(b"\0asm but not really a component");
    let reload = set.reload();
    assert_eq!(reload.failures.len(), 1, "{:?}", reload.failures);
    let failure = &reload.failures[0];
    assert_eq!(failure.file, dir.file());
    assert_eq!(failure.kept.as_deref(), Some(NAME));
    assert!(failure.error.contains("not a loadable WebAssembly component"), "{}", failure.error);
    assert!(reload.changed.is_empty(), "{:?}", reload.changed);
    let set = reload.set.unwrap_or(set);
    assert_eq!(set.get(NAME).unwrap().sha256, v1_digest, "version 1 stays in service");
    assert_eq!(set.report().failures.len(), 1, "the report says why the file is not in service");
    // The same broken file is not reported again on every look.
    assert!(set.reload().failures.is_empty());

    // Fixed: version 2 goes into service.
    dir.install(&v2());
    let reload = set.reload();
    assert!(reload.failures.is_empty(), "{:?}", reload.failures);
    let set = reload.set.expect("a new set");
    assert!(version(&set).ends_with("+v2"));
    assert!(set.report().failures.is_empty());
}

#[test]
fn a_pinned_plugin_replaced_by_another_file_is_refused_and_never_run() {
    let dir = PluginDir::new("pins");
    dir.install(&v1());
    let pins = dir.0.join("..").join(format!("pins-{}.yaml", std::process::id()));
    let v1_digest = digest(&std::fs::read(v1()).unwrap());
    let v2_digest = digest(&std::fs::read(v2()).unwrap());
    std::fs::write(&pins, format!("{NAME}: sha256:{v1_digest}\n")).unwrap();
    let options = LoadOptions { pins: Some(pins.clone()), ..dir.options() };
    let set = PluginSet::load(runtime(), &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.get(NAME).unwrap().sha256, v1_digest);

    dir.install(&v2());
    let reload = set.reload();
    assert_eq!(reload.failures.len(), 1, "{:?}", reload.failures);
    let error = &reload.failures[0].error;
    assert!(error.contains(&v2_digest) && error.contains("refused without running it"), "{error}");
    let set = reload.set.unwrap_or(set);
    assert_eq!(set.get(NAME).unwrap().sha256, v1_digest, "version 1 stays in service");
    assert_eq!(nfs_export(&set), None);
    assert!(set.get(NAME).unwrap().stats.calls.load(std::sync::atomic::Ordering::Relaxed) > 0);

    // The administrator pins version 2: the manifest is read again and version 2 goes in.
    std::fs::write(&pins, format!("{NAME}: {v2_digest}\n# moved to 0.1.0+v2\n")).unwrap();
    let reload = set.reload();
    assert!(reload.failures.is_empty(), "{:?}", reload.failures);
    let set = reload.set.expect("a new set");
    assert_eq!(set.get(NAME).unwrap().sha256, v2_digest);

    // A digest pinned for another name is refused once the plugin says who it is.
    std::fs::write(&pins, format!("tier2-other: {v2_digest}\n")).unwrap();
    let err = PluginSet::load(runtime(), &options).err().expect("refused").to_string();
    assert!(err.contains("pinned for plugin tier2-other") && err.contains(NAME), "{err}");
    // And with the manifest gone unreadable, the last one stays in force.
    std::fs::write(&pins, "tier2-nfs-inline: [not, a, digest]\n").unwrap();
    let reload = set.reload();
    assert!(reload.set.is_none());
    assert!(reload.failures[0].error.contains("plugin pins"), "{:?}", reload.failures);
    let _ = std::fs::remove_file(&pins);
}

#[test]
fn a_builtin_is_replaced_only_where_the_configuration_allows_it() {
    let dir = PluginDir::new("override");
    std::fs::copy(built(wasm_dir().join("ecs_plugin_hostile.wasm")), dir.0.join("bookkeeper.wasm")).unwrap();
    let options = LoadOptions { plugin_dir: Some(dir.0.clone()), ..LoadOptions::default() };
    let err = PluginSet::load(runtime(), &options).err().expect("refused").to_string();
    assert!(err.contains("would replace the built-in") && err.contains("--allow-override bookkeeper"), "{err}");
    // The operator goes on with the built-in, and says why the file is not in service.
    let (set, failures) = PluginSet::load_tolerant(runtime(), &options).unwrap();
    assert!(set.get("bookkeeper").unwrap().source.is_builtin());
    assert_eq!(failures.len(), 1);
    let allowed = LoadOptions { allow_override: ["bookkeeper".to_string()].into(), ..options };
    let set = PluginSet::load(runtime(), &allowed).unwrap_or_else(|e| panic!("{e}"));
    assert!(!set.get("bookkeeper").unwrap().source.is_builtin());
}

#[test]
fn tier2_providers_are_compiled_only_once_a_cluster_uses_one() {
    let set = PluginSet::load(runtime(), &LoadOptions::default()).unwrap();
    for name in ["bookkeeper", "controller", "node"] {
        assert!(set.get(name).unwrap().is_loaded(), "{name}: reconcilers run for every cluster");
    }
    let providers = set.tier2_names().into_iter().map(str::to_string).collect::<Vec<_>>();
    assert!(providers.len() >= 4, "{providers:?}");
    for name in &providers {
        assert!(!set.get(name).unwrap().is_loaded(), "{name} is not used yet");
    }
    let cluster = testing::cluster()
        .name("ecs")
        .namespace("lazy")
        .tier2(json!({"filesystem": {"persistentVolumeClaim": {"claimName": "ecs-tier2"}}}))
        .build();
    pipeline::render(&set, &cluster, &[], &pipeline::target_versions(&cluster)).unwrap_or_else(|e| panic!("{e}"));
    let loaded: Vec<&String> = providers.iter().filter(|n| set.get(n).unwrap().is_loaded()).collect();
    assert_eq!(loaded, ["tier2-nfs"]);
    let report = set.report();
    let nfs = report.plugins.iter().find(|p| p.name == "tier2-nfs").unwrap();
    assert!(nfs.loaded && nfs.calls >= 2, "{nfs:?}");
}

#[test]
fn the_admin_endpoint_serves_the_report_that_plugins_list_prints() {
    use ecs_operator::controller::admin;
    use ecs_operator::plugins::{Registry, Report};
    use std::sync::Arc;
    let dir = PluginDir::new("admin");
    dir.install(&v1());
    let registry = Arc::new(Registry::new(PluginSet::load(runtime(), &dir.options()).unwrap()));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(admin::serve(listener, registry.clone()));
        let report: Report = serde_json::from_str(&admin::get(&url, "/plugins").await.unwrap()).unwrap();
        assert_eq!(report, registry.current().report());
        let plugin = report.plugins.iter().find(|p| p.name == NAME).unwrap();
        assert_eq!(plugin.source, dir.file().display().to_string());
        assert_eq!(plugin.capabilities, ["volumes:nfs"]);
        assert!(report.table().lines().any(|l| l.starts_with("tier2-nfs-inline\ttier2-provider\t")));
        let missing = admin::get(&url, "/nothing").await.unwrap_err().to_string();
        assert!(missing.contains("404"), "{missing}");
        let refused = admin::get("http://127.0.0.1:1", "/plugins").await.unwrap_err();
        assert!(format!("{refused:#}").contains("--admin-listen"), "{refused:#}");
    });
}
