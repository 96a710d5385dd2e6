//! The set of loaded plugins: the built-ins embedded in the binary, then `--plugin-dir` files, which
//! may add plugins or override built-ins by name. Also which capabilities each plugin is granted.

use crate::kinds::CAP_PERSISTENT_VOLUME;
use crate::policy::roles;
use crate::runtime::{LoadError, Plugin, PluginSource, Runtime};
use ecs_plugin_sdk::PluginKind;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
}

/// Names of the component reconcilers, in the order they run.
pub const RECONCILERS: [&str; 3] = ["bookkeeper", "controller", "node"];

/// Capability grants: built-in plugins get what they are known to need; any other plugin only what
/// the operator's administrator grants with `--grant PLUGIN=CAPABILITY`.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    explicit: BTreeMap<String, BTreeSet<String>>,
}

impl Grants {
    pub fn new(explicit: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (plugin, cap) in explicit {
            map.entry(plugin).or_default().insert(cap);
        }
        Grants { explicit: map }
    }

    fn builtin(name: &str) -> &'static [&'static str] {
        match name {
            "tier2-filestore" => &[CAP_PERSISTENT_VOLUME],
            _ => &[],
        }
    }

    /// What `plugin` may do: the capabilities it declared that are also granted to it.
    pub fn effective(&self, plugin: &Plugin) -> BTreeSet<String> {
        let granted = |cap: &String| {
            (plugin.source.is_builtin() && Self::builtin(&plugin.info.name).contains(&cap.as_str()))
                || self.explicit.get(&plugin.info.name).is_some_and(|caps| caps.contains(cap))
        };
        plugin.info.capabilities.iter().filter(|c| granted(c)).cloned().collect()
    }
}

pub struct PluginSet {
    pub runtime: Runtime,
    plugins: BTreeMap<String, Plugin>,
    pub grants: Grants,
    /// The reconcilers by the component label they stamp, fixed once loaded.
    reconciler_components: BTreeMap<String, String>,
}

impl PluginSet {
    /// Loads the built-ins, then every `*.wasm` in `plugin_dir` (sorted by file name).
    pub fn load(runtime: Runtime, plugin_dir: Option<&Path>, grants: Grants) -> Result<Self, LoadError> {
        let mut plugins: BTreeMap<String, Plugin> = BTreeMap::new();
        for (file, sha256, wasm) in embedded::BUILTIN_PLUGINS {
            let plugin = checked(runtime.load(PluginSource::Builtin(format!("{file}.wasm")), wasm, Some(sha256))?)?;
            if let Some(previous) = plugins.insert(plugin.info.name.clone(), plugin) {
                return Err(LoadError::Duplicate {
                    name: previous.info.name.clone(),
                    first: previous.source.to_string(),
                    second: format!("builtin:{file}.wasm"),
                });
            }
        }
        if let Some(dir) = plugin_dir {
            let mut overridden = BTreeSet::new();
            for path in wasm_files(dir)? {
                let wasm = std::fs::read(&path)
                    .map_err(|e| LoadError::Io { path: path.display().to_string(), message: e.to_string() })?;
                let plugin = checked(runtime.load(PluginSource::File(path.clone()), &wasm, None)?)?;
                let name = plugin.info.name.clone();
                if let Some(previous) = plugins.get(&name) {
                    // A file may replace a built-in once; two files with one name are ambiguous.
                    if !previous.source.is_builtin() || !overridden.insert(name.clone()) {
                        return Err(LoadError::Duplicate {
                            name,
                            first: previous.source.to_string(),
                            second: path.display().to_string(),
                        });
                    }
                    tracing::info!(plugin = %name, path = %path.display(), "plugin overrides the built-in");
                }
                plugins.insert(name, plugin);
            }
        }
        let mut set = PluginSet { runtime, plugins, grants, reconciler_components: BTreeMap::new() };
        for name in RECONCILERS {
            match set.plugins.get(name) {
                Some(p) if p.info.kind == PluginKind::Reconciler => {}
                Some(p) => {
                    return Err(LoadError::KindMismatch {
                        origin: p.source.to_string(),
                        said: "tier2-provider".into(),
                        world: "reconciler (required for this name)",
                    });
                }
                None => {
                    return Err(LoadError::Missing { name: name.to_string() });
                }
            }
        }
        set.reconciler_components = RECONCILERS
            .iter()
            .filter_map(|name| set.plugins.get(*name))
            .map(|p| (p.info.component.clone(), p.info.name.clone()))
            .collect();
        Ok(set)
    }

    pub fn get(&self, name: &str) -> Option<&Plugin> {
        self.plugins.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Plugin> {
        self.plugins.values()
    }

    /// The reconcilers by the component label they stamp (`bookie` -> `bookkeeper`).
    pub fn reconciler_components(&self) -> &BTreeMap<String, String> {
        &self.reconciler_components
    }

    /// Every component label in use: the reconcilers' and the loaded Tier-2 providers'.
    pub fn components(&self) -> BTreeSet<String> {
        self.plugins.values().map(|p| p.info.component.clone()).collect()
    }

    /// Names of the loaded Tier-2 providers.
    pub fn tier2_names(&self) -> Vec<&str> {
        self.plugins
            .values()
            .filter(|p| p.info.kind == PluginKind::Tier2Provider)
            .map(|p| p.info.name.as_str())
            .collect()
    }
}

/// A plugin's role must fit its name: a reconciler replaces one of the three components (and keeps
/// its component label), a Tier-2 provider takes no reconciler's component label.
fn checked(plugin: Plugin) -> Result<Plugin, LoadError> {
    let info = &plugin.info;
    let reconciler = (info.kind == PluginKind::Reconciler).then_some(info.name.as_str());
    if let Some(name) = reconciler
        && !RECONCILERS.contains(&name)
    {
        return Err(LoadError::Role {
            origin: plugin.source.to_string(),
            message: format!("reconciler {name:?} replaces none of {}", RECONCILERS.join(", ")),
        });
    }
    if let Some(message) = roles::component_problem(reconciler, &info.component) {
        return Err(LoadError::Role { origin: plugin.source.to_string(), message });
    }
    Ok(plugin)
}

fn wasm_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, LoadError> {
    let io = |e: std::io::Error| LoadError::Io { path: dir.display().to_string(), message: e.to_string() };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?
        .into_iter()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}
