//! `ecs-operator plugin new|build|test|wit`: from zero to a tested plugin, in Rust, Python or
//! JavaScript.
//!
//! - [`scaffold`]: `plugin new` writes a project (sources against the SDK or the WIT contract, one
//!   recorded case, a README) from the templates embedded in the binary.
//! - [`toolchain`]: installs what a language needs from the package registries on first use, into
//!   versioned directories of the tools cache (`~/.cache/ecs-operator/<tool>-<version>`), once.
//! - [`sdk`]: the Rust plugin SDK's sources, embedded in the binary and written to the tools cache,
//!   since the SDK is not published on crates.io.
//! - [`build`]: runs the language's compiler; [`check`]: loads the component as the operator would
//!   and says clearly what is wrong with it; [`testrun`]: runs the project's recorded cases with the
//!   machinery of `ecs-operator test`, the component loaded as a `--plugin-dir` plugin.
//!
//! A project is a directory with a `plugin.yaml` naming the plugin, its kind (the WIT world) and its
//! language. Progress goes to stderr; `plugin build` prints the component's path last on stdout.

pub mod build;
pub mod check;
pub mod scaffold;
pub mod sdk;
pub mod testrun;
pub mod toolchain;

use crate::cli::{Failure, PluginArgs, exit};
use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// The WIT contract this binary implements, for Python and JavaScript authors to bind against.
pub const WIT: &str = include_str!("../../../wit/plugin.wit");

/// The project file that makes a directory a plugin project.
pub const PROJECT_FILE: &str = "plugin.yaml";

/// Where a project's cases live, and `plugin build`'s output directory.
pub const CASES_DIR: &str = "cases";
pub const BUILD_DIR: &str = "build";

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Write a ready plugin project in NAME/: sources, one recorded case and a README.
    New(NewArgs),
    /// Build the project's component (unless it is up to date) and check it against the contract;
    /// prints its path last.
    Build(BuildArgs),
    /// Build if needed, then run the project's recorded cases (cases/) with its component loaded.
    Test(TestArgs),
    /// Print the WIT contract (wit/plugin.wit) that plugins implement.
    Wit,
}

#[derive(Args, Debug)]
pub struct NewArgs {
    /// The plugin's name (lowercase letters, digits and '-'), and the project's directory; a path
    /// whose last part is the name puts the project elsewhere.
    pub name: PathBuf,
    /// What the plugin is: a Tier-2 storage provider, or a reconciler replacing a built-in one.
    #[arg(long, value_enum, default_value_t = Kind::Tier2Provider)]
    pub kind: Kind,
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where to write the component (default: build/<name>.wasm in the project).
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    /// Build even if the component is newer than every source (Python and JavaScript; cargo decides
    /// for Rust).
    #[arg(long)]
    pub force: bool,
    /// Load options for the check (plugin directory, grants, limits, compile cache).
    #[command(flatten)]
    pub plugins: PluginArgs,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Rewrite the cases' goldens with what is rendered now.
    #[arg(long)]
    pub update: bool,
    /// Other plugins to load (`--plugin-dir`), grants, limits and the compile cache, as for `test`.
    #[command(flatten)]
    pub plugins: PluginArgs,
}

/// The two worlds of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Tier2Provider,
    Reconciler,
}

impl Kind {
    /// The WIT world's name.
    pub fn world(self) -> &'static str {
        match self {
            Kind::Tier2Provider => "tier2-provider",
            Kind::Reconciler => "reconciler",
        }
    }

    pub fn plugin_kind(self) -> ecs_plugin_sdk::PluginKind {
        match self {
            Kind::Tier2Provider => ecs_plugin_sdk::PluginKind::Tier2Provider,
            Kind::Reconciler => ecs_plugin_sdk::PluginKind::Reconciler,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.world())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        })
    }
}

/// `plugin.yaml`: what `plugin build` and `plugin test` need to know about a project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// The name the plugin gives itself in `describe()`.
    pub name: String,
    pub kind: Kind,
    pub lang: Lang,
}

/// Why a `plugin` command failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthorError {
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path}: {message}")]
    Project { path: String, message: String },
    /// A tool could not be installed or run.
    #[error("{tool}: {message}")]
    Toolchain { tool: String, message: String },
    /// The language's compiler failed (its own output was shown above).
    #[error("building {name} ({lang}) failed: {message}")]
    Build { name: String, lang: Lang, message: String },
    /// The component does not meet the contract.
    #[error("{0}")]
    Check(String),
}

