//! The sandboxed plugin runtime: one wasmtime [`Engine`] with the component model and epoch
//! interruption, each plugin compiled once (and cached on disk) into an `InstancePre`, and a fresh
//! `Store` per call with a deadline, a memory cap, an output cap and bounded logging.
//!
//! Plugins get a WASI context with nothing in it: no preopened directories, no environment, no
//! network, a clock frozen at the Unix epoch and a fixed random stream, so a call's output depends
//! on its input only.

pub mod bindings;
mod cache;
mod convert;
mod errors;
mod limits;
mod stderr;

pub use cache::CompileCache;
pub use errors::{Fault, LoadError, PluginCallError};
pub use limits::{Limits, MemoryLimitExceeded};

use bindings::logging;
use bindings::reconciler::ReconcilerPre;
use bindings::tier2::Tier2ProviderPre;
use ecs_plugin_sdk::{self as sdk, CONTRACT_VERSION, PluginKind};
use limits::MemoryLimiter;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use stderr::BoundedStderr;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// How often the epoch advances; deadlines are whole ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Where a plugin came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginSource {
    /// Embedded in the operator binary.
    Builtin(String),
    /// Loaded from a `--plugin-dir` file.
    File(std::path::PathBuf),
}

impl PluginSource {
    pub fn is_builtin(&self) -> bool {
        matches!(self, PluginSource::Builtin(_))
    }
}

impl fmt::Display for PluginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginSource::Builtin(file) => write!(f, "builtin:{file}"),
            PluginSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

enum WorldPre {
    Reconciler(ReconcilerPre<CallState>),
    Tier2(Tier2ProviderPre<CallState>),
}

/// A loaded, ready-to-instantiate plugin.
pub struct Plugin {
    pub info: sdk::PluginInfo,
    pub source: PluginSource,
    pub sha256: String,
    pre: WorldPre,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin").field("info", &self.info).field("source", &self.source).finish()
    }
}

