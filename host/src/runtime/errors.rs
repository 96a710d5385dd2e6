//! Typed errors of the plugin runtime. Every failure names the plugin and the cause; none panics.

use super::limits::MemoryLimitExceeded;
use std::time::Duration;

/// Why a plugin call failed.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    #[error("exceeded its {}ms deadline", .0.as_millis())]
    DeadlineExceeded(Duration),
    #[error("exceeded its memory limit ({0})")]
    MemoryLimit(MemoryLimitExceeded),
    #[error("trapped: {message}{}", panic_suffix(.guest_message))]
    Trap { message: String, guest_message: Option<String> },
    #[error("returned {size} bytes of output; the limit is {limit} bytes")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("returned malformed output: {0}")]
    MalformedOutput(String),
    #[error("reported a failure: {0}")]
    Failed(String),
    #[error("rejected its input: {}", join_errors(.0))]
    InvalidInput(Vec<ecs_plugin_sdk::FieldError>),
    /// Not the guest's doing: instantiation failed (e.g. all pooled instances busy) or the input
    /// could not be encoded.
    #[error("could not run: {0}")]
    Runtime(String),
}

impl Fault {
    /// A short, stable name for metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::DeadlineExceeded(_) => "deadline_exceeded",
            Fault::MemoryLimit(_) => "memory_limit",
            Fault::Trap { .. } => "trap",
            Fault::OutputTooLarge { .. } => "output_too_large",
            Fault::MalformedOutput(_) => "malformed_output",
            Fault::Failed(_) => "failed",
            Fault::InvalidInput(_) => "invalid_input",
            Fault::Runtime(_) => "runtime",
        }
    }
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
}
