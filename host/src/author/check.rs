//! Is a built component a plugin this operator will load? First what can be read off the component
//! without running it (a component at all, which contract version it imports, which world's
//! functions it exports), each with a message that says what to change; then the operator's own
//! load ([`PluginSet::load`] with the component as a `--plugin-dir` file: signatures, `describe()`,
//! the contract version it states, its name and role), and last whether it is the plugin the
//! project file says.

use super::{AuthorError, Kind, Lang, Project, progress};
use crate::cli::PluginArgs;
use crate::runtime::PluginSource;
use ecs_plugin_sdk::{CONTRACT_VERSION, PluginInfo, PluginKind};
use std::path::{Path, PathBuf};

/// The top-level import and export names of a component.
#[derive(Debug, Default)]
pub struct Surface {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// Reads a component's top-level imports and exports (not those of the modules inside it).
pub fn surface(bytes: &[u8]) -> Result<Surface, String> {
    use wasmparser::{Encoding, Parser, Payload};
    let mut surface = Surface::default();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| format!("not a WebAssembly binary: {e}"))? {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding == Encoding::Module {
                    return Err("a core WebAssembly module, not a component".into());
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    surface.imports.push(import.map_err(|e| e.to_string())?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    surface.exports.push(export.map_err(|e| e.to_string())?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(surface)
}

/// The functions a world exports.
pub fn world_exports(kind: Kind) -> [&'static str; 3] {
    match kind {
        Kind::Tier2Provider => ["describe", "validate", "provide"],
        Kind::Reconciler => ["describe", "validate", "reconcile"],
    }
}

/// The contract versions a component imports (`ecs:plugin/<interface>@<version>`), with the import.
pub fn contract_imports(surface: &Surface) -> Vec<(String, String)> {
    surface
        .imports
        .iter()
        .filter_map(|i| {
            let rest = i.strip_prefix("ecs:plugin/")?;
            let (_, version) = rest.split_once('@')?;
            Some((version.to_string(), i.clone()))
        })
        .collect()
}

/// The host's rule: 0.x contracts are compatible within a minor version, later ones within a major.
pub fn contract_compatible(found: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(found), parse(CONTRACT_VERSION)) {
        (Some((0, fm)), Some((0, hm))) => fm == hm,
        (Some((f, _)), Some((h, _))) => f != 0 && f == h,
        _ => false,
    }
}

/// What to do about a contract that is not this host's, per language.
fn contract_fix(lang: Lang) -> String {
    match lang {
        Lang::Rust => {
            "rebuild it with `ecs-operator plugin build`, which builds against this ecs-operator's SDK".into()
        }
        Lang::Python | Lang::Js => format!(
            "replace wit/plugin.wit with this host's (`ecs-operator plugin wit > wit/plugin.wit`), make describe() \
             return contract {CONTRACT_VERSION}, adapt the code to the contract's changes, and rebuild"
        ),
    }
}

/// What can be read off the component without running it.
pub fn static_check(project: &Project, component: &Path, bytes: &[u8]) -> Result<(), AuthorError> {
    let shown = component.display();
    let surface = surface(bytes).map_err(|e| {
        let hint = match project.lang {
            Lang::Rust => " (build it with --target wasm32-wasip2, which emits a component)",
            _ => "",
        };
        AuthorError::Check(format!("{shown}: {e}{hint}"))
    })?;
    if let Some((found, import)) = contract_imports(&surface).into_iter().find(|(v, _)| !contract_compatible(v)) {
        return Err(AuthorError::Check(format!(
            "{shown} was built against the plugin contract ecs:plugin@{found} (it imports {import}); this \
             ecs-operator implements ecs:plugin@{CONTRACT_VERSION}: {}",
            contract_fix(project.lang)
        )));
    }
    let has = |kind: Kind| world_exports(kind).iter().all(|f| surface.exports.iter().any(|e| e == f));
    let expected = world_exports(project.kind);
    if has(project.kind) {
        return Ok(());
    }
    let other = match project.kind {
        Kind::Tier2Provider => Kind::Reconciler,
        Kind::Reconciler => Kind::Tier2Provider,
    };
    if has(other) {
        return Err(AuthorError::Check(format!(
            "{shown} exports the {other} world ({}), but plugin.yaml says kind {}: set `kind: {other}` in \
             plugin.yaml, or implement {} instead",
            world_exports(other).join(", "),
            project.kind,
            expected.join(", "),
        )));
    }
    let exports = if surface.exports.is_empty() { "nothing".to_string() } else { surface.exports.join(", ") };
    let hint = match project.lang {
        Lang::Rust => format!(
            "export your type with ecs_plugin_sdk::{}!",
            if project.kind == Kind::Reconciler { "export_reconciler" } else { "export_tier2_provider" }
        ),
        Lang::Python => format!("app.py must define class WitWorld with {}", expected.join(", ")),
        Lang::Js => format!("plugin.js must export the functions {}", expected.join(", ")),
    };
    Err(AuthorError::Check(format!(
        "{shown} does not export the {} world of ecs:plugin@{CONTRACT_VERSION}: it exports {exports}; the world \
         exports {} ({hint})",
        project.kind,
        expected.join(", "),
    )))
}

/// A scratch plugin directory holding a link to the component (and to any other plugins asked
/// for), removed when dropped.
pub struct PluginDir {
    pub path: PathBuf,
    pub link: PathBuf,
}

impl PluginDir {
    pub fn new(project: &Project, component: &Path, others: Option<&Path>) -> Result<Self, AuthorError> {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ecs-operator-plugin-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|e| AuthorError::io(&path, e))?;
        let dir = PluginDir { link: path.join(format!("{}.wasm", project.name)), path };
        let target = std::path::absolute(component).map_err(|e| AuthorError::io(component, e))?;
        link(&target, &dir.link)?;
        if let Some(others) = others {
            let entries = std::fs::read_dir(others).map_err(|e| AuthorError::io(others, e))?;
            for entry in entries.filter_map(Result::ok) {
                let p = entry.path();
                let to = dir.path.join(format!("other-{}", entry.file_name().to_string_lossy()));
                if p.extension().is_some_and(|e| e == "wasm") && p != target {
                    link(&std::path::absolute(&p).map_err(|e| AuthorError::io(&p, e))?, &to)?;
                }
            }
        }
        Ok(dir)
    }

    /// `text` with the scratch directory's paths replaced by the component's.
    pub fn unscratch(&self, text: &str, component: &Path) -> String {
        text.replace(&self.link.display().to_string(), &component.display().to_string())
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn link(target: &Path, at: &Path) -> Result<(), AuthorError> {
    #[cfg(unix)]
    let linked = std::os::unix::fs::symlink(target, at);
    #[cfg(not(unix))]
    let linked = std::fs::copy(target, at).map(|_| ());
    linked.map_err(|e| AuthorError::io(at, e))
}

/// Load options for the project's component: it alone in a scratch plugin directory (plus the
/// caller's `--plugin-dir`), no pins (it was just built), allowed to replace the built-in reconciler
/// it is named after.
pub fn load_args(project: &Project, plugins: &PluginArgs, dir: &PluginDir) -> PluginArgs {
    let mut args = plugins.clone();
    args.plugin_dir = Some(dir.path.clone());
    args.plugin_pins = None;
    if project.kind == Kind::Reconciler && !args.allow_override.contains(&project.name) {
        args.allow_override.push(project.name.clone());
    }
    args
}

/// Checks the component at `component` against the contract and the project; returns what it says
/// of itself.
pub fn check(project: &Project, component: &Path, plugins: &PluginArgs) -> Result<PluginInfo, AuthorError> {
    let bytes = std::fs::read(component).map_err(|e| AuthorError::io(component, e))?;
    static_check(project, component, &bytes)?;
    let dir = PluginDir::new(project, component, None)?;
    let loaded = load_args(project, plugins, &dir).load().map_err(|f| {
        let message = dir.unscratch(f.message.trim_end(), component);
        let hint = if message.contains("built against plugin contract") {
            format!(" (the contract version describe() returns; {})", contract_fix(project.lang))
        } else {
            String::new()
        };
        AuthorError::Check(format!("the operator would not load it: {message}{hint}"))
    })?;
    let info = loaded
        .iter()
        .find(|p| p.source == PluginSource::File(dir.link.clone()))
        .map(|p| p.info.clone())
        .ok_or_else(|| AuthorError::Check(format!("{}: not among the loaded plugins", component.display())))?;
    if info.name != project.name {
        return Err(AuthorError::Check(format!(
            "{}: describe() says its name is {:?}, but plugin.yaml says {:?}: make them the same",
            component.display(),
            info.name,
            project.name
        )));
    }
    let kind = match info.kind {
        PluginKind::Reconciler => "reconciler",
        PluginKind::Tier2Provider => "tier2-provider",
    };
    let capabilities = if info.capabilities.is_empty() { "none".to_string() } else { info.capabilities.join(", ") };
    progress(format!(
        "checked: {} {} is a {kind} of contract {} (component label {}, capabilities: {capabilities})",
        info.name, info.version, info.contract, info.component
    ));
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_rule() {
        assert!(contract_compatible(CONTRACT_VERSION));
        assert!(!contract_compatible("0.1.0"));
        assert!(!contract_compatible("9.0.0"));
        assert!(!contract_compatible("x"));
    }

    #[test]
    fn a_core_module_is_not_a_component() {
        let module = b"\0asm\x01\0\0\0";
        assert_eq!(surface(module).unwrap_err(), "a core WebAssembly module, not a component");
        assert!(surface(b"nope").unwrap_err().starts_with("not a WebAssembly binary"));
    }
}
