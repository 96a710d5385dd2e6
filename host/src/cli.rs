//! The `ecs-operator` command line: thin handlers over the library.

use crate::controller::admin;
use crate::output::{self, Format};
use crate::pipeline::{self, RenderError, load};
use crate::plugins::{FileFailure, Grants, LoadOptions, PluginSet, Report};
use crate::runtime::{CallObserver, CompileCache, Limits, Runtime};
use crate::testcases::{self, Verdict};
use crate::{controller, crd, record, telemetry};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Exit codes: 0 success, 1 usage/IO/test failure, 2 invalid spec, 3 plugin fault or policy violation.
pub mod exit {
    pub const FAILURE: u8 = 1;
    pub const INVALID_SPEC: u8 = 2;
    pub const PLUGIN_FAULT: u8 = 3;
}

#[derive(Parser, Debug)]
#[command(
    name = "ecs-operator",
    version,
    about = "Kubernetes operator for ECS clusters, with sandboxed WebAssembly plugins"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text", env = "ECS_LOG_FORMAT")]
    pub log_format: telemetry::LogFormat,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print every object the operator would apply for an ECSCluster, computed offline by the plugins.
    Render(RenderArgs),
    /// Check an ECSCluster manifest as admission and the plugins would; print one line per problem.
    Validate(ValidateArgs),
    /// Print the ECSCluster CustomResourceDefinition.
    Crd,
    /// Inspect the loaded plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Run recorded-spec cases (cluster.yaml [+ observed.yaml] -> expected.yaml | expected-error.txt).
    Test(TestArgs),
    /// Run the operator: watch ECSClusters and keep their objects as the plugins render them.
    Run(RunArgs),
    /// Capture a live ECSCluster and its objects as a recorded-spec case for `test`.
    Record(RecordArgs),
    /// Write a plugin of your own, in Rust, Python or JavaScript: `new`, `build`, `test`, `wit`.
    Plugin {
        #[command(subcommand)]
        command: crate::author::PluginCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum PluginsCommand {
    /// Name, kind, version, contract, sha256, source, capabilities, load time, calls and faults of
    /// every plugin: loaded here, or in service in a running operator (`--operator`).
    List(PluginsListArgs),
}

#[derive(Args, Debug)]
pub struct PluginsListArgs {
    /// A running operator's admin address (e.g. `http://127.0.0.1:8081`, its `--admin-listen`):
    /// list the plugins it has in service, with their calls and faults.
    #[arg(long, value_name = "URL")]
    pub operator: Option<String>,
    /// Print the report as JSON, as the admin endpoint serves it.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

#[derive(Args, Debug, Clone)]
pub struct PluginArgs {
    /// Directory of extra plugins (`*.wasm`); a plugin named like a built-in replaces it.
    #[arg(long, env = "ECS_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Grant a capability to a plugin, e.g. `my-tier2=emits:PersistentVolume` (repeatable).
    #[arg(long = "grant", value_name = "PLUGIN=CAPABILITY", value_parser = parse_grant)]
    pub grants: Vec<(String, String)>,
    /// Pinning manifest (YAML `plugin-name: <sha256>`): with it, a plugin file runs only if its
    /// digest is pinned, for the name it gives itself.
    #[arg(long, value_name = "FILE", env = "ECS_PLUGIN_PINS")]
    pub plugin_pins: Option<PathBuf>,
    /// Let a plugin file replace the built-in plugin of this name (repeatable; comma-separated in
    /// the environment variable).
    #[arg(long = "allow-override", value_name = "NAME", env = "ECS_ALLOW_OVERRIDE", value_delimiter = ',')]
    pub allow_override: Vec<String>,
    /// Wall-clock limit of one plugin call, in milliseconds.
    #[arg(long, default_value_t = 1000, env = "ECS_PLUGIN_TIMEOUT_MS")]
    pub plugin_timeout_ms: u64,
    /// Memory limit of one plugin call, in MiB.
    #[arg(long, default_value_t = 64, env = "ECS_PLUGIN_MEMORY_MIB")]
    pub plugin_memory_mib: usize,
    /// Output limit of one plugin call, in KiB.
    #[arg(long, default_value_t = 4096, env = "ECS_PLUGIN_OUTPUT_KIB")]
    pub plugin_output_kib: usize,
    /// Compiled-plugin cache directory (default: $XDG_CACHE_HOME/ecs-operator/plugins).
    #[arg(long, env = "ECS_OPERATOR_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile plugins on every start instead of using the cache.
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// The ECSCluster manifest (YAML or JSON; `-` for stdin).
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
    /// Live objects (e.g. `kubectl get -o yaml` output) the plugins see as observed state.
    #[arg(long)]
    pub observed: Option<PathBuf>,
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    pub format: Format,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
    /// Check the manifest as an update of this stored object (e.g. `kubectl get -o yaml`, with its
    /// status): the version rules (no downgrade except back to status.previousVersion, no change
    /// during an upgrade) apply.
    #[arg(long = "old")]
    pub old: Option<PathBuf>,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// Case directories, or folders of them (default: tests/cases).
    pub cases: Vec<PathBuf>,
    /// Rewrite the golden files with what is rendered now.
    #[arg(long)]
    pub update: bool,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Kubeconfig to use (default: in-cluster, then $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace whose ECSClusters to manage; empty for all (default: $WATCH_NAMESPACE if set, even
    /// empty, else the operator's own namespace).
    #[arg(long)]
    pub watch_namespace: Option<String>,
    /// Take the `ecs-operator-leader` Lease before writing (needed with more than one replica).
    #[arg(long, env = "ECS_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Identity in the Lease (default: $POD_NAME, else host name and process id).
    #[arg(long)]
    pub identity: Option<String>,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, default_value = "0.0.0.0:8080", env = "ECS_LISTEN")]
    pub listen: std::net::SocketAddr,
    /// Address of the admin endpoint (`/plugins`, read by `plugins list --operator`); `off` for none.
    /// Loopback by default: it names every plugin file and digest.
    #[arg(long, default_value = "127.0.0.1:8081", env = "ECS_ADMIN_LISTEN", value_parser = parse_admin_listen)]
    pub admin_listen: AdminListen,
    /// How often to look for new or changed plugin files, in seconds; 0: load them at start only.
    #[arg(long, default_value_t = 2, env = "ECS_PLUGIN_POLL_SECONDS")]
    pub plugin_poll_seconds: u64,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The ECSCluster's name.
    #[arg(long)]
    pub name: String,
    /// Its namespace (default: the kubeconfig's).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Case directory to write (cluster.yaml, observed.yaml and the goldens).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

/// `--admin-listen`: an address, or `off`.
#[derive(Clone, Copy, Debug)]
pub struct AdminListen(pub Option<std::net::SocketAddr>);

fn parse_admin_listen(s: &str) -> Result<AdminListen, String> {
    if s == "off" {
        return Ok(AdminListen(None));
    }
    s.parse().map(|a| AdminListen(Some(a))).map_err(|e| format!("expected an address like 127.0.0.1:8081, or off: {e}"))
}

fn parse_grant(s: &str) -> Result<(String, String), String> {
    let (plugin, cap) = s.split_once('=').ok_or("expected PLUGIN=CAPABILITY")?;
    if plugin.is_empty() || cap.is_empty() {
        return Err("expected PLUGIN=CAPABILITY".into());
    }
    Ok((plugin.to_string(), cap.to_string()))
}

impl PluginArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            deadline: Duration::from_millis(self.plugin_timeout_ms),
            memory_bytes: self.plugin_memory_mib << 20,
            output_bytes: self.plugin_output_kib << 10,
            ..Limits::default()
        }
    }

    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            plugin_dir: self.plugin_dir.clone(),
            grants: Grants::new(self.grants.clone()),
            pins: self.plugin_pins.clone(),
            allow_override: self.allow_override.iter().cloned().collect(),
        }
    }

    fn runtime(&self, observer: Option<CallObserver>) -> Result<Runtime, Failure> {
        let cache = if self.no_cache { None } else { self.cache_dir.clone().or_else(CompileCache::default_dir) };
        let mut runtime = Runtime::new(self.limits(), cache).map_err(|e| Failure::plugin(e.to_string()))?;
        if let Some(observer) = observer {
            runtime.observe_calls(observer);
        }
        Ok(runtime)
    }

    /// Loads the built-in and `--plugin-dir` plugins; any file that does not load is an error.
    pub fn load(&self) -> Result<PluginSet, Failure> {
        PluginSet::load(self.runtime(None)?, &self.options()).map_err(|e| Failure::plugin(e.to_string()))
    }

    /// Loads the plugins for the operator, reporting every call to `observer`: a plugin file that
    /// does not load is left out and reported, the rest goes into service.
    pub fn load_for_operator(&self, observer: CallObserver) -> Result<(PluginSet, Vec<FileFailure>), Failure> {
        PluginSet::load_tolerant(self.runtime(Some(observer))?, &self.options())
            .map_err(|e| Failure::plugin(e.to_string()))
    }
}

