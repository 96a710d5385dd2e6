//! `ecs-operator plugin new|build|test|wit`, from zero to a tested plugin.
//!
//! Without a toolchain (in `cargo test --workspace`): the file set `plugin new` writes for each
//! language and kind, its refusals, the Python and JavaScript examples being exactly what `plugin
//! new` writes, and the contract check's messages on real components (the plugins `make plugins`
//! builds), made wrong on purpose.
//!
//! With the toolchains (ignored; `make authoring` installs them through the CLI itself): scaffold,
//! build and test in a temporary directory for Rust, Python and JavaScript, Tier-2 providers and
//! reconcilers, each test also showing that a changed plugin fails its case.
//!
//!   cargo test -p ecs-operator --test author -- --ignored --test-threads=1

use ecs_operator::author::check::{self, surface};
use ecs_operator::author::{Kind, Lang, Project, scaffold};
use ecs_operator::cli::PluginArgs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ecs-operator");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ecs-author-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the CLI in `dir`; `cache`, if given, is its tools cache.
fn cli(dir: &Path, cache: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).current_dir(dir).env_remove("CARGO_TARGET_DIR").env_remove("ECS_PLUGIN_DIR");
    if let Some(cache) = cache {
        command.env("TOOLS_CACHE", cache);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    files
}

fn wasm(file: &str) -> PathBuf {
    let path = PathBuf::from(env!("ECS_PLUGIN_WASM_DIR")).join(file);
    assert!(path.is_file(), "{} is missing: build the plugins with `make plugins`", path.display());
    path
}

fn default_plugin_args() -> PluginArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        plugins: PluginArgs,
    }
    let mut args = Wrapper::parse_from(["x"]).plugins;
    args.cache_dir = Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("author-plugin-cache"));
    args
}

fn project(name: &str, kind: Kind, lang: Lang) -> Project {
    Project { name: name.to_string(), kind, lang }
}

