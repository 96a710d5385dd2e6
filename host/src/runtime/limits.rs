//! Per-call limits: wall-clock deadline, memory cap, bounds on everything a call returns, bounded
//! logging, and how many calls may run at once (in all, and per plugin).

use std::time::Duration;

/// How late after its deadline a call may return, at most: the epoch ticks every 10 ms and the
/// deadline is rounded up to whole ticks plus one, then the trap unwinds. Nothing a plugin can call
/// waits (see `nowait`), so this holds whatever the guest does. Measured: about 10-20 ms.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// Limits applied to every plugin call. Each call gets a fresh instance, so limits never carry over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time a call may run (enforced by epoch interruption; it returns at most
    /// [`DEADLINE_MARGIN`] later). A call first waits for a slot (see `calls_per_plugin`) for at most
    /// as long again, so a caller gets its answer within `2 * deadline + DEADLINE_MARGIN`.
    pub deadline: Duration,
    /// Linear memory a call may grow to, in bytes.
    pub memory_bytes: usize,
    /// Total size of everything a call returns, in bytes: documents, every string of a plan's status
    /// and events, field errors, failure messages, a Tier-2 wiring's settings, `describe()`'s strings.
    pub output_bytes: usize,
    /// Objects in one plan, or in one Tier-2 wiring. The largest valid spec renders about 1010 (one
    /// Service per segment store with external access, `ecs.nodeReplicas` <= 1000).
    pub objects_per_call: usize,
    /// Size of one returned document (object, volume or mount), in bytes. Kubernetes itself refuses
    /// ConfigMaps over 1 MiB.
    pub object_bytes: usize,
    /// Events in one plan.
    pub events_per_call: usize,
    /// Field errors one call may report (from `validate`, or with `invalid-input`).
    pub field_errors_per_call: usize,
    /// Size of one message, in bytes: a failure message, a field error's path or message, an event's
    /// message.
    pub message_bytes: usize,
    /// Members (ready plus unready) in one component status.
    pub members_per_status: usize,
    /// Log lines kept per call; the rest are counted and dropped.
    pub log_lines: usize,
    /// Longest log line kept, in bytes.
    pub log_line_bytes: usize,
    /// Guest stderr kept per call (where a panic message lands), in bytes.
    pub stderr_bytes: usize,
    /// Plugin calls that may run at once: instances come from a pool of this size, so a call reuses
    /// warm memory instead of mapping fresh pages. Further calls wait for an instance, for at most
    /// their deadline, then fail with `Fault::PoolBusy`.
    pub concurrent_calls: u32,
    /// Calls of one plugin that may run at once: its share of the pool, so that one slow or looping
    /// plugin cannot starve the others (capped at `concurrent_calls`, at least 1). Further calls of
    /// that plugin wait for a slot of its share, for at most their deadline, then fail with
    /// `Fault::ShareBusy`.
    pub calls_per_plugin: u32,
}

impl Limits {
    /// The share of the pool one plugin may hold.
    pub fn plugin_share(&self) -> u32 {
        self.calls_per_plugin.min(self.concurrent_calls).max(1)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(1),
            memory_bytes: 64 << 20,
            output_bytes: 4 << 20,
            objects_per_call: 2048,
            object_bytes: 1 << 20,
            events_per_call: 32,
            field_errors_per_call: 1000,
            message_bytes: 4096,
            members_per_status: 4096,
            log_lines: 200,
            log_line_bytes: 4096,
            stderr_bytes: 16 << 10,
            concurrent_calls: 32,
            calls_per_plugin: 8,
        }
    }
}

/// Denies linear-memory growth past the cap with a typed error, so a memory bomb is reported as such
/// rather than as the bare `unreachable` trap a failed allocation turns into.
pub(crate) struct MemoryLimiter {
    pub cap: usize,
}

/// The trap payload when a plugin tries to grow its memory past the cap.
#[derive(Debug, thiserror::Error)]
#[error("tried to grow memory to {desired} bytes; the limit is {cap} bytes")]
pub struct MemoryLimitExceeded {
    pub desired: usize,
    pub cap: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.cap {
            return Err(wasmtime::Error::new(MemoryLimitExceeded { desired, cap: self.cap }));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; plugins need a few thousand at most.
        Ok(desired <= 100_000)
    }
}
