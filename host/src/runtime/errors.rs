//! Typed errors of the plugin runtime. Every failure names the plugin and the cause; none panics.

use super::limits::MemoryLimitExceeded;
use std::time::Duration;

/// Why a plugin call failed.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    #[error("exceeded its {}ms deadline", .0.as_millis())]
    DeadlineExceeded(Duration),
    /// The plugin tried to wait (sleep, or block on a pollable): plugins are pure functions of their
    /// input, and a waiting guest could not be interrupted, so the sandbox stops it at once.
    #[error("{0}")]
    Blocked(WaitDenied),
    /// Every slot of the plugin's share of the instance pool stayed busy for as long as the caller
    /// may wait (its deadline): the plugin's own calls are slow or stuck.
    #[error(
        "could not start: all {share} calls of its share of the instance pool stayed busy for {}ms",
        .waited.as_millis()
    )]
    ShareBusy { share: u32, waited: Duration },
    /// Every pooled instance stayed busy for as long as the caller may wait (its deadline).
    #[error("could not start: all {pool} pooled plugin instances stayed busy for {}ms", .waited.as_millis())]
    PoolBusy { pool: u32, waited: Duration },
    #[error("exceeded its memory limit ({0})")]
    MemoryLimit(MemoryLimitExceeded),
    #[error("trapped: {message}{}", panic_suffix(.guest_message))]
    Trap { message: String, guest_message: Option<String> },
    #[error("returned {size} bytes of output; the bound \"{}\" is {limit}", bound::OUTPUT_BYTES)]
    OutputTooLarge { size: usize, limit: usize },
    /// One of the other bounds on what a call returns (see [`bound`] for their names).
    #[error("returned {found} {what}; the bound \"{bound}\" is {limit}")]
    OutputBound { bound: &'static str, what: String, found: usize, limit: usize },
    /// An event reason Kubernetes would not accept.
    #[error("returned event #{index} with reason \"{reason}\", which Kubernetes does not accept: {rule}")]
    InvalidEventReason { index: usize, reason: String, rule: &'static str },
    #[error("returned malformed output: {0}")]
    MalformedOutput(String),
    #[error("reported a failure: {0}")]
    Failed(String),
    #[error("rejected its input: {}", join_errors(.0))]
    InvalidInput(Vec<ecs_plugin_sdk::FieldError>),
    /// Instantiation failed (e.g. the component needs more pooled tables or memories than a pool slot
    /// holds), a WASI call refused the plugin's request (e.g. more random bytes than allowed), or the
    /// input could not be encoded. The message is escaped, as it may quote the plugin's own names.
    #[error("could not run: {0}")]
    Runtime(String),
}

impl Fault {
    /// A short, stable name for metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::DeadlineExceeded(_) => "deadline_exceeded",
            Fault::Blocked(_) => "blocked",
            Fault::ShareBusy { .. } => "share_busy",
            Fault::PoolBusy { .. } => "pool_busy",
            Fault::MemoryLimit(_) => "memory_limit",
            Fault::Trap { .. } => "trap",
            Fault::OutputTooLarge { .. } => "output_too_large",
            Fault::OutputBound { .. } => "output_bound",
            Fault::InvalidEventReason { .. } => "invalid_event_reason",
            Fault::MalformedOutput(_) => "malformed_output",
            Fault::Failed(_) => "failed",
            Fault::InvalidInput(_) => "invalid_input",
            Fault::Runtime(_) => "runtime",
        }
    }
}

/// The names of the bounds on what a call returns, as faults quote them.
pub mod bound {
    pub const OUTPUT_BYTES: &str = "bytes of output per call";
    pub const OBJECTS: &str = "objects per call";
    pub const OBJECT_BYTES: &str = "bytes per object";
    pub const EVENTS: &str = "events per call";
    pub const FIELD_ERRORS: &str = "field errors per call";
    pub const MESSAGE_BYTES: &str = "bytes per message";
    pub const MEMBERS: &str = "members per status";
    pub const CLEANUP: &str = "cleanup steps per call";
}

/// The trap payload of a WASI call that would wait; see `nowait`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("tried to wait on {on} ({call}), which the sandbox does not allow: a plugin must not sleep or block")]
pub struct WaitDenied {
    /// What it would have waited on: `a clock` or `a pollable`.
    pub on: &'static str,
    /// The WASI function the plugin called, e.g. `wasi:clocks/monotonic-clock.subscribe-duration`.
    pub call: &'static str,
}

fn join_errors(errors: &[ecs_plugin_sdk::FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn panic_suffix(message: &Option<String>) -> String {
    message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
}

/// A failed call: which plugin, which export, why.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin} ({op}) {fault}")]
pub struct PluginCallError {
    pub plugin: String,
    pub op: &'static str,
    pub fault: Fault,
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{origin}: not a loadable WebAssembly component: {message}")]
    Compile { origin: String, message: String },
    #[error(
        "{origin}: exports neither the `reconciler` nor the `tier2-provider` world of ecs:plugin@{contract} ({message})"
    )]
    WrongWorld { origin: String, contract: &'static str, message: String },
    #[error("{origin}: built against plugin contract {found}; this host implements {expected}")]
    Contract { origin: String, found: String, expected: &'static str },
    #[error("{origin}: describe() says kind {said} but the component exports the {world} world")]
    KindMismatch { origin: String, said: String, world: &'static str },
    #[error("{origin}: invalid plugin name {name:?} (lowercase letters, digits and '-', at most 63)")]
    BadName { origin: String, name: String },
    #[error("{origin}: {message}")]
    Role { origin: String, message: String },
    #[error("plugin {name} is provided twice: by {first} and by {second}")]
    Duplicate { name: String, first: String, second: String },
    #[error("reading {path}: {message}")]
    Io { path: String, message: String },
    #[error("{origin}: {source}")]
    Describe { origin: String, source: PluginCallError },
    #[error(
        "the {name} reconciler is not loaded: this binary was built without its built-in plugins \
         (build with `make build`) and no --plugin-dir provides it"
    )]
    Missing { name: String },
    #[error("setting up the WebAssembly engine: {0}")]
    Engine(String),
    #[error(
        "{origin}: plugin {name} would replace the built-in plugin of that name; refused (start the \
         operator with `--allow-override {name}` to allow it)"
    )]
    OverrideNotAllowed { name: String, origin: String },
    #[error("{origin}: its sha256 {sha256} is pinned for no plugin in {pins}; refused without running it")]
    Unpinned { origin: String, sha256: String, pins: String },
    #[error("{origin}: its sha256 is pinned for plugin {pinned} in {pins}, but it describes itself as {said}; refused")]
    PinnedAsOther { origin: String, pinned: String, said: String, pins: String },
    #[error("plugin pins {path}: {message}")]
    Pins { path: String, message: String },
}