#[test]
fn plugin_new_writes_a_project_per_language_and_kind() {
    let dir = scratch("new");
    let cache = dir.join("cache");
    let case = ["cases/basic/cluster.yaml", "cases/basic/expected-status.yaml", "cases/basic/expected.yaml"];
    let common = [".gitignore", "README.md", "plugin.yaml"];
    let expected: [(&str, &str, &[&str]); 6] = [
        ("tier2-provider", "rust", &["Cargo.lock", "Cargo.toml", "src/lib.rs"]),
        ("tier2-provider", "python", &["app.py", "wit/plugin.wit"]),
        ("tier2-provider", "js", &["package.json", "plugin.js", "wit/plugin.wit"]),
        (
            "reconciler",
            "rust",
            &[
                "Cargo.lock",
                "Cargo.toml",
                "src/config.rs",
                "src/lib.rs",
                "src/objects.rs",
                "src/tests.rs",
                "src/validate.rs",
            ],
        ),
        ("reconciler", "python", &["app.py", "wit/plugin.wit"]),
        ("reconciler", "js", &["package.json", "plugin.js", "wit/plugin.wit"]),
    ];
    for (kind, lang, sources) in expected {
        let name = format!("my-{lang}-{}", if kind == "reconciler" { "controller" } else { "tier2" });
        let out = cli(&dir, Some(&cache), &["plugin", "new", &name, "--kind", kind, "--lang", lang]);
        assert!(out.status.success(), "{kind} {lang}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(&format!("next: cd {name} && ecs-operator plugin test .")));
        let project_dir = dir.join(&name);
        let mut want: Vec<String> =
            common.iter().chain(case.iter()).chain(sources.iter()).map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(tree(&project_dir), want, "{kind} {lang}");

        let project = Project::read(&project_dir).unwrap();
        let plugin_name = if kind == "reconciler" { "controller".to_string() } else { name.clone() };
        assert_eq!(project.name, plugin_name);
        assert_eq!(project.kind.to_string(), kind);
        assert_eq!(project.lang.to_string(), lang);
        let cluster = std::fs::read_to_string(project_dir.join("cases/basic/cluster.yaml")).unwrap();
        let expected = std::fs::read_to_string(project_dir.join("cases/basic/expected.yaml")).unwrap();
        if kind == "tier2-provider" {
            assert!(cluster.contains(&format!("name: {name}\n")), "{cluster}");
            assert!(expected.contains("nfs:\n          path: /exports/ecs"), "{expected}");
        } else {
            // Recorded from the built-in controller: what the new plugin must render too.
            assert!(expected.contains("name: example-ecs-controller"), "{expected}");
            assert!(expected.contains("-Xms1g"), "the case's JVM option reaches the goldens: {expected}");
        }
        for file in &want {
            let content = std::fs::read_to_string(project_dir.join(file)).unwrap();
            assert!(!content.contains("{{"), "{kind} {lang} {file} has an unfilled placeholder");
        }
        if lang == "rust" {
            // The SDK the project depends on was written to the tools cache, with its contract.
            let manifest = std::fs::read_to_string(project_dir.join("Cargo.toml")).unwrap();
            let line = manifest.lines().find(|l| l.starts_with("ecs-plugin-sdk = { path = ")).unwrap();
            let sdk = PathBuf::from(line.split('"').nth(1).unwrap());
            assert!(sdk.starts_with(&cache), "{line}");
            assert!(sdk.join("src/lib.rs").is_file() && sdk.join("../../wit/plugin.wit").is_file(), "{line}");
            assert!(manifest.contains(&format!("name = \"{name}\"")), "{manifest}");
        } else {
            let wit = std::fs::read_to_string(project_dir.join("wit/plugin.wit")).unwrap();
            assert_eq!(wit, std::fs::read_to_string(Path::new(ROOT).join("wit/plugin.wit")).unwrap());
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plugin_new_refuses_bad_names_builtin_names_and_a_used_directory() {
    let dir = scratch("new-refusals");
    let refused = |args: &[&str], why: &str| {
        let out = cli(&dir, Some(&dir.join("cache")), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(text(&out.stderr).contains(why), "{args:?}: {}", text(&out.stderr));
    };
    refused(&["plugin", "new", "My_Plugin", "--lang", "python"], "invalid plugin name \"My_Plugin\"");
    refused(&["plugin", "new", "9lives", "--lang", "js"], "must start with a letter");
    refused(&["plugin", "new", "tier2-nfs", "--lang", "js"], "tier2-nfs is a built-in Tier-2 provider's name");
    std::fs::create_dir_all(dir.join("taken")).unwrap();
    std::fs::write(dir.join("taken/keep.txt"), "mine").unwrap();
    refused(&["plugin", "new", "taken", "--lang", "python"], "taken exists and is not empty");
    assert_eq!(tree(&dir.join("taken")), ["keep.txt"]);
    let out = cli(&dir, None, &["plugin", "build", "."]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a plugin project: no plugin.yaml"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plugin_wit_prints_the_contract() {
    let out = cli(Path::new(ROOT), None, &["plugin", "wit"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), std::fs::read_to_string(Path::new(ROOT).join("wit/plugin.wit")).unwrap());
}

/// The examples are `plugin new`'s output for their names: the templates and the examples (which
/// `make polyglot` builds and tests against the Rust example's goldens) cannot drift apart.
#[test]
fn the_python_and_javascript_examples_are_what_plugin_new_writes() {
    for (lang, name) in [(Lang::Python, "tier2-nfs-inline-python"), (Lang::Js, "tier2-nfs-inline-js")] {
        let example = Path::new(ROOT).join("plugins/examples").join(name);
        for (path, content) in scaffold::files(Kind::Tier2Provider, lang, name, None) {
            if path == Path::new("README.md") || path == Path::new(".gitignore") {
                continue; // the examples have their own README; the repository's .gitignore applies
            }
            let actual = std::fs::read_to_string(example.join(&path))
                .unwrap_or_else(|e| panic!("{}: {e}", example.join(&path).display()));
            assert_eq!(actual, content, "{} differs from what plugin new writes", example.join(&path).display());
        }
        for case in ["basic", "invalid-config"] {
            let rust = Path::new(ROOT).join("plugins/examples/tier2-nfs-inline/cases").join(case);
            let mine = example.join("cases").join(case);
            let cluster = std::fs::read_to_string(mine.join("cluster.yaml")).unwrap();
            let rust_cluster = std::fs::read_to_string(rust.join("cluster.yaml")).unwrap();
            assert_eq!(cluster, rust_cluster.replace("name: tier2-nfs-inline\n", &format!("name: {name}\n")));
            if case == "basic" {
                assert_eq!(cluster, scaffold::case_cluster(Kind::Tier2Provider, name));
            }
            // The goldens are the Rust example's own files.
            for golden in tree(&rust).into_iter().filter(|f| f != "cluster.yaml") {
                assert_eq!(
                    std::fs::canonicalize(mine.join(&golden)).unwrap(),
                    std::fs::canonicalize(rust.join(&golden)).unwrap(),
                    "{name} {case} {golden}"
                );
            }
        }
    }
}

#[test]
fn the_check_names_a_core_module_and_a_wrong_world() {
    let dir = scratch("check-world");
    let module = dir.join("module.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0").unwrap();
    let tier2 = project("my-tier2", Kind::Tier2Provider, Lang::Rust);
    let e = check::check(&tier2, &module, &default_plugin_args()).unwrap_err().to_string();
    assert!(e.contains("a core WebAssembly module, not a component (build it with --target wasm32-wasip2"), "{e}");

    // A reconciler (the built-in controller) where the project says Tier-2 provider, and back.
    let controller = wasm("ecs_plugin_controller.wasm");
    let e = check::check(&tier2, &controller, &default_plugin_args()).unwrap_err().to_string();
    assert!(
        e.contains(
            "exports the reconciler world (describe, validate, reconcile), but plugin.yaml says kind tier2-provider"
        ),
        "{e}"
    );
    let nfs_inline = wasm("ecs_plugin_tier2_nfs_inline.wasm");
    let reconciler = project("controller", Kind::Reconciler, Lang::Python);
    let e = check::check(&reconciler, &nfs_inline, &default_plugin_args()).unwrap_err().to_string();
    assert!(e.contains("exports the tier2-provider world (describe, validate, provide)"), "{e}");
    assert!(e.contains("set `kind: tier2-provider` in plugin.yaml"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_check_names_a_wrong_contract_version_with_the_fix() {
    let dir = scratch("check-contract");
    // The example provider as if built against ecs:plugin@0.9.0: its import names say so.
    let bytes = std::fs::read(wasm("ecs_plugin_tier2_nfs_inline.wasm")).unwrap();
    let (from, to) = (b"ecs:plugin/types@0.2.0".as_slice(), b"ecs:plugin/types@0.9.0".as_slice());
    let mut patched = bytes.clone();
    let mut replaced = 0;
    for i in 0..patched.len().saturating_sub(from.len()) {
        if &patched[i..i + from.len()] == from {
            patched[i..i + to.len()].copy_from_slice(to);
            replaced += 1;
        }
    }
    assert!(replaced > 0, "the example imports ecs:plugin/types@0.2.0");
    let component = dir.join("old.wasm");
    std::fs::write(&component, &patched).unwrap();
    assert!(surface(&patched).unwrap().imports.iter().any(|i| i == "ecs:plugin/types@0.9.0"));

    let python = project("tier2-nfs-inline", Kind::Tier2Provider, Lang::Python);
    let e = check::check(&python, &component, &default_plugin_args()).unwrap_err().to_string();
    assert!(
        e.contains("was built against the plugin contract ecs:plugin@0.9.0 (it imports ecs:plugin/types@0.9.0); this ecs-operator implements ecs:plugin@0.2.0"),
        "{e}"
    );
    assert!(e.contains("ecs-operator plugin wit > wit/plugin.wit"), "{e}");
    let rust = project("tier2-nfs-inline", Kind::Tier2Provider, Lang::Rust);
    let e = check::check(&rust, &component, &default_plugin_args()).unwrap_err().to_string();
    assert!(e.contains("rebuild it with `ecs-operator plugin build`"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_check_loads_the_component_as_the_operator_would() {
    let nfs_inline = wasm("ecs_plugin_tier2_nfs_inline.wasm");
    let good = project("tier2-nfs-inline", Kind::Tier2Provider, Lang::Rust);
    let info = check::check(&good, &nfs_inline, &default_plugin_args()).unwrap();
    assert_eq!((info.name.as_str(), info.contract.as_str()), ("tier2-nfs-inline", "0.2.0"));
    assert_eq!(info.capabilities, ["volumes:nfs"]);
    // describe() and plugin.yaml must agree on the name.
    let renamed = project("my-nfs", Kind::Tier2Provider, Lang::Rust);
    let e = check::check(&renamed, &nfs_inline, &default_plugin_args()).unwrap_err().to_string();
    assert!(e.contains("describe() says its name is \"tier2-nfs-inline\", but plugin.yaml says \"my-nfs\""), "{e}");
}

// ---- With the toolchains: scaffold -> build -> test, in each language. ----

/// `plugin new`, `plugin build`, `plugin test` in a scratch directory; then `change` applied to
/// `source` must make the case fail with `shown` in its diff, so the passing run was no accident.
/// Returns the project's directory.
fn scaffold_build_test(kind: &str, lang: &str, source: &str, change: (&str, &str), shown: &str) -> PathBuf {
    let dir = scratch(&format!("e2e-{kind}-{lang}"));
    let name = format!("e2e-{lang}-{kind}");
    let new = cli(&dir, None, &["plugin", "new", &name, "--kind", kind, "--lang", lang]);
    assert!(new.status.success(), "plugin new: {}", text(&new.stderr));
    let project = dir.join(&name);

    let build = cli(&project, None, &["plugin", "build", "."]);
    let stderr = text(&build.stderr);
    assert!(build.status.success(), "plugin build:\n{stderr}");
    let plugin = if kind == "reconciler" { "controller".to_string() } else { name.clone() };
    let path = text(&build.stdout).lines().last().unwrap_or_default().to_string();
    assert_eq!(Path::new(&path), std::fs::canonicalize(project.join(format!("build/{plugin}.wasm"))).unwrap());
    assert!(stderr.contains(&format!("checked: {plugin} 0.1.0 is a {kind} of contract 0.2.0")), "{stderr}");

    let test = cli(&project, None, &["plugin", "test", "."]);
    let (stdout, stderr) = (text(&test.stdout), text(&test.stderr));
    assert!(test.status.success(), "plugin test:\n{stdout}\n{stderr}");
    assert!(stdout.contains("PASS ") && stdout.ends_with("1 passed, 0 failed\n"), "{stdout}");
    if kind == "tier2-provider" {
        assert!(stderr.contains(&format!("granted volumes:nfs to {name} for the test")), "{stderr}");
    }

    // A plugin that renders something else fails its case, with a diff.
    edit(&project.join(source), change);
    let test = cli(&project, None, &["plugin", "test", "."]);
    let stdout = text(&test.stdout);
    assert_eq!(test.status.code(), Some(1), "{stdout}\n{}", text(&test.stderr));
    assert!(stdout.contains("FAIL ") && stdout.contains(shown), "{stdout}");
    assert!(stdout.ends_with("0 passed, 1 failed\n"), "{stdout}");
    project
}

fn edit(file: &Path, (from, to): (&str, &str)) {
    let code = std::fs::read_to_string(file).unwrap();
    assert!(code.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(file, code.replacen(from, to, 1)).unwrap();
}

fn remove_scratch(project: &Path) {
    std::fs::remove_dir_all(project.parent().unwrap()).unwrap();
}

#[test]
#[ignore = "installs the Rust target wasm32-wasip2 and compiles the SDK: make authoring"]
fn rust_tier2_provider_from_zero_to_tested() {
    let change = ("read_only: Some(config.read_only)", "read_only: Some(true)");
    remove_scratch(&scaffold_build_test("tier2-provider", "rust", "src/lib.rs", change, "+          readOnly: true"));
}

#[test]
#[ignore = "installs componentize-py from PyPI: make authoring"]
fn python_tier2_provider_from_zero_to_tested() {
    let change = ("MOUNT_PATH = \"/mnt/tier2\"", "MOUNT_PATH = \"/mnt/tier2b\"");
    let project = scaffold_build_test("tier2-provider", "python", "app.py", change, "+  NFS_MOUNT: /mnt/tier2b");
    // A plugin that states another contract version is refused by the build's check, saying what to do.
    edit(&project.join("app.py"), ("CONTRACT = \"0.2.0\"", "CONTRACT = \"0.1.0\""));
    let build = cli(&project, None, &["plugin", "build", "."]);
    let stderr = text(&build.stderr);
    assert_eq!(build.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("built against plugin contract 0.1.0; this host implements 0.2.0"), "{stderr}");
    assert!(stderr.contains("ecs-operator plugin wit > wit/plugin.wit"), "{stderr}");
    remove_scratch(&project);
}

#[test]
#[ignore = "installs componentize-js from npm: make authoring"]
fn javascript_tier2_provider_from_zero_to_tested() {
    let change = ("const MOUNT_PATH = '/mnt/tier2';", "const MOUNT_PATH = '/mnt/tier2b';");
    remove_scratch(&scaffold_build_test("tier2-provider", "js", "plugin.js", change, "+  NFS_MOUNT: /mnt/tier2b"));
}

/// The JVM default the built-in controller ships, which a reconciler scaffold starts with.
const RAM_DEFAULT: &str = "-XX:MaxRAMPercentage=50.0";
const RAM_CHANGED: &str = "-XX:MaxRAMPercentage=40.0";

#[test]
#[ignore = "installs the Rust target wasm32-wasip2 and compiles the SDK: make authoring"]
fn rust_reconciler_from_zero_to_tested() {
    let project = scaffold_build_test("reconciler", "rust", "src/config.rs", (RAM_DEFAULT, RAM_CHANGED), RAM_CHANGED);
    remove_scratch(&project);
}

#[test]
#[ignore = "installs componentize-py from PyPI: make authoring"]
fn python_reconciler_from_zero_to_tested() {
    remove_scratch(&scaffold_build_test("reconciler", "python", "app.py", (RAM_DEFAULT, RAM_CHANGED), RAM_CHANGED));
}

#[test]
#[ignore = "installs componentize-js from npm: make authoring"]
fn javascript_reconciler_from_zero_to_tested() {
    remove_scratch(&scaffold_build_test("reconciler", "js", "plugin.js", (RAM_DEFAULT, RAM_CHANGED), RAM_CHANGED));
}
