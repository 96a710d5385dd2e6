//! The set of loaded plugins: the built-ins embedded in the binary, then `--plugin-dir` files, which
//! may add plugins, or replace a built-in where the configuration allows it. Also which
//! capabilities each plugin is granted, which files are pinned ([`pins`]), and how a running
//! operator swaps in a changed plugin directory ([`PluginSet::reload`], [`registry`]).

pub mod pins;
pub mod registry;
mod report;

pub use pins::Pins;
pub use registry::Registry;
pub use report::{FailureReport, PluginReport, Report};

use crate::kinds::CAP_PERSISTENT_VOLUME;
use crate::policy::roles;
use crate::runtime::{LoadError, Plugin, PluginSource, Runtime, WasmBytes, digest};
use ecs_plugin_sdk::PluginKind;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

    #[cfg(test)]
    mod tests {
        /// The components' bytes are a block of whole 64 KiB windows (see build.rs): a start-up
        /// that reads data next to them would make their first pages resident.
        #[test]
        fn the_components_fill_whole_fault_around_windows() {
            const WINDOW: usize = 64 << 10;
            let (first, last) = match (super::BUILTIN_PLUGINS.first(), super::BUILTIN_PLUGINS.last()) {
                (Some(first), Some(last)) => (first.2, last.2),
                _ => return, // built without `make plugins`: nothing embedded
            };
            assert_eq!(first.as_ptr() as usize % WINDOW, 0, "the block starts inside a window");
            let end = last.as_ptr() as usize + last.len();
            let block = std::mem::size_of_val(&super::COMPONENTS);
            assert_eq!(block % WINDOW, 0, "the block ends inside a window");
            assert!(end <= first.as_ptr() as usize + block, "a component lies outside the block");
        }
    }
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

/// What to load besides the built-ins, and what third-party plugins may do.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Directory of extra plugins (`*.wasm`).
    pub plugin_dir: Option<PathBuf>,
    pub grants: Grants,
    /// The pinning manifest; `None`: any file may be loaded.
    pub pins: Option<PathBuf>,
    /// Built-ins a plugin file may replace.
    pub allow_override: BTreeSet<String>,
}

/// A file as last seen, to tell whether it changed: size, modification time and inode (a
/// ConfigMap volume swaps files by renaming a directory: same size and time are possible).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl Fingerprint {
    pub fn of(path: &Path) -> Option<Self> {
        // Through symlinks: a ConfigMap volume's files are links into a timestamped directory.
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Fingerprint { len: meta.len(), modified: meta.modified().ok(), inode })
    }
}

/// A plugin file's state: what of it is in service, and why the last version seen is not.
#[derive(Clone, Debug)]
struct FileState {
    fingerprint: Option<Fingerprint>,
    /// The plugin this file provides now: the version last loaded successfully, kept in service
    /// while a newer version of the file fails to load.
    plugin: Option<Arc<Plugin>>,
    error: Option<String>,
}

/// A plugin file that could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileFailure {
    pub file: PathBuf,
    pub error: String,
    /// The plugin the file provided before, which stays in service.
    pub kept: Option<String>,
}

/// What a reload found.
pub struct Reload {
    /// The new set, if anything changed.
    pub set: Option<PluginSet>,
    /// Plugins added, replaced or removed.
    pub changed: BTreeSet<String>,
    /// Files that failed to load this time (failures seen before are not repeated).
    pub failures: Vec<FileFailure>,
}

impl Reload {
    /// Nothing changes: `file` (the manifest or the directory) could not be read.
    fn unreadable(file: PathBuf, error: impl ToString) -> Reload {
        Reload {
            set: None,
            changed: BTreeSet::new(),
            failures: vec![FileFailure { file, error: error.to_string(), kept: None }],
        }
    }
}

pub struct PluginSet {
    pub runtime: Arc<Runtime>,
    pub grants: Grants,
    options: Arc<LoadOptions>,
    pins: Pins,
    pins_fingerprint: Option<Fingerprint>,
    builtins: BTreeMap<String, Arc<Plugin>>,
    files: BTreeMap<PathBuf, FileState>,
    plugins: BTreeMap<String, Arc<Plugin>>,
    /// The reconcilers by the component label they stamp, fixed once loaded.
    reconciler_components: BTreeMap<String, String>,
}

impl PluginSet {
    /// Loads the built-ins, then every `*.wasm` in the plugin directory (sorted by file name). Any
    /// file that cannot be loaded is an error: for the command line, which must not render with a
    /// plugin missing.
    pub fn load(runtime: Runtime, options: &LoadOptions) -> Result<Self, LoadError> {
        let (set, failures) = Self::load_tolerant(runtime, options)?;
        match failures.into_iter().next() {
            Some(failure) => Err(LoadError::Io { path: failure.file.display().to_string(), message: failure.error }),
            None => Ok(set),
        }
    }

