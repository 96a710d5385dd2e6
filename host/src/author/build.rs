//! `plugin build`: the language's compiler turns the project into a component, then [`check`] loads
//! it as the operator would.
//!
//! - Rust: `cargo build --release --target wasm32-wasip2` against the SDK written to the tools
//!   cache (see [`sdk`]). Cargo's target directory is shared by all plugin projects
//!   (`<cache>/rust-target`, or `$CARGO_TARGET_DIR`): the SDK's dependencies (k8s-openapi above all)
//!   take minutes to compile for wasm32 on a small machine, and a second project built with the same
//!   SDK reuses them; cargo locks the directory while it builds.
//! - Python: componentize-py on `app.py`, against the project's `wit/` (world = the project's kind).
//! - JavaScript: componentize-js on `plugin.js`, against `wit/`, without the `wasi:http` and
//!   fetch-event features (the host offers no network; with them the component would not link).
//!
//! [`check`]: super::check
//! [`sdk`]: super::sdk

use super::{AuthorError, BUILD_DIR, CASES_DIR, Lang, Project, progress, sdk, toolchain, tools_cache};
use crate::cli::{Failure, PluginArgs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

/// Python's entry module and JavaScript's entry file, by convention.
pub const PYTHON_MODULE: &str = "app";
pub const JS_ENTRY: &str = "plugin.js";
/// The contract's directory in Python and JavaScript projects.
pub const WIT_DIR: &str = "wit";

/// Builds the project in `dir` into `out` (default `build/<name>.wasm`) if needed (or if `force`d),
/// checks it, and returns the component's absolute path.
pub fn build_and_check(dir: &Path, out: Option<&Path>, force: bool, plugins: &PluginArgs) -> Result<PathBuf, Failure> {
    let project = Project::read(dir)?;
    let out = out.map(Path::to_path_buf).unwrap_or_else(|| project.default_output(dir));
    if force {
        build(&project, dir, &out)?;
    } else {
        build_if_needed(&project, dir, &out)?;
    }
    super::check::check(&project, &out, plugins)?;
    Ok(std::path::absolute(&out).unwrap_or(out))
}

/// Builds unless the component is newer than every source (Python and JavaScript: their compilers
/// rebuild from scratch and take seconds; cargo knows by itself what is up to date).
pub fn build_if_needed(project: &Project, dir: &Path, out: &Path) -> Result<(), AuthorError> {
    if project.lang != Lang::Rust
        && let Some(built) = modified(out)
        && newest_source(dir)?.is_none_or(|newest| newest <= built)
    {
        progress(format!("{} is up to date", out.display()));
        return Ok(());
    }
    build(project, dir, out)
}

/// Runs the language's build, writing the component to `out`.
pub fn build(project: &Project, dir: &Path, out: &Path) -> Result<(), AuthorError> {
    // The compilers run in the project's directory: relative paths would no longer hold there.
    let dir = &std::path::absolute(dir).map_err(|e| AuthorError::io(dir, e))?;
    let out = &std::path::absolute(out).map_err(|e| AuthorError::io(out, e))?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| AuthorError::io(parent, e))?;
    }
    let cache = tools_cache()?;
    let started = Instant::now();
    progress(format!("building {} ({}, {})", project.name, project.kind, project.lang));
    let failed = |message: String| AuthorError::Build { name: project.name.clone(), lang: project.lang, message };
    match project.lang {
        Lang::Rust => build_rust(dir, out, &cache).map_err(|e| match e {
            AuthorError::Toolchain { tool, message } if tool == "cargo" => failed(message),
            other => other,
        })?,
        Lang::Python => {
            require(dir, &format!("{PYTHON_MODULE}.py"))?;
            require(dir, WIT_DIR)?;
            let tool = toolchain::componentize_py(&cache)?;
            toolchain::run(
                "componentize-py",
                "componentize-py",
                tool.command()
                    .arg("-d")
                    .arg(dir.join(WIT_DIR))
                    .args(["-w", project.kind.world(), "componentize", "-p"])
                    .arg(dir)
                    .arg(PYTHON_MODULE)
                    .arg("-o")
                    .arg(out)
                    .current_dir(dir),
            )
            .map_err(|e| failed(e.to_string()))?
        }
        Lang::Js => {
            require(dir, JS_ENTRY)?;
            require(dir, WIT_DIR)?;
            let tool = toolchain::componentize_js(&cache)?;
            toolchain::run(
                "componentize-js",
                "componentize-js",
                tool.command()
                    .arg(dir.join(JS_ENTRY))
                    .arg("--wit")
                    .arg(dir.join(WIT_DIR))
                    .args(["-n", project.kind.world(), "-d", "http", "fetch-event", "-o"])
                    .arg(out)
                    .current_dir(dir),
            )
            .map_err(|e| failed(e.to_string()))?
        }
    }
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    progress(format!(
        "built {} ({:.1} MB) in {:.1} s",
        out.display(),
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn require(dir: &Path, file: &str) -> Result<(), AuthorError> {
    if dir.join(file).exists() {
        Ok(())
    } else {
        Err(AuthorError::Project { path: dir.display().to_string(), message: format!("{file} is missing") })
    }
}

/// The marker `plugin new` puts on the SDK dependency line, which `plugin build` keeps pointing at
/// its own SDK.
pub const SDK_LINE_PREFIX: &str = "ecs-plugin-sdk = { path = ";

fn build_rust(dir: &Path, out: &Path, cache: &Path) -> Result<(), AuthorError> {
    let manifest_path = dir.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path).map_err(|e| AuthorError::io(&manifest_path, e))?;
    toolchain::ensure_rust_target(dir)?;
    let sdk_dir = sdk::install(cache)?;
    // The plugin is built against the SDK (and so the contract) of the ecs-operator building it.
    let line = sdk_line(&sdk_dir);
    let updated: Vec<String> = manifest
        .lines()
        .map(|l| if l.starts_with(SDK_LINE_PREFIX) && l != line { line.clone() } else { l.to_string() })
        .collect();
    let updated = updated.join("\n") + "\n";
    if updated != manifest {
        progress(format!("Cargo.toml: ecs-plugin-sdk now at {}", sdk_dir.display()));
        std::fs::write(&manifest_path, &updated).map_err(|e| AuthorError::io(&manifest_path, e))?;
    }
    let crate_name = package_name(&updated).ok_or_else(|| AuthorError::Project {
        path: manifest_path.display().to_string(),
        message: "no [package] name".into(),
    })?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("rust-target"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    toolchain::run(
        "cargo",
        "cargo build",
        Command::new(cargo)
            .args(["build", "--release", "--target", toolchain::WASM_TARGET, "--manifest-path"])
            .arg(&manifest_path)
            .arg("--target-dir")
            .arg(&target_dir)
            .current_dir(dir),
    )?;
    let artifact =
        target_dir.join(toolchain::WASM_TARGET).join("release").join(format!("{}.wasm", crate_name.replace('-', "_")));
    std::fs::copy(&artifact, out).map_err(|e| AuthorError::io(&artifact, e))?;
    Ok(())
}

/// The SDK dependency line for a project's Cargo.toml.
pub fn sdk_line(sdk_dir: &Path) -> String {
    format!("{SDK_LINE_PREFIX}{:?} }}", sdk_dir.display().to_string())
}

/// `[package] name` of a Cargo.toml.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the project's sources: everything but the build output, the
/// cases, dependencies and caches.
fn newest_source(dir: &Path) -> Result<Option<SystemTime>, AuthorError> {
    const SKIP: &[&str] = &[BUILD_DIR, CASES_DIR, "target", "node_modules", "__pycache__"];
    let mut newest = None;
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| AuthorError::io(&d, e))? {
            let path = entry.map_err(|e| AuthorError::io(&d, e))?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with('.') || (d == dir && SKIP.contains(&name.as_ref())) || name == "__pycache__" {
                continue;
            }
            // Through symlinks: an example's wit/ may be a link to the repository's.
            if path.is_dir() {
                dirs.push(path);
            } else if let Some(t) = modified(&path) {
                newest = newest.max(Some(t));
            }
        }
    }
    Ok(newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_package_name() {
        let m = "[package]\nname = \"my-tier2\"\nversion = \"0.1.0\"\n[dependencies]\nname = \"x\"\n";
        assert_eq!(package_name(m).as_deref(), Some("my-tier2"));
        assert_eq!(package_name("[dependencies]\nname = \"x\"\n"), None);
    }

    #[test]
    fn sdk_line_is_a_toml_path() {
        assert_eq!(sdk_line(Path::new("/c/sdk")), "ecs-plugin-sdk = { path = \"/c/sdk\" }");
    }
}
