//! Per-call limits: wall-clock deadline, memory cap, output size, and bounded logging.

use std::time::Duration;

/// Limits applied to every plugin call. Each call gets a fresh instance, so limits never carry over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time a call may take (enforced by epoch interruption).
    pub deadline: Duration,
    /// Linear memory a call may grow to, in bytes.
    pub memory_bytes: usize,
    /// Total size of the documents a call may return, in bytes.
    pub output_bytes: usize,
    /// Log lines kept per call; the rest are counted and dropped.
    pub log_lines: usize,
    /// Longest log line kept, in bytes.
    pub log_line_bytes: usize,
    /// Guest stderr kept per call (where a panic message lands), in bytes.
    pub stderr_bytes: usize,
    /// Plugin calls that may run at once: instances come from a pool of this size, so a call reuses
    /// warm memory instead of mapping fresh pages. Further concurrent calls fail with a clear error.
    pub concurrent_calls: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(1),
            memory_bytes: 64 << 20,
            output_bytes: 4 << 20,
            log_lines: 200,
            log_line_bytes: 4096,
            stderr_bytes: 16 << 10,
            concurrent_calls: 32,
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
