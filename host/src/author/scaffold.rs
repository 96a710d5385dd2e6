//! `plugin new`: a ready project from the templates embedded in the binary, with one recorded case
//! that the new plugin passes as written.
//!
//! - A Tier-2 provider starts as the example provider `tier2-nfs-inline` (an NFS export mounted
//!   inline at `/mnt/tier2`), and its case is that example's `basic` case: the goldens are the ones
//!   the Rust example renders (`make cases` keeps them true), the cluster selects the new plugin.
//! - A reconciler replaces the built-in `controller` (a reconciler must be named after the
//!   component it replaces) and starts as the built-in's logic: its case's goldens are rendered
//!   here, by the built-in plugins, so the new plugin passes exactly when it renders what the
//!   built-in renders.

use super::build::sdk_line;
use super::{AuthorError, CASES_DIR, Kind, Lang, NewArgs, PROJECT_FILE, WIT, name_problem, progress, sdk, tools_cache};
use crate::plugins::{LoadOptions, PluginSet};
use crate::runtime::{CompileCache, Limits, Runtime};
use crate::testcases::{self, Verdict};
use ecs_plugin_sdk::CONTRACT_VERSION;
use std::path::{Path, PathBuf};

const PLUGIN_YAML: &str = include_str!("templates/plugin.yaml");
const GITIGNORE: &str = include_str!("templates/gitignore");
const README: &str = include_str!("templates/README.md");
const RUST_CARGO: &str = include_str!("templates/rust/Cargo.toml");
const RUST_TIER2: &str = include_str!("templates/rust/tier2.rs");
const PYTHON_RECONCILER: &str = include_str!("templates/python/reconciler.py");
const JS_RECONCILER: &str = include_str!("templates/js/reconciler.js");

/// A new Python or JavaScript Tier-2 provider is the example of its language (which `make polyglot`
/// builds and tests against the Rust example's goldens) under the new name: one source, no template
/// to drift from it.
const PYTHON_TIER2: Example = Example {
    name: "tier2-nfs-inline-python",
    files: &[("app.py", include_str!("../../../plugins/examples/tier2-nfs-inline-python/app.py"))],
};
const JS_TIER2: Example = Example {
    name: "tier2-nfs-inline-js",
    files: &[
        ("plugin.js", include_str!("../../../plugins/examples/tier2-nfs-inline-js/plugin.js")),
        ("package.json", include_str!("../../../plugins/examples/tier2-nfs-inline-js/package.json")),
    ],
};

/// An example plugin's sources, and the name they give the plugin.
struct Example {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
}

impl Example {
    fn renamed(&self, name: &str) -> impl Iterator<Item = File> {
        self.files.iter().map(move |(path, text)| (PathBuf::from(path), text.replace(self.name, name)))
    }
}

const RECONCILER_CLUSTER: &str = include_str!("templates/reconciler-cluster.yaml");

/// The built-in controller reconciler's sources: a Rust reconciler starts from them.
const RUST_RECONCILER: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("../../../plugins/controller/src/lib.rs")),
    ("src/config.rs", include_str!("../../../plugins/controller/src/config.rs")),
    ("src/objects.rs", include_str!("../../../plugins/controller/src/objects.rs")),
    ("src/validate.rs", include_str!("../../../plugins/controller/src/validate.rs")),
    ("src/tests.rs", include_str!("../../../plugins/controller/src/tests.rs")),
];

/// The example Tier-2 provider's first case, which a new Tier-2 provider starts with.
const TIER2_CLUSTER: &str = include_str!("../../../plugins/examples/tier2-nfs-inline/cases/basic/cluster.yaml");
const TIER2_EXPECTED: &str = include_str!("../../../plugins/examples/tier2-nfs-inline/cases/basic/expected.yaml");
const TIER2_EXPECTED_STATUS: &str =
    include_str!("../../../plugins/examples/tier2-nfs-inline/cases/basic/expected-status.yaml");
/// How that case selects the example, replaced by the new plugin's name.
const TIER2_EXAMPLE_SELECTION: &str = "name: tier2-nfs-inline\n";

