//! The Rust plugin SDK (`plugins/sdk`) embedded in the binary: it is not published on crates.io, so a
//! Rust plugin project outside this repository depends on it by path, on a copy this module writes to
//! the tools cache (`<cache>/sdk-<version>-<digest>/plugins/sdk`, with the contract beside it in
//! `wit/`, where the SDK's bindings look for it). The directory is named after the embedded files'
//! digest, so a changed SDK never mixes with an older copy, and an unchanged one is written once.
//!
//! The SDK's manifest inherits from the workspace; the copy gets a standalone manifest with the
//! workspace's values and dependency requirements filled in.

use super::{AuthorError, WIT};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

macro_rules! sdk_sources {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../../../plugins/sdk/src/", $file)))),*]
    };
}

/// `plugins/sdk/src/` file by file (a test keeps the list complete).
pub const SOURCES: &[(&str, &str)] = sdk_sources!(
    "k8s/jvm.rs",
    "k8s/mod.rs",
    "k8s/pod.rs",
    "k8s/service.rs",
    "k8s/status.rs",
    "lib.rs",
    "model.rs",
    "spec/bookkeeper.rs",
    "spec/ecs.rs",
    "spec/mod.rs",
    "spec/quorum.rs",
    "spec/status.rs",
    "spec/tier2.rs",
    "testing.rs",
    "tier2.rs",
    "validate.rs",
    "wasm.rs",
);

const SDK_MANIFEST: &str = include_str!("../../../plugins/sdk/Cargo.toml");
const WORKSPACE_MANIFEST: &str = include_str!("../../../Cargo.toml");
/// The workspace's lock file: a plugin project starts from the versions this repository is built and
/// tested with (cargo drops the entries it does not need).
pub const LOCK_FILE: &str = include_str!("../../../Cargo.lock");

/// The SDK's version (the workspace's, which is this binary's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The SDK's standalone `Cargo.toml`: the workspace's keys and dependencies filled in.
pub fn manifest() -> Result<String, AuthorError> {
    let package = section(WORKSPACE_MANIFEST, "workspace.package");
    let dependencies = section(WORKSPACE_MANIFEST, "workspace.dependencies");
    let mut out =
        String::from("# Written by ecs-operator from its embedded SDK (plugins/sdk in the ecs-operator repository).\n");
    for line in SDK_MANIFEST.lines() {
        let resolved = match line.split_once(".workspace = true") {
            Some((key, "")) => {
                let key = key.trim();
                let found = package
                    .iter()
                    .chain(dependencies.iter())
                    .find(|l| l.split_once('=').is_some_and(|(k, _)| k.trim() == key))
                    .ok_or_else(|| AuthorError::Usage(format!("the workspace manifest does not define {key}")))?;
                found.to_string()
            }
            _ => line.to_string(),
        };
        out.push_str(&resolved);
        out.push('\n');
    }
    Ok(out)
}

/// The `key = value` lines of a `[name]` table.
fn section<'a>(manifest: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("[{name}]");
    manifest
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter(|l| l.contains('=') && !l.trim_start().starts_with('#'))
        .collect()
}

/// A digest of everything written, naming the directory.
fn digest() -> String {
    let mut hasher = Sha256::new();
    for (file, text) in SOURCES {
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
    }
    hasher.update(SDK_MANIFEST.as_bytes());
    hasher.update(WORKSPACE_MANIFEST.as_bytes());
    hasher.update(WIT.as_bytes());
    crate::runtime::hex(&hasher.finalize()[..6])
}

/// The SDK crate's directory in the cache (written by [`install`]).
pub fn crate_dir(cache: &Path) -> PathBuf {
    cache.join(format!("sdk-{VERSION}-{}", digest())).join("plugins/sdk")
}

/// Writes the SDK into the cache unless it is there; returns the crate's directory.
pub fn install(cache: &Path) -> Result<PathBuf, AuthorError> {
    let dir = crate_dir(cache);
    let root = dir.parent().and_then(Path::parent).expect("crate_dir is two levels below its root").to_path_buf();
    if root.is_dir() {
        return Ok(dir);
    }
    // Written beside, then renamed: a build never sees half an SDK, and two writers do not clash.
    super::toolchain::fill_atomically(&root, |partial| {
        let write = |path: PathBuf, text: &str| -> Result<(), AuthorError> {
            std::fs::create_dir_all(path.parent().expect("a file has a parent"))
                .map_err(|e| AuthorError::io(&path, e))?;
            std::fs::write(&path, text).map_err(|e| AuthorError::io(&path, e))
        };
        for (file, text) in SOURCES {
            write(partial.join("plugins/sdk/src").join(file), text)?;
        }
        write(partial.join("plugins/sdk/Cargo.toml"), &manifest()?)?;
        write(partial.join("wit/plugin.wit"), WIT)
    })?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_source_is_embedded() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk/src");
        let mut found = Vec::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    found.push(path.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/"));
                }
            }
        }
        found.sort();
        let embedded: Vec<String> = SOURCES.iter().map(|(f, _)| f.to_string()).collect();
        assert_eq!(embedded, found, "add the SDK's new files to author::sdk::SOURCES");
    }

    #[test]
    fn manifest_is_standalone() {
        let m = manifest().unwrap();
        assert!(!m.contains("workspace = true"), "{m}");
        assert!(m.contains("name = \"ecs-plugin-sdk\""), "{m}");
        assert!(m.contains(&format!("version = \"{VERSION}\"")), "{m}");
        assert!(m.contains("edition = \"2024\""), "{m}");
        assert!(m.contains("wit-bindgen = {"), "{m}");
        assert!(m.contains("k8s-openapi = {"), "{m}");
    }

    #[test]
    fn install_writes_once() {
        let cache = std::env::temp_dir().join(format!("ecs-operator-sdk-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        let dir = install(&cache).unwrap();
        assert!(dir.join("src/lib.rs").is_file());
        assert_eq!(std::fs::read_to_string(dir.join("../../wit/plugin.wit")).unwrap(), WIT);
        assert_eq!(install(&cache).unwrap(), dir);
        std::fs::remove_dir_all(&cache).unwrap();
    }
}
