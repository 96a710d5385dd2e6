//! The ecs-operator plugin SDK: everything a plugin author shares with the host.
//!
//! - [`spec`]: the `ECSCluster` spec types (the host generates the CRD from the same types).
//! - [`model`]: the plugin contract as plain Rust types (what `wit/plugin.wit` says), so plugin logic is
//!   ordinary, natively testable Rust.
//! - [`k8s`]: typed builders on k8s-openapi (metadata, pods, Services), label helpers and JVM option
//!   merging.
//! - [`validate`]: the checks of the spec the plugins share (names, quantities, replicas, options...).
//! - [`tier2`]: what Tier-2 providers share: reading and checking their configuration, and the wiring
//!   of a volume mounted at `/mnt/tier2`.
//! - [`plugin_info!`]: what `describe` returns.
//! - [`export_reconciler!`] / [`export_tier2_provider!`]: turn a type implementing [`Reconciler`] or
//!   [`Tier2Provider`] into a WebAssembly component export.

pub mod k8s;
pub mod model;
pub mod spec;
#[doc(hidden)]
pub mod testing;
pub mod tier2;
pub mod validate;
#[doc(hidden)]
pub mod wasm;

pub use model::*;
pub use tier2::parse_config;

/// The contract version this SDK implements (the WIT package version).
pub const CONTRACT_VERSION: &str = "0.2.0";

/// Severity of a plugin log line (see [`log`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Logs through the host (the contract's only import). Native builds drop the line.
pub fn log(level: LogLevel, message: &str) {
    wasm::log(level, message)
}