/// The reconciler a new reconciler replaces.
pub const REPLACED_RECONCILER: &str = "controller";

/// The case every project starts with.
pub const FIRST_CASE: &str = "basic";

/// Built-in Tier-2 providers' names, which a new plugin cannot take.
const BUILTIN_TIER2: &[&str] = &["tier2-nfs", "tier2-filestore", "tier2-hdfs", "tier2-ecs"];

/// A file of a new project: its path in the project and its content.
pub type File = (PathBuf, String);

fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(template.to_string(), |text, (key, value)| text.replace(&format!("{{{{{key}}}}}"), value))
}

/// The name the plugin gives itself: a Tier-2 provider's is the project's, a reconciler's is that of
/// the built-in it replaces.
pub fn plugin_name(kind: Kind, project: &str) -> String {
    match kind {
        Kind::Tier2Provider => project.to_string(),
        Kind::Reconciler => REPLACED_RECONCILER.to_string(),
    }
}

/// The files of a new project named `project` (its cases apart). A Rust project depends on the SDK
/// at `sdk_dir`.
pub fn files(kind: Kind, lang: Lang, project: &str, sdk_dir: Option<&Path>) -> Vec<File> {
    let name = plugin_name(kind, project);
    let values = [
        ("name", name.as_str()),
        ("project", project),
        ("kind", kind.world()),
        ("lang", &lang.to_string()),
        ("contract", CONTRACT_VERSION),
    ]
    .map(|(k, v)| (k, v.to_string()));
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut files: Vec<File> = vec![
        (PROJECT_FILE.into(), fill(PLUGIN_YAML, &values)),
        (".gitignore".into(), GITIGNORE.to_string()),
        ("README.md".into(), readme(kind, lang, &name, &values)),
    ];
    match lang {
        Lang::Rust => {
            let sdk = sdk_dir.map(sdk_line).unwrap_or_default();
            let cargo = fill(RUST_CARGO, &values).replace("{{sdk_line}}", &sdk);
            files.push(("Cargo.toml".into(), cargo));
            files.push(("Cargo.lock".into(), sdk::LOCK_FILE.to_string()));
            match kind {
                Kind::Tier2Provider => files.push(("src/lib.rs".into(), fill(RUST_TIER2, &values))),
                Kind::Reconciler => {
                    files.extend(RUST_RECONCILER.iter().map(|(path, text)| (PathBuf::from(path), text.to_string())))
                }
            }
        }
        Lang::Python => {
            match kind {
                Kind::Tier2Provider => files.extend(PYTHON_TIER2.renamed(&name)),
                Kind::Reconciler => {
                    files.push((format!("{}.py", super::build::PYTHON_MODULE).into(), fill(PYTHON_RECONCILER, &values)))
                }
            }
            files.push((Path::new(super::build::WIT_DIR).join("plugin.wit"), WIT.to_string()));
        }
        Lang::Js => {
            match kind {
                Kind::Tier2Provider => files.extend(JS_TIER2.renamed(&name)),
                Kind::Reconciler => {
                    files.push((super::build::JS_ENTRY.into(), fill(JS_RECONCILER, &values)));
                    // The example's package.json, which says nothing of the kind.
                    files.extend(JS_TIER2.renamed(&name).filter(|(path, _)| path == Path::new("package.json")));
                }
            }
            files.push((Path::new(super::build::WIT_DIR).join("plugin.wit"), WIT.to_string()));
        }
    }
    files
}

/// The first case's `cluster.yaml` for a plugin of `kind` named `name`.
pub fn case_cluster(kind: Kind, name: &str) -> String {
    match kind {
        Kind::Tier2Provider => TIER2_CLUSTER.replace(TIER2_EXAMPLE_SELECTION, &format!("name: {name}\n")),
        Kind::Reconciler => RECONCILER_CLUSTER.to_string(),
    }
}

