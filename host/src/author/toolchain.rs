//! What each language needs to build a component, installed from the package registries on first use
//! into versioned directories of the tools cache, and reused afterwards:
//!
//! - Rust: the `wasm32-wasip2` standard library (`rustup target add`); cargo emits a component
//!   directly.
//! - Python: componentize-py (a wheel that bundles CPython and the WASI libraries) in a virtual
//!   environment, `<cache>/componentize-py-<version>`.
//! - JavaScript: componentize-js (the StarlingMonkey engine, from npm), `<cache>/componentize-js-<version>`.
//!
//! The versions are pinned: both were measured with this host (docs/writing-plugins.md). An
//! install goes into a scratch directory that is renamed into place when complete, so an
//! interrupted install is never mistaken for a finished one.

use super::{AuthorError, progress};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// A program to run, with the arguments that come before the caller's.
#[derive(Clone, Debug)]
pub struct Tool {
    pub program: PathBuf,
    pub prefix: Vec<OsString>,
}

impl Tool {
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.prefix);
        command
    }
}

/// Runs `command`, its output going to our stderr (stdout carries results), and fails with `what`
/// and the exit status.
pub fn run(tool: &str, what: &str, command: &mut Command) -> Result<(), AuthorError> {
    let status =
        command.stdin(Stdio::null()).stdout(std::io::stderr()).stderr(std::io::stderr()).status().map_err(|e| {
            AuthorError::Toolchain {
                tool: tool.to_string(),
                message: format!("could not run {:?}: {e}", command.get_program()),
            }
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(AuthorError::Toolchain { tool: tool.to_string(), message: format!("{what} failed ({status})") })
    }
}

/// What `program --version`-like `args` print, if it runs.
fn output(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(program).args(args).current_dir(dir).stdin(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Makes sure the Rust toolchain used in `project` can build `wasm32-wasip2`.
pub fn ensure_rust_target(project: &Path) -> Result<(), AuthorError> {
    let sysroot = output("rustc", &["--print", "sysroot"], project).ok_or_else(|| AuthorError::Toolchain {
        tool: "rustc".into(),
        message: "not found: install Rust with rustup (https://rustup.rs)".into(),
    })?;
    if Path::new(&sysroot).join("lib/rustlib").join(WASM_TARGET).is_dir() {
        return Ok(());
    }
    progress(format!("adding the Rust target {WASM_TARGET} (once): rustup target add {WASM_TARGET}"));
    run("rustup", "rustup target add", Command::new("rustup").args(["target", "add", WASM_TARGET]).current_dir(project))
}

/// Installs `name-version` into the cache with `install` (given a scratch directory) unless it is
/// there; returns its directory.
fn installed(
    cache: &Path,
    name: &str,
    version: &str,
    install: impl FnOnce(&Path) -> Result<(), AuthorError>,
) -> Result<PathBuf, AuthorError> {
    let dir = cache.join(format!("{name}-{version}"));
    if dir.is_dir() {
        return Ok(dir);
    }
    progress(format!("installing {name} {version} into {} (once)", dir.display()));
    fill_atomically(&dir, install)?;
    Ok(dir)
}

/// Makes `dir` by letting `fill` fill a scratch directory beside it, then renaming that: a failed or
/// interrupted fill is never taken for a finished one, and two processes making the same `dir` at
/// once do not clash (the second finds the first's and drops its own).
pub fn fill_atomically(dir: &Path, fill: impl FnOnce(&Path) -> Result<(), AuthorError>) -> Result<(), AuthorError> {
    let parent = dir.parent().expect("an installed directory has a parent");
    std::fs::create_dir_all(parent).map_err(|e| AuthorError::io(parent, e))?;
    let name = dir.file_name().expect("an installed directory has a name").to_string_lossy();
    let partial = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    if let Err(e) = fill(&partial) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    match std::fs::rename(&partial, dir) {
        Ok(()) => Ok(()),
        Err(_) if dir.is_dir() => {
            let _ = std::fs::remove_dir_all(&partial);
            Ok(())
        }
        Err(e) => Err(AuthorError::io(dir, e)),
    }
}

/// componentize-py, in its own virtual environment. Run through the environment's interpreter
/// rather than its `bin/componentize-py` script, whose first line names the scratch directory it
/// was installed in.
pub fn componentize_py(cache: &Path) -> Result<Tool, AuthorError> {
    let tool = "componentize-py";
    let dir = installed(cache, tool, COMPONENTIZE_PY_VERSION, |dir| {
        let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
        run(tool, "creating a Python virtual environment", Command::new(&python).arg("-m").arg("venv").arg(dir))
            .map_err(|e| AuthorError::Toolchain {
                tool: tool.into(),
                message: format!("{e}: componentize-py needs Python 3 with venv ({python:?}; set PYTHON to choose)"),
            })?;
        run(
            tool,
            "pip install",
            Command::new(dir.join("bin/python"))
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"])
                .arg(format!("componentize-py=={COMPONENTIZE_PY_VERSION}")),
        )
    })?;
    Ok(Tool {
        program: dir.join("bin/python"),
        prefix: vec![
            "-c".into(),
            "import sys; from componentize_py import script; sys.argv[0] = 'componentize-py'; sys.exit(script())"
                .into(),
        ],
    })
}

/// componentize-js from npm, run by the `node` on the PATH.
pub fn componentize_js(cache: &Path) -> Result<Tool, AuthorError> {
    let tool = "componentize-js";
    // The probe runs in the cache, which a fresh machine does not have yet.
    std::fs::create_dir_all(cache).map_err(|e| AuthorError::io(cache, e))?;
    let node = output("node", &["--version"], cache).ok_or_else(|| AuthorError::Toolchain {
        tool: "node".into(),
        message: "not found: componentize-js needs Node.js 20 or later with npm".into(),
    })?;
    let major: u32 = node.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 20 {
        return Err(AuthorError::Toolchain {
            tool: "node".into(),
            message: format!("found {node}; componentize-js needs Node.js 20 or later"),
        });
    }
    let dir = installed(cache, tool, COMPONENTIZE_JS_VERSION, |dir| {
        std::fs::create_dir_all(dir).map_err(|e| AuthorError::io(dir, e))?;
        // Its own package, so that npm does not walk up to another project's.
        let manifest = dir.join("package.json");
        std::fs::write(&manifest, "{\"private\": true}\n").map_err(|e| AuthorError::io(&manifest, e))?;
        run(
            tool,
            "npm install",
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--loglevel", "error"])
                .arg(format!("@bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION}"))
                .current_dir(dir),
        )
    })?;
    Ok(Tool {
        program: "node".into(),
        prefix: vec![dir.join("node_modules/@bytecodealliance/componentize-js/src/cli.js").into()],
    })
}