/// Per-call state: an empty WASI context, the memory limiter and the log budget.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    plugin: Arc<str>,
    logs_left: usize,
    logs_dropped: usize,
    log_line_bytes: usize,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl logging::Host for CallState {
    fn log(&mut self, level: logging::Level, mut message: String) {
        if self.logs_left == 0 {
            self.logs_dropped += 1;
            return;
        }
        self.logs_left -= 1;
        if message.len() > self.log_line_bytes {
            let mut end = self.log_line_bytes;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push('…');
        }
        let plugin = &*self.plugin;
        match level {
            logging::Level::Trace => tracing::trace!(plugin, "{message}"),
            logging::Level::Debug => tracing::debug!(plugin, "{message}"),
            logging::Level::Info => tracing::info!(plugin, "{message}"),
            logging::Level::Warn => tracing::warn!(plugin, "{message}"),
            logging::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Advances the engine's epoch on a background thread; stops when dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("wasm-epoch".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })?;
        Ok(EpochTicker { stop, thread: Some(thread) })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Told the plugin name, export and duration of every plugin call.
pub type CallObserver = Box<dyn Fn(&str, &'static str, Duration) + Send + Sync>;

/// The plugin runtime. Cheap to share by reference across threads.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    limits: Limits,
    cache: Option<CompileCache>,
    observer: Option<CallObserver>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// A runtime with the given limits; `cache_dir` enables the compiled-plugin cache.
    pub fn new(limits: Limits, cache_dir: Option<std::path::PathBuf>) -> Result<Self, LoadError> {
        let engine_err = |e: wasmtime::Error| LoadError::Engine(format!("{e:#}"));
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // A fresh instance per call is cheap only if its memory comes from a warm pool.
        let n = limits.concurrent_calls.max(1);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(4))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(4))
            .max_memory_size(limits.memory_bytes)
            .table_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(engine_err)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_err)?;
        logging::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s).map_err(engine_err)?;
        let ticker = EpochTicker::start(engine.clone()).map_err(|e| LoadError::Engine(e.to_string()))?;
        let cache = cache_dir.map(|dir| CompileCache::new(dir, &engine));
        Ok(Runtime { engine, linker, limits, cache, observer: None, _ticker: ticker })
    }

    /// Reports every call to `observer` (the operator feeds its metrics this way).
    pub fn observe_calls(&mut self, observer: CallObserver) {
        self.observer = Some(observer);
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles (or loads from the cache) and checks a plugin: it must export one of the two worlds,
    /// implement this host's contract, and describe itself consistently.
    pub fn load(&self, source: PluginSource, wasm: &[u8], sha256: Option<&str>) -> Result<Plugin, LoadError> {
        let origin = source.to_string();
        let sha256 = sha256.map(str::to_string).unwrap_or_else(|| hex(&Sha256::digest(wasm)));
        let component = self.compile(&origin, wasm, &sha256)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Compile { origin: origin.clone(), message: format!("{e:#}") })?;
        let pre = match ReconcilerPre::new(instance_pre.clone()) {
            Ok(pre) => WorldPre::Reconciler(pre),
            Err(reconciler_err) => match Tier2ProviderPre::new(instance_pre) {
                Ok(pre) => WorldPre::Tier2(pre),
                Err(tier2_err) => {
                    return Err(LoadError::WrongWorld {
                        origin,
                        contract: CONTRACT_VERSION,
                        message: format!("as a reconciler: {reconciler_err:#}; as a tier2-provider: {tier2_err:#}"),
                    });
                }
            },
        };
        let mut plugin = Plugin {
            info: sdk::PluginInfo {
                name: origin.clone(),
                version: String::new(),
                kind: PluginKind::Reconciler,
                contract: String::new(),
                component: String::new(),
                capabilities: Vec::new(),
            },
            source,
            sha256,
            pre,
        };
        let info = self.describe(&plugin).map_err(|source| LoadError::Describe { origin: origin.clone(), source })?;
        let world = match plugin.pre {
            WorldPre::Reconciler(_) => ("reconciler", PluginKind::Reconciler),
            WorldPre::Tier2(_) => ("tier2-provider", PluginKind::Tier2Provider),
        };
        if info.kind != world.1 {
            return Err(LoadError::KindMismatch { origin, said: format!("{:?}", info.kind), world: world.0 });
        }
        if !contract_compatible(&info.contract) {
            return Err(LoadError::Contract { origin, found: info.contract, expected: CONTRACT_VERSION });
        }
        if !valid_plugin_name(&info.name) {
            return Err(LoadError::BadName { origin, name: info.name });
        }
        plugin.info = info;
        Ok(plugin)
    }

    fn compile(&self, origin: &str, wasm: &[u8], sha256: &str) -> Result<Component, LoadError> {
        if let Some(component) = self.cache.as_ref().and_then(|c| c.load(&self.engine, sha256)) {
            return Ok(component);
        }
        let started = Instant::now();
        let component = Component::new(&self.engine, wasm)
            .map_err(|e| LoadError::Compile { origin: origin.to_string(), message: format!("{e:#}") })?;
        tracing::debug!(plugin = origin, elapsed_ms = started.elapsed().as_millis() as u64, "compiled plugin");
        if let Some(cache) = &self.cache {
            cache.store(sha256, &component);
        }
        Ok(component)
    }

    fn new_store(&self, plugin: &Plugin) -> (Store<CallState>, BoundedStderr) {
        let stderr = BoundedStderr::new(self.limits.stderr_bytes);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(wasmtime_wasi::Deterministic::new(vec![0x5e, 0xed]))
            .insecure_random(wasmtime_wasi::Deterministic::new(vec![0x5e, 0xed]))
            .insecure_random_seed(0)
            .build();
        let state = CallState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter { cap: self.limits.memory_bytes },
            plugin: Arc::from(plugin.info.name.as_str()),
            logs_left: self.limits.log_lines,
            logs_dropped: 0,
            log_line_bytes: self.limits.log_line_bytes,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        let ticks = self.limits.deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1) as u64;
        // +1: the current tick may be almost over when the call starts.
        store.set_epoch_deadline(ticks + 1);
        store.epoch_deadline_trap();
        (store, stderr)
    }

    /// Runs one export on a fresh instance and maps every failure to a [`PluginCallError`].
    fn call<R>(
        &self,
        plugin: &Plugin,
        op: &'static str,
        f: impl FnOnce(&mut Store<CallState>, &WorldPre) -> wasmtime::Result<R>,
    ) -> Result<R, PluginCallError> {
        let span = tracing::debug_span!("plugin_call", plugin = %plugin.info.name, op);
        let _enter = span.enter();
        let started = Instant::now();
        let (mut store, stderr) = self.new_store(plugin);
        let result = f(&mut store, &plugin.pre);
        let state = store.data();
        if state.logs_dropped > 0 {
            tracing::warn!(dropped = state.logs_dropped, "plugin exceeded its log budget");
        }
        let elapsed = started.elapsed();
        tracing::debug!(elapsed_us = elapsed.as_micros() as u64, ok = result.is_ok(), "plugin call");
        if let Some(observe) = &self.observer {
            observe(&plugin.info.name, op, elapsed);
        }
        result.map_err(|e| PluginCallError { plugin: plugin.info.name.clone(), op, fault: self.classify(e, &stderr) })
    }

    fn classify(&self, error: wasmtime::Error, stderr: &BoundedStderr) -> Fault {
        if let Some(m) = error.downcast_ref::<MemoryLimitExceeded>() {
            return Fault::MemoryLimit(MemoryLimitExceeded { desired: m.desired, cap: m.cap });
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Fault::DeadlineExceeded(self.limits.deadline),
            Some(trap) => Fault::Trap { message: trap.to_string(), guest_message: stderr.guest_message() },
            None => Fault::Runtime(format!("{error:#}")),
        }
    }

    fn reconciler<'a>(&self, pre: &'a WorldPre, plugin: &Plugin) -> wasmtime::Result<&'a ReconcilerPre<CallState>> {
        match pre {
            WorldPre::Reconciler(p) => Ok(p),
            WorldPre::Tier2(_) => Err(wasmtime::format_err!("{} is not a reconciler", plugin.info.name)),
        }
    }

    fn tier2<'a>(&self, pre: &'a WorldPre, plugin: &Plugin) -> wasmtime::Result<&'a Tier2ProviderPre<CallState>> {
        match pre {
            WorldPre::Tier2(p) => Ok(p),
            WorldPre::Reconciler(_) => Err(wasmtime::format_err!("{} is not a tier2-provider", plugin.info.name)),
        }
    }

    pub fn describe(&self, plugin: &Plugin) -> Result<sdk::PluginInfo, PluginCallError> {
        let info = self.call(plugin, "describe", |store, pre| match pre {
            WorldPre::Reconciler(p) => p.instantiate(&mut *store)?.call_describe(store),
            WorldPre::Tier2(p) => p.instantiate(&mut *store)?.call_describe(store),
        })?;
        Ok(convert::info(info))
    }

    /// A reconciler's field errors for the cluster's spec.
    pub fn validate_cluster(
        &self,
        plugin: &Plugin,
        cluster: &sdk::Cluster,
    ) -> Result<Vec<sdk::FieldError>, PluginCallError> {
        let input = convert::cluster(cluster).map_err(|e| self.host_fault(plugin, "validate", e))?;
        let errors = self.call(plugin, "validate", |store, pre| {
            let p = self.reconciler(pre, plugin)?;
            p.instantiate(&mut *store)?.call_validate(store, &input)
        })?;
        Ok(convert::field_errors(errors))
    }

    /// A Tier-2 provider's field errors for its configuration.
    pub fn validate_tier2(
        &self,
        plugin: &Plugin,
        input: &sdk::Tier2Input,
    ) -> Result<Vec<sdk::FieldError>, PluginCallError> {
        let input = self.tier2_input(plugin, "validate", input)?;
        let errors = self.call(plugin, "validate", |store, pre| {
            let p = self.tier2(pre, plugin)?;
            p.instantiate(&mut *store)?.call_validate(store, &input)
        })?;
        Ok(convert::field_errors(errors))
    }

    pub fn reconcile(&self, plugin: &Plugin, input: &sdk::ReconcileInput) -> Result<sdk::Plan, PluginCallError> {
        let op = "reconcile";
        let wit_input = bindings::wit::ReconcileInput {
            cluster: convert::cluster(&input.cluster).map_err(|e| self.host_fault(plugin, op, e))?,
            observed: convert::documents(&input.observed),
            tier2: input.tier2.as_ref().map(convert::wiring_to_wit),
            versions: bindings::wit::Versions {
                bookkeeper: input.versions.bookkeeper.clone(),
                controller: input.versions.controller.clone(),
                node: input.versions.node.clone(),
            },
        };
        let result = self.call(plugin, op, |store, pre| {
            let p = self.reconciler(pre, plugin)?;
            p.instantiate(&mut *store)?.call_reconcile(store, &wit_input)
        })?;
        let plan = result.map_err(|e| self.plugin_failure(plugin, op, e))?;
        let size = convert::size_of_strings(&plan.objects)
            + plan.events.iter().map(|e| e.message.len() + e.reason.len()).sum::<usize>();
        self.check_size(plugin, op, size)?;
        convert::plan_from_wit(plan).map_err(|m| self.fault(plugin, op, Fault::MalformedOutput(m)))
    }

    pub fn provide(&self, plugin: &Plugin, input: &sdk::Tier2Input) -> Result<sdk::Tier2Wiring, PluginCallError> {
        let op = "provide";
        let wit_input = self.tier2_input(plugin, op, input)?;
        let result = self.call(plugin, op, |store, pre| {
            let p = self.tier2(pre, plugin)?;
            p.instantiate(&mut *store)?.call_provide(store, &wit_input)
        })?;
        let wiring = result.map_err(|e| self.plugin_failure(plugin, op, e))?;
        let size = convert::size_of_strings(wiring.volumes.iter().chain(&wiring.mounts).chain(&wiring.objects))
            + wiring.env.iter().map(|e| e.name.len() + e.value.len()).sum::<usize>()
            + convert::size_of_strings(&wiring.jvm_options);
        self.check_size(plugin, op, size)?;
        convert::wiring_from_wit(wiring).map_err(|m| self.fault(plugin, op, Fault::MalformedOutput(m)))
    }

    fn tier2_input(
        &self,
        plugin: &Plugin,
        op: &'static str,
        input: &sdk::Tier2Input,
    ) -> Result<bindings::wit::Tier2Input, PluginCallError> {
        Ok(bindings::wit::Tier2Input {
            cluster: convert::cluster(&input.cluster).map_err(|e| self.host_fault(plugin, op, e))?,
            config: input.config.to_string(),
            config_path: input.config_path.clone(),
            observed: convert::documents(&input.observed),
        })
    }

    fn check_size(&self, plugin: &Plugin, op: &'static str, size: usize) -> Result<(), PluginCallError> {
        if size > self.limits.output_bytes {
            return Err(self.fault(plugin, op, Fault::OutputTooLarge { size, limit: self.limits.output_bytes }));
        }
        Ok(())
    }

    fn plugin_failure(&self, plugin: &Plugin, op: &'static str, e: bindings::wit::PluginError) -> PluginCallError {
        let fault = match convert::plugin_error(e) {
            convert::PluginFailure::Invalid(errors) => Fault::InvalidInput(errors),
            convert::PluginFailure::Failed(message) => Fault::Failed(message),
        };
        self.fault(plugin, op, fault)
    }

    fn host_fault(&self, plugin: &Plugin, op: &'static str, e: serde_json::Error) -> PluginCallError {
        self.fault(plugin, op, Fault::Runtime(format!("encoding the input: {e}")))
    }

    fn fault(&self, plugin: &Plugin, op: &'static str, fault: Fault) -> PluginCallError {
        PluginCallError { plugin: plugin.info.name.clone(), op, fault }
    }
}

/// 0.x contracts are compatible within a minor version; 1.x and later within a major version.
fn contract_compatible(found: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(found), parse(CONTRACT_VERSION)) {
        (Some((0, fm)), Some((0, hm))) => fm == hm,
        (Some((f, _)), Some((h, _))) => f == h,
        _ => false,
    }
}

fn valid_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_versions() {
        assert!(contract_compatible("0.1.0"));
        assert!(contract_compatible("0.1.7"));
        assert!(!contract_compatible("0.2.0"));
        assert!(!contract_compatible("1.1.0"));
        assert!(!contract_compatible("garbage"));
    }

    #[test]
    fn plugin_names() {
        assert!(valid_plugin_name("tier2-nfs"));
        assert!(!valid_plugin_name("Tier2"));
        assert!(!valid_plugin_name("-x"));
        assert!(!valid_plugin_name(""));
    }
}