fn readme(kind: Kind, lang: Lang, name: &str, values: &[(&str, &str)]) -> String {
    let summary = match kind {
        Kind::Tier2Provider => {
            "A Tier-2 storage provider for ecs-operator: it mounts an NFS export straight into the segment store \
             pods"
        }
        Kind::Reconciler => {
            "A replacement for ecs-operator's built-in `controller` reconciler (a reconciler is named after the \
             component it replaces); it starts as the built-in's logic: the controller's ConfigMap, Service, \
             Deployment and PodDisruptionBudget"
        }
    };
    let (lang_name, files, toolchain) = match lang {
        Lang::Rust => (
            "Rust",
            "| `Cargo.toml`, `src/` | the crate, against the plugin SDK `ecs-plugin-sdk` (see Cargo.toml) |\n",
            "The first build adds the Rust target `wasm32-wasip2` (`rustup target add`) and writes the SDK to \
             `~/.cache/ecs-operator/sdk-*`. Cargo's target directory is shared by plugin projects \
             (`~/.cache/ecs-operator/rust-target`, or `$CARGO_TARGET_DIR`), so only the first project compiles \
             the SDK's dependencies (a few minutes on a small machine). `cargo test` runs the unit tests natively.",
        ),
        Lang::Python => (
            "Python",
            "| `app.py` | the plugin: class `WitWorld` implements the world's functions |\n\
             | `wit/plugin.wit` | the contract it is built against (`ecs-operator plugin wit` prints the operator's) |\n",
            "The first build installs componentize-py 0.25.1 from PyPI into \
             `~/.cache/ecs-operator/componentize-py-0.25.1` (once). The component embeds CPython: about 18 MB, \
             which the operator compiles once (about 10 s) and then loads from its compile cache in milliseconds; \
             a call takes a few milliseconds. Bindings for an editor: `componentize-py -d wit -w \
             WORLD bindings .` in that environment.",
        ),
        Lang::Js => (
            "JavaScript",
            "| `plugin.js` | the plugin: an ES module exporting the world's functions |\n\
             | `package.json` | for editors and Node.js tooling; the plugin has no dependencies |\n\
             | `wit/plugin.wit` | the contract it is built against (`ecs-operator plugin wit` prints the operator's) |\n",
            "The first build installs componentize-js 0.23.0 (the StarlingMonkey engine) from npm into \
             `~/.cache/ecs-operator/componentize-js-0.23.0` (once). The component embeds the engine: about \
             12 MB, which the operator compiles once (about 10 s) and then loads from its compile cache in \
             milliseconds; a call takes a few milliseconds. Everything a plugin imports must be in plugin.js \
             (or bundled into it): there is no module loader at run time.",
        ),
    };
    let usage = match kind {
        Kind::Tier2Provider => format!(
            "Put the component in the operator's plugin directory, grant the capability it declares, and select \
             it in an `ECSCluster`:\n\n```\nmkdir -p plugins && cp build/{name}.wasm plugins/\n\
             ecs-operator plugins list --plugin-dir plugins              # loaded? which contract?\n\
             ecs-operator render -f cluster.yaml --plugin-dir plugins --grant {name}=volumes:nfs\n\
             ecs-operator run --plugin-dir plugins --grant {name}=volumes:nfs\n```\n\n```yaml\nspec:\n  ecs:\n    \
             tier2:\n      plugin:\n        name: {name}\n        config: {{server: 10.0.0.2, path: /exports/ecs}}\n\
             ```\n\nIn Kubernetes the plugin directory is a volume of the operator's pod: a ConfigMap (at most \
             1 MiB: Rust plugins) or an OCI image volume (any size: Python and JavaScript plugins); see \
             `deploy/examples/plugins-from-configmap.yaml` and `plugins-from-image.yaml` in the ecs-operator \
             repository. The operator picks up new and changed files by itself."
        ),
        Kind::Reconciler => format!(
            "A reconciler runs for every cluster, in place of the built-in of its name, which the operator's \
             administrator must allow:\n\n```\nmkdir -p plugins && cp build/{name}.wasm plugins/\n\
             ecs-operator render -f cases/basic/cluster.yaml --plugin-dir plugins --allow-override {name}\n\
             ecs-operator run --plugin-dir plugins --allow-override {name}\n```\n\n\
             In Kubernetes the plugin directory is a volume of the operator's pod: a ConfigMap (at most 1 MiB: \
             Rust plugins) or an OCI image volume (any size: Python and JavaScript plugins); see \
             `deploy/examples/plugins-from-configmap.yaml` and `plugins-from-image.yaml` in the ecs-operator \
             repository."
        ),
    };
    fill(README, values)
        .replace("{{summary}}", summary)
        .replace("{{lang_name}}", lang_name)
        .replace("{{files}}", files)
        .replace("{{toolchain}}", toolchain)
        .replace("{{usage}}", &usage)
}