impl AuthorError {
    pub fn io(path: &Path, e: impl fmt::Display) -> Self {
        AuthorError::Io { path: path.display().to_string(), message: e.to_string() }
    }
}

impl From<AuthorError> for Failure {
    fn from(e: AuthorError) -> Self {
        let code = match e {
            AuthorError::Check(_) => exit::PLUGIN_FAULT,
            _ => exit::FAILURE,
        };
        Failure { code, message: e.to_string() }
    }
}

impl Project {
    /// Reads `DIR/plugin.yaml`.
    pub fn read(dir: &Path) -> Result<Self, AuthorError> {
        let path = dir.join(PROJECT_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AuthorError::Project {
                path: dir.display().to_string(),
                message: format!(
                    "not a plugin project: no {PROJECT_FILE} (create a project with `ecs-operator plugin new NAME`)"
                ),
            },
            _ => AuthorError::io(&path, e),
        })?;
        let project: Project = serde_yaml::from_str(&text)
            .map_err(|e| AuthorError::Project { path: path.display().to_string(), message: e.to_string() })?;
        if let Some(problem) = name_problem(&project.name) {
            return Err(AuthorError::Project {
                path: path.display().to_string(),
                message: format!("name {:?}: {problem}", project.name),
            });
        }
        Ok(project)
    }

    /// The component `plugin build` writes unless told otherwise.
    pub fn default_output(&self, dir: &Path) -> PathBuf {
        dir.join(BUILD_DIR).join(format!("{}.wasm", self.name))
    }
}

/// Why `name` cannot be a plugin's name, if it cannot: the host's rule (lowercase letters, digits
/// and '-', at most 63), starting with a letter so that it is also a crate and package name.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 63 {
        return Some("must be 1 to 63 characters long");
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Some("may contain only lowercase letters, digits and '-'");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) || name.ends_with('-') {
        return Some("must start with a letter and end with a letter or digit");
    }
    None
}

/// The directory for tools, SDKs and build caches: `$TOOLS_CACHE` (as the Makefile and scripts
/// name it), else `$XDG_CACHE_HOME/ecs-operator`, else `~/.cache/ecs-operator`.
pub fn tools_cache() -> Result<PathBuf, AuthorError> {
    if let Some(dir) = std::env::var_os("TOOLS_CACHE").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or_else(|| AuthorError::Usage("neither TOOLS_CACHE, XDG_CACHE_HOME nor HOME is set".into()))?;
    Ok(base.join("ecs-operator"))
}

/// A line of progress on stderr (stdout is for results: the component's path, the case report).
pub(crate) fn progress(message: impl fmt::Display) {
    eprintln!("{message}");
}

pub fn run(command: &PluginCommand) -> Result<(), Failure> {
    match command {
        PluginCommand::New(args) => scaffold::new_project(args).map_err(Failure::from),
        PluginCommand::Build(args) => {
            let built = build::build_and_check(&args.dir, args.out.as_deref(), args.force, &args.plugins)?;
            println!("{}", built.display());
            Ok(())
        }
        PluginCommand::Test(args) => testrun::test_project(args),
        PluginCommand::Wit => {
            print!("{WIT}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name_problem("my-tier2"), None);
        assert_eq!(name_problem("s3x"), None);
        assert!(name_problem("My").is_some());
        assert!(name_problem("-a").is_some());
        assert!(name_problem("a-").is_some());
        assert!(name_problem("1a").is_some());
        assert!(name_problem("a_b").is_some());
        assert!(name_problem(&"a".repeat(64)).is_some());
    }

    #[test]
    fn project_file() {
        let p: Project = serde_yaml::from_str("name: x\nkind: tier2-provider\nlang: js\n").unwrap();
        assert_eq!(p, Project { name: "x".into(), kind: Kind::Tier2Provider, lang: Lang::Js });
        assert!(serde_yaml::from_str::<Project>("name: x\nkind: tier2\nlang: js\n").is_err());
        assert!(serde_yaml::from_str::<Project>("name: x\nkind: reconciler\nlang: js\nextra: 1\n").is_err());
    }
}
