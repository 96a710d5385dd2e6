//! On-disk cache of compiled plugins: Cranelift takes hundreds of milliseconds per plugin, loading a
//! compiled artifact about one. Entries are keyed by the wasm's sha256 and the engine's settings, so a
//! new wasmtime or a changed configuration never loads a stale artifact.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

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
        let key: String = Sha256::digest(format!("{wasm_sha256}:{}", self.engine_key))
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        self.dir.join(format!("{key}.cwasm"))
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
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unusable compiled-plugin cache entry");
                None
            }
        }
    }

    /// Stores a compiled component; failures only cost a recompile next time, so they are logged.
    pub fn store(&self, wasm_sha256: &str, component: &Component) {
        if let Err(e) = self.try_store(wasm_sha256, component) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "could not write the compiled-plugin cache");
        }
    }

    fn try_store(&self, wasm_sha256: &str, component: &Component) -> std::io::Result<()> {
        let bytes = component.serialize().map_err(|e| std::io::Error::other(e.to_string()))?;
        create_private_dir(&self.dir)?;
        let path = self.path_for(wasm_sha256);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)
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