pub fn new_project(args: &NewArgs) -> Result<(), AuthorError> {
    let dir = &args.name;
    let project = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| AuthorError::Usage(format!("{}: give the plugin's name", dir.display())))?;
    if let Some(problem) = name_problem(project) {
        return Err(AuthorError::Usage(format!("invalid plugin name {project:?}: {problem}")));
    }
    let name = plugin_name(args.kind, project);
    if args.kind == Kind::Tier2Provider && BUILTIN_TIER2.contains(&project) {
        return Err(AuthorError::Usage(format!(
            "{project} is a built-in Tier-2 provider's name: choose another (e.g. my-{project})"
        )));
    }
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(AuthorError::Usage(format!("{} exists and is not empty", dir.display())));
    }
    let sdk_dir = match args.lang {
        Lang::Rust => Some(sdk::install(&tools_cache()?)?),
        _ => None,
    };
    let mut written = files(args.kind, args.lang, project, sdk_dir.as_deref());
    let case = Path::new(CASES_DIR).join(FIRST_CASE);
    written.push((case.join(testcases::CLUSTER_FILE), case_cluster(args.kind, &name)));
    if args.kind == Kind::Tier2Provider {
        written.push((case.join(testcases::EXPECTED_FILE), TIER2_EXPECTED.to_string()));
        written.push((case.join(testcases::EXPECTED_STATUS_FILE), TIER2_EXPECTED_STATUS.to_string()));
    }
    for (path, text) in &written {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("project files are in a directory"))
            .map_err(|e| AuthorError::io(&path, e))?;
        std::fs::write(&path, text).map_err(|e| AuthorError::io(&path, e))?;
    }
    if args.kind == Kind::Reconciler {
        record_builtin_goldens(&dir.join(&case))?;
    }
    progress(format!(
        "wrote {}/: a {} plugin {name} in {} with the recorded case {}\nnext: cd {} && ecs-operator plugin test .",
        dir.display(),
        args.kind,
        args.lang,
        case.display(),
        dir.display()
    ));
    Ok(())
}

/// Records a reconciler case's goldens as the built-in plugins render it: what the replacement must
/// render as long as it keeps the built-in's logic.
fn record_builtin_goldens(case: &Path) -> Result<(), AuthorError> {
    let runtime = Runtime::new(Limits::default(), CompileCache::default_dir())
        .map_err(|e| AuthorError::Check(format!("starting the plugin runtime: {e}")))?;
    let plugins = PluginSet::load(runtime, &LoadOptions::default())
        .map_err(|e| AuthorError::Check(format!("loading the built-in plugins: {e}")))?;
    match testcases::check_case(&plugins, case, true) {
        Verdict::Updated | Verdict::Pass => Ok(()),
        Verdict::Fail(why) => Err(AuthorError::Check(format!("recording {}: {why}", case.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tier2_case_selects_the_new_plugin() {
        let cluster = case_cluster(Kind::Tier2Provider, "my-tier2");
        assert!(cluster.contains("name: my-tier2\n"), "{cluster}");
        assert!(!cluster.contains("tier2-nfs-inline"), "{cluster}");
    }

    #[test]
    fn templates_are_filled() {
        for kind in [Kind::Tier2Provider, Kind::Reconciler] {
            for lang in [Lang::Rust, Lang::Python, Lang::Js] {
                for (path, text) in files(kind, lang, "my-plugin", Some(Path::new("/sdk"))) {
                    assert!(!text.contains("{{"), "{kind} {lang} {}: {text}", path.display());
                }
            }
        }
    }
}