    /// Like [`PluginSet::load`], but a plugin file that cannot be loaded is reported and left out
    /// (the operator goes on serving the clusters that do not use it). The built-ins, the plugin
    /// directory itself and the pinning manifest must load: without them nothing is trustworthy.
    pub fn load_tolerant(runtime: Runtime, options: &LoadOptions) -> Result<(Self, Vec<FileFailure>), LoadError> {
        let runtime = Arc::new(runtime);
        let mut builtins: BTreeMap<String, Arc<Plugin>> = BTreeMap::new();
        for (file, sha256, wasm) in embedded::BUILTIN_PLUGINS {
            let source = PluginSource::Builtin(format!("{file}.wasm"));
            let plugin = checked(runtime.load_lazily(source, WasmBytes::Static(wasm), wasm, sha256)?)?;
            if let Some(previous) = builtins.insert(plugin.info.name.clone(), Arc::new(plugin)) {
                return Err(LoadError::Duplicate {
                    name: previous.info.name.clone(),
                    first: previous.source.to_string(),
                    second: format!("builtin:{file}.wasm"),
                });
            }
        }
        for name in RECONCILERS {
            match builtins.get(name) {
                Some(p) if p.info.kind == PluginKind::Reconciler => {}
                Some(p) => {
                    return Err(LoadError::KindMismatch {
                        origin: p.source.to_string(),
                        said: "tier2-provider".into(),
                        world: "reconciler (required for this name)",
                    });
                }
                None if options.plugin_dir.is_some() => {}
                None => return Err(LoadError::Missing { name: name.to_string() }),
            }
        }
        let (pins, pins_fingerprint) = read_pins(options)?;
        if let Some(dir) = &options.plugin_dir {
            std::fs::read_dir(dir)
                .map_err(|e| LoadError::Io { path: dir.display().to_string(), message: e.to_string() })?;
        }
        let options = Arc::new(options.clone());
        let (set, failures) = Self::assemble(runtime, options, pins, pins_fingerprint, builtins, &BTreeMap::new())?;
        Ok((set, failures))
    }

    /// Looks at the plugin directory (and the pinning manifest) again: loads new and changed files,
    /// drops removed ones. A file that fails to load leaves the version it replaced in service. The
    /// current set is not touched: the caller swaps in `Reload::set`.
    pub fn reload(&self) -> Reload {
        let (pins, pins_fingerprint) = match Fingerprint::of_option(self.options.pins.as_deref()) {
            fp if fp == self.pins_fingerprint => (self.pins.clone(), fp),
            _ => match read_pins(&self.options) {
                Ok(read) => read,
                // An unreadable manifest changes nothing: the last one stays in force.
                Err(e) => return Reload::unreadable(self.options.pins.clone().unwrap_or_default(), e),
            },
        };
        let files = if pins == self.pins {
            self.files.clone()
        } else {
            // New pins: every file is checked again (the versions in service are kept only if
            // they are still admissible).
            self.files.iter().map(|(p, f)| (p.clone(), FileState { fingerprint: None, ..f.clone() })).collect()
        };
        let assembled = Self::assemble(
            self.runtime.clone(),
            self.options.clone(),
            pins,
            pins_fingerprint,
            self.builtins.clone(),
            &files,
        );
        let (set, failures) = match assembled {
            Ok(assembled) => assembled,
            Err(e) => return Reload::unreadable(self.options.plugin_dir.clone().unwrap_or_default(), e),
        };
        let changed = changed_names(&self.plugins, &set.plugins);
        let same_files =
            set.files.iter().map(|(p, f)| (p, &f.fingerprint)).eq(self.files.iter().map(|(p, f)| (p, &f.fingerprint)));
        let set = (!changed.is_empty() || !same_files || set.pins != self.pins).then_some(set);
        Reload { set, changed, failures }
    }