/// A failed command: its exit code and what to print on stderr.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Failure { code, message: message.into() }
    }
    fn plugin(message: impl Into<String>) -> Self {
        Failure::new(exit::PLUGIN_FAULT, message)
    }
    fn invalid(errors: &[ecs_plugin_sdk::FieldError]) -> Self {
        Failure::new(exit::INVALID_SPEC, testcases::field_error_lines(errors))
    }
}

impl From<RenderError> for Failure {
    fn from(e: RenderError) -> Self {
        let code = match e {
            RenderError::Invalid(_) => exit::INVALID_SPEC,
            RenderError::Plugin(_) | RenderError::Policy(_) => exit::PLUGIN_FAULT,
        };
        Failure::new(code, testcases::error_text(&e))
    }
}

fn read_input(path: &Path) -> Result<String, Failure> {
    let result =
        if path == Path::new("-") { std::io::read_to_string(std::io::stdin()) } else { std::fs::read_to_string(path) };
    result.map_err(|e| Failure::new(exit::FAILURE, format!("reading {}: {e}", path.display())))
}

fn print(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush()) {
        // A closed pipe (`| head`) is not an error of ours.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::new(exit::FAILURE, e.to_string())),
        _ => Ok(()),
    }
}

fn admitted_cluster(path: &Path) -> Result<ecs_plugin_sdk::Cluster, Failure> {
    admitted_update(None, path)
}

