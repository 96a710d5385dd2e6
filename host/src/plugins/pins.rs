//! Digest pinning: a manifest (YAML, `plugin-name: <sha256>`) of the only third-party plugin files
//! the operator may run. With a manifest, a file whose digest is pinned for no plugin is refused
//! before it is compiled or run, and a file whose digest is pinned for another name than the one it
//! gives itself is refused after `describe`. Built-in plugins are part of the binary and not pinned.

use crate::runtime::LoadError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    /// Where the manifest was read from; `None`: no pinning.
    source: Option<PathBuf>,
    /// sha256 (lowercase hex) -> plugin name.
    by_digest: BTreeMap<String, String>,
}

impl Pins {
    /// No pinning: every file may be loaded.
    pub fn none() -> Self {
        Pins::default()
    }

    pub fn read(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::Pins { path: path.display().to_string(), message: e.to_string() })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, LoadError> {
        let err = |message: String| LoadError::Pins { path: path.display().to_string(), message };
        let entries: BTreeMap<String, String> = if text.trim().is_empty() {
            BTreeMap::new()
        } else {
            serde_yaml::from_str(text)
                .map_err(|e| err(format!("expected a mapping of plugin name to sha256 digest: {e}")))?
        };
        let mut by_digest = BTreeMap::new();
        for (name, digest) in entries {
            let hex = digest.trim().strip_prefix("sha256:").unwrap_or(digest.trim()).to_ascii_lowercase();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(err(format!("{name}: {digest:?} is not a sha256 digest (64 hex digits)")));
            }
            if let Some(other) = by_digest.insert(hex.clone(), name.clone()) {
                return Err(err(format!("{name} and {other} are pinned to the same digest {hex}")));
            }
        }
        Ok(Pins { source: Some(path.to_path_buf()), by_digest })
    }

    pub fn is_enabled(&self) -> bool {
        self.source.is_some()
    }

    fn source_text(&self) -> String {
        self.source.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
    }

    /// Before anything of the file runs: its digest must be pinned (if pinning is on). Returns the
    /// name it is pinned for.
    pub fn admit(&self, origin: &str, sha256: &str) -> Result<Option<&str>, LoadError> {
        if !self.is_enabled() {
            return Ok(None);
        }
        match self.by_digest.get(sha256) {
            Some(name) => Ok(Some(name)),
            None => Err(LoadError::Unpinned {
                origin: origin.to_string(),
                sha256: sha256.to_string(),
                pins: self.source_text(),
            }),
        }
    }

    /// After `describe`: the plugin must call itself what its digest is pinned for.
    pub fn confirm(&self, origin: &str, sha256: &str, said: &str) -> Result<(), LoadError> {
        match self.admit(origin, sha256)? {
            Some(pinned) if pinned != said => Err(LoadError::PinnedAsOther {
                origin: origin.to_string(),
                pinned: pinned.to_string(),
                said: said.to_string(),
                pins: self.source_text(),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn pins(text: &str) -> Result<Pins, LoadError> {
        Pins::parse(Path::new("pins.yaml"), text)
    }

    #[test]
    fn no_manifest_admits_everything() {
        assert_eq!(Pins::none().admit("x.wasm", A).unwrap(), None);
        Pins::none().confirm("x.wasm", A, "anything").unwrap();
    }

    #[test]
    fn pinned_digest_is_admitted_for_its_name_only() {
        let p = pins(&format!("tier2-s3: sha256:{}\n", A.to_uppercase())).unwrap();
        assert_eq!(p.admit("s3.wasm", A).unwrap(), Some("tier2-s3"));
        p.confirm("s3.wasm", A, "tier2-s3").unwrap();
        let other = p.confirm("s3.wasm", A, "tier2-nfs").unwrap_err().to_string();
        assert!(other.contains("pinned for plugin tier2-s3") && other.contains("tier2-nfs"), "{other}");
    }

    #[test]
    fn unpinned_digest_is_refused_with_the_manifest_named() {
        let p = pins(&format!("tier2-s3: {A}\n")).unwrap();
        let e = p.admit("s3.wasm", B).unwrap_err().to_string();
        assert!(e.contains(B) && e.contains("pins.yaml") && e.contains("without running it"), "{e}");
        // An empty manifest pins nothing: every file is refused.
        assert!(pins("").unwrap().admit("s3.wasm", A).is_err());
    }

    #[test]
    fn malformed_manifests_name_the_entry() {
        let e = pins("tier2-s3: abc\n").unwrap_err().to_string();
        assert!(e.contains("tier2-s3") && e.contains("not a sha256"), "{e}");
        let e = pins(&format!("a: {A}\nb: {A}\n")).unwrap_err().to_string();
        assert!(e.contains("same digest"), "{e}");
        assert!(pins("- a\n- b\n").is_err());
    }
}