    /// Builds a set from the built-ins and the plugin directory, reusing what `previous` loaded
    /// from files that did not change.
    fn assemble(
        runtime: Arc<Runtime>,
        options: Arc<LoadOptions>,
        pins: Pins,
        pins_fingerprint: Option<Fingerprint>,
        builtins: BTreeMap<String, Arc<Plugin>>,
        previous: &BTreeMap<PathBuf, FileState>,
    ) -> Result<(Self, Vec<FileFailure>), LoadError> {
        let mut failures = Vec::new();
        let mut files = BTreeMap::new();
        let listed = match &options.plugin_dir {
            Some(dir) => wasm_files(dir)?,
            None => Vec::new(),
        };
        for path in listed {
            let fingerprint = Fingerprint::of(&path);
            let state = match previous.get(&path) {
                Some(state) if state.fingerprint == fingerprint && fingerprint.is_some() => state.clone(),
                before => {
                    let kept = before.and_then(|s| s.plugin.clone()).filter(|p| {
                        // A version kept in service must still be admissible (pins may have changed).
                        pins.confirm(&p.source.to_string(), &p.sha256, &p.info.name).is_ok()
                    });
                    match load_file(&runtime, &options, &pins, &builtins, &path) {
                        Ok(plugin) => FileState { fingerprint, plugin: Some(Arc::new(plugin)), error: None },
                        Err(e) => {
                            let error = e.to_string();
                            tracing::warn!(file = %path.display(), error = %error, "plugin file not loaded");
                            failures.push(FileFailure {
                                file: path.clone(),
                                error: error.clone(),
                                kept: kept.as_ref().map(|p| p.info.name.clone()),
                            });
                            FileState { fingerprint, plugin: kept, error: Some(error) }
                        }
                    }
                }
            };
            files.insert(path, state);
        }
        let mut plugins = builtins.clone();
        let mut from_file: BTreeMap<String, PathBuf> = BTreeMap::new();
        for (path, state) in files.iter_mut() {
            let Some(plugin) = state.plugin.clone() else { continue };
            let name = plugin.info.name.clone();
            if let Some(first) = from_file.get(&name) {
                let error = LoadError::Duplicate {
                    name: name.clone(),
                    first: first.display().to_string(),
                    second: path.display().to_string(),
                }
                .to_string();
                if state.error.as_deref() != Some(&error) {
                    failures.push(FileFailure { file: path.clone(), error: error.clone(), kept: None });
                }
                state.plugin = None;
                state.error = Some(error);
                continue;
            }
            if builtins.contains_key(&name) {
                tracing::info!(plugin = %name, path = %path.display(), "plugin file replaces the built-in");
            }
            from_file.insert(name.clone(), path.clone());
            plugins.insert(name, plugin);
        }
        for name in RECONCILERS {
            if !plugins.contains_key(name) {
                return Err(LoadError::Missing { name: name.to_string() });
            }
        }
        let reconciler_components = RECONCILERS
            .iter()
            .filter_map(|name| plugins.get(*name))
            .map(|p| (p.info.component.clone(), p.info.name.clone()))
            .collect();
        let grants = options.grants.clone();
        let set = PluginSet {
            runtime,
            grants,
            options,
            pins,
            pins_fingerprint,
            builtins,
            files,
            plugins,
            reconciler_components,
        };
        Ok((set, failures))
    }

    pub fn get(&self, name: &str) -> Option<&Plugin> {
        self.plugins.get(name).map(|p| &**p)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Plugin> {
        self.plugins.values().map(|p| &**p)
    }

    /// Files of the plugin directory whose last version could not be loaded, and why.
    pub fn failures(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.files.iter().filter_map(|(path, f)| f.error.as_deref().map(|e| (path.as_path(), e)))
    }

    /// The plugin a file provides now (or provided, if its newer version failed).
    pub fn plugin_of_file(&self, file: &Path) -> Option<&Plugin> {
        self.files.get(file).and_then(|f| f.plugin.as_deref())
    }

    /// The options the set was loaded with (the operator's configuration).
    pub fn options(&self) -> &LoadOptions {
        &self.options
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

impl Fingerprint {
    fn of_option(path: Option<&Path>) -> Option<Self> {
        path.and_then(Fingerprint::of)
    }
}

fn read_pins(options: &LoadOptions) -> Result<(Pins, Option<Fingerprint>), LoadError> {
    match &options.pins {
        Some(path) => {
            let fingerprint = Fingerprint::of(path);
            Ok((Pins::read(path)?, fingerprint))
        }
        None => Ok((Pins::none(), None)),
    }
}

/// Reads, pins, compiles and checks one plugin file. Nothing of it runs unless its digest is pinned
/// (when pinning is on).
fn load_file(
    runtime: &Runtime,
    options: &LoadOptions,
    pins: &Pins,
    builtins: &BTreeMap<String, Arc<Plugin>>,
    path: &Path,
) -> Result<Plugin, LoadError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| LoadError::Io { path: origin.clone(), message: e.to_string() })?;
    let sha256 = digest(&bytes);
    pins.admit(&origin, &sha256)?;
    let plugin = checked(runtime.load_lazily(
        PluginSource::File(path.to_path_buf()),
        WasmBytes::File(path.to_path_buf()),
        &bytes,
        &sha256,
    )?)?;
    let name = &plugin.info.name;
    pins.confirm(&origin, &sha256, name)?;
    if let Some(builtin) = builtins.get(name) {
        if !options.allow_override.contains(name) {
            return Err(LoadError::OverrideNotAllowed { name: name.clone(), origin });
        }
        if builtin.info.kind != plugin.info.kind {
            return Err(LoadError::KindMismatch {
                origin,
                said: format!("{:?}", plugin.info.kind),
                world: "kind of the built-in it replaces",
            });
        }
    }
    Ok(plugin)
}

/// Names whose plugin was added, removed or replaced by another version.
fn changed_names(before: &BTreeMap<String, Arc<Plugin>>, after: &BTreeMap<String, Arc<Plugin>>) -> BTreeSet<String> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|name| match (before.get(*name), after.get(*name)) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            _ => true,
        })
        .cloned()
        .collect()
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

fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
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