/// The manifest at `path`, admitted as a create or as an update of the object at `old`.
fn admitted_update(old: Option<&Path>, path: &Path) -> Result<ecs_plugin_sdk::Cluster, Failure> {
    let document = |path: &Path| -> Result<serde_json::Value, Failure> {
        load::cluster_document(&read_input(path)?).map_err(|e| Failure::invalid(&e))
    };
    let raw = document(path)?;
    let cr = match old {
        Some(old) => load::admit_update(&document(old)?, &raw),
        None => load::admit(&raw),
    }
    .map_err(|e| Failure::invalid(&e))?;
    Ok(load::plugin_cluster(&cr))
}

pub fn render(args: &RenderArgs) -> Result<(), Failure> {
    let cluster = admitted_cluster(&args.file)?;
    let observed = match &args.observed {
        Some(path) => load::documents(&read_input(path)?)
            .map_err(|e| Failure::new(exit::FAILURE, format!("{}: {e}", path.display())))?,
        None => Vec::new(),
    };
    let plugins = args.plugins.load()?;
    let versions = pipeline::target_versions(&cluster);
    let rendered = pipeline::render(&plugins, &cluster, &observed, &versions)?;
    // Warnings (e.g. a bookie scale-down keeping its claims) are shown by default, like kubectl's.
    for e in &rendered.events {
        match e.event.type_ {
            ecs_plugin_sdk::EventType::Warning => {
                tracing::warn!(plugin = %e.plugin, reason = %e.event.reason, "{}", e.event.message)
            }
            ecs_plugin_sdk::EventType::Normal => {
                tracing::info!(plugin = %e.plugin, reason = %e.event.reason, "{}", e.event.message)
            }
        }
    }
    print(&output::render(&rendered.objects, args.format))
}

pub fn validate(args: &ValidateArgs) -> Result<(), Failure> {
    let cluster = admitted_update(args.old.as_deref(), &args.file)?;
    let plugins = args.plugins.load()?;
    let errors = pipeline::validate(&plugins, &cluster)?;
    if !errors.is_empty() {
        return Err(Failure::invalid(&errors));
    }
    print(&format!("{}/{}: valid\n", cluster.namespace, cluster.name))
}

