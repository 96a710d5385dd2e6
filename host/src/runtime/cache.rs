//! On-disk cache of compiled plugins: Cranelift takes hundreds of milliseconds per plugin, loading a
//! compiled artifact about one. Entries are keyed by the wasm's sha256 and the engine's settings, so a
//! new wasmtime or a changed configuration never loads a stale artifact.

use ecs_plugin_sdk::PluginInfo;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiled plugins kept at most (a built-in is a few MB compiled; the seven built-ins, a few
/// third-party plugins and their previous versions fit many times over).
const MAX_ENTRIES: usize = 48;

pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    /// The default location: `$ECS_OPERATOR_CACHE_DIR`, else `$XDG_CACHE_HOME/ecs-operator/plugins`,
    /// else `~/.cache/ecs-operator/plugins`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("ECS_OPERATOR_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("ecs-operator").join("plugins"))
    }

    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        // The compatibility hash covers the wasmtime version and every setting that affects code.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());
        CompileCache { dir, engine_key }
    }

    fn path_for(&self, wasm_sha256: &str) -> PathBuf {
        self.dir.join(format!("{}.cwasm", self.key(wasm_sha256, "")))
    }

    /// What a plugin said of itself, as this version of the host checked it.
    fn info_path_for(&self, wasm_sha256: &str) -> PathBuf {
        let checker = concat!("info:", env!("CARGO_PKG_VERSION"), ":");
        let checker = format!("{checker}{}", ecs_plugin_sdk::CONTRACT_VERSION);
        self.dir.join(format!("{}.info.json", self.key(wasm_sha256, &checker)))
    }

    fn key(&self, wasm_sha256: &str, extra: &str) -> String {
        Sha256::digest(format!("{wasm_sha256}:{}{extra}", self.engine_key))
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The description of a plugin checked before, so that an unused one need not be mapped to be
    /// described again.
    pub fn load_info(&self, wasm_sha256: &str) -> Option<PluginInfo> {
        let text = std::fs::read(self.info_path_for(wasm_sha256)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Stores what a plugin that passed the load checks said of itself; a failure is only logged.
    pub fn store_info(&self, wasm_sha256: &str, info: &PluginInfo) {
        let write = || self.write(&self.info_path_for(wasm_sha256), &serde_json::to_vec(info)?);
        if let Err(e) = write() {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not write the compiled-plugin cache");
        }
    }

    /// Whether compiled code for this digest is cached.
    pub fn contains(&self, wasm_sha256: &str) -> bool {
        self.path_for(wasm_sha256).is_file()
    }

    /// A cached component, or `None` on a miss or an unreadable entry (which is then recompiled).
    pub fn load(&self, engine: &Engine, wasm_sha256: &str) -> Option<Component> {
        let path = self.path_for(wasm_sha256);
        if !path.is_file() {
            return None;
        }
        // SAFETY: the file is one this cache wrote (atomically, into a directory it created) for this
        // engine configuration; wasmtime still checks the artifact's header and compatibility.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => {
                // Recently used entries are the ones pruning keeps.
                let _ = std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                Some(component)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unusable compiled-plugin cache entry");
                None
            }
        }
    }

    /// Stores a compiled component (`Engine::precompile_component`'s artifact), saying whether it
    /// did; failures only cost a recompile next time, so they are logged.
    pub fn store(&self, wasm_sha256: &str, artifact: &[u8]) -> bool {
        match self.write(&self.path_for(wasm_sha256), artifact) {
            Ok(()) => {
                self.prune();
                true
            }
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "could not write the compiled-plugin cache");
                false
            }
        }
    }

    /// Writes an entry whole or not at all: beside it first, then renamed over it.
    fn write(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }

    /// Keeps the cache bounded: an operator that has plugins swapped in for months, or a plugin
    /// author rebuilding all day, would otherwise fill the disk. The least recently used entries go
    /// first; one still needed is only compiled again.
    fn prune(&self) {
        for (suffix, keep) in [(".cwasm", MAX_ENTRIES), (".info.json", MAX_ENTRIES * 4)] {
            let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
            let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
                .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
                .collect();
            if files.len() <= keep {
                continue;
            }
            files.sort();
            for (_, path) in &files[..files.len() - keep] {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn pruning_keeps_the_most_recently_used_entries() {
        let dir = std::env::temp_dir().join(format!("ecs-cache-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cache = CompileCache::new(dir.clone(), &Engine::default());
        let base = SystemTime::now() - Duration::from_secs(3600);
        for i in 0..MAX_ENTRIES + 2 {
            let path = dir.join(format!("{i:03}.cwasm"));
            std::fs::write(&path, b"x").unwrap();
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(base + Duration::from_secs(i as u64)).unwrap();
        }
        std::fs::write(dir.join("other.txt"), b"not ours").unwrap();
        cache.prune();
        let mut left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left.len(), MAX_ENTRIES + 1);
        assert_eq!(left[0], "002.cwasm", "the two oldest entries went");
        assert!(left.contains(&"other.txt".to_string()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