pub fn plugins_list(args: &PluginsListArgs) -> Result<(), Failure> {
    let report: Report = match &args.operator {
        Some(url) => {
            let body = tokio_runtime()?
                .block_on(admin::get(url, "/plugins"))
                .map_err(|e| Failure::new(exit::FAILURE, format!("{e:#}")))?;
            serde_json::from_str(&body).map_err(|e| {
                Failure::new(exit::FAILURE, format!("{url}/plugins did not answer with a plugin report: {e}"))
            })?
        }
        None => args.plugins.load()?.report(),
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
        print(&(text + "\n"))
    } else {
        print(&report.table())
    }
}

pub fn test(args: &TestArgs) -> Result<(), Failure> {
    let paths = if args.cases.is_empty() { vec![PathBuf::from("tests/cases")] } else { args.cases.clone() };
    let cases = testcases::discover(&paths).map_err(|e| Failure::new(exit::FAILURE, e))?;
    let plugins = args.plugins.load()?;
    let (mut passed, mut failed, mut updated) = (0, 0, 0);
    let mut report = String::new();
    for case in &cases {
        match testcases::check_case(&plugins, case, args.update) {
            Verdict::Pass => {
                passed += 1;
                report.push_str(&format!("PASS {}\n", case.display()));
            }
            Verdict::Updated => {
                updated += 1;
                report.push_str(&format!("UPDATED {}\n", case.display()));
            }
            Verdict::Fail(why) => {
                failed += 1;
                report.push_str(&format!("FAIL {}\n{why}\n", case.display()));
            }
        }
    }
    let summary = if args.update {
        format!("{updated} updated, {failed} failed\n")
    } else {
        format!("{passed} passed, {failed} failed\n")
    };
    print(&(report + &summary))?;
    if failed > 0 { Err(Failure::new(exit::FAILURE, format!("{failed} case(s) failed"))) } else { Ok(()) }
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::FAILURE, format!("starting the async runtime: {e}")))
}

pub fn operator(args: &RunArgs) -> Result<(), Failure> {
    let options = controller::Options {
        kubeconfig: args.kubeconfig.clone(),
        // Read by hand: clap treats an empty variable as unset, but empty means "all namespaces".
        watch_namespace: args.watch_namespace.clone().or_else(|| std::env::var("WATCH_NAMESPACE").ok()),
        leader_election: args.leader_election,
        identity: args.identity.clone(),
        listen: args.listen,
        admin_listen: args.admin_listen.0,
        plugin_poll: (args.plugin_poll_seconds > 0).then(|| Duration::from_secs(args.plugin_poll_seconds)),
    };
    let plugin_args = args.plugins.clone();
    let load = move |metrics: std::sync::Arc<controller::metrics::Metrics>| {
        let observer: CallObserver = Box::new(move |plugin, _op, took| metrics.plugin_called(plugin, took));
        plugin_args.load_for_operator(observer).map_err(|f| anyhow::anyhow!(f.message))
    };
    tokio_runtime()?.block_on(controller::run(options, load)).map_err(|e| Failure::new(exit::FAILURE, format!("{e:#}")))
}

pub fn record(args: &RecordArgs) -> Result<(), Failure> {
    let plugins = args.plugins.load()?;
    let written = tokio_runtime()?
        .block_on(record::record(args.kubeconfig.as_deref(), &args.name, args.namespace.as_deref(), &args.out))
        .map_err(|e| Failure::new(exit::FAILURE, format!("{e:#}")))?;
    let verdict = testcases::check_case(&plugins, &args.out, true);
    if let Verdict::Fail(why) = verdict {
        return Err(Failure::new(exit::FAILURE, why));
    }
    print(&format!("recorded {written} into {}\n", args.out.display()))
}

pub fn run(cli: Cli) -> ExitCode {
    telemetry::init(cli.log_format);
    let result = match &cli.command {
        Command::Render(args) => render(args),
        Command::Validate(args) => validate(args),
        Command::Crd => print(&crd::crd_yaml()),
        Command::Plugins { command: PluginsCommand::List(args) } => plugins_list(args),
        Command::Test(args) => test(args),
        Command::Run(args) => operator(args),
        Command::Record(args) => record(args),
        Command::Plugin { command } => crate::author::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprint!("{}", failure.message);
            if !failure.message.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(failure.code)
        }
    }
}
