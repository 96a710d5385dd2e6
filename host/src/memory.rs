//! Process-wide memory settings, applied before any thread starts.

/// One glibc malloc arena for the whole process.
///
/// glibc gives threads arenas of their own as they contend (up to 8 per core), and each keeps its
/// freed memory resident: with tokio's workers, its blocking threads and Wasmtime's, that was
/// ~1.3 MiB of the operator's resident set (measured with `bench-live`). The operator allocates
/// little and mostly on one task at a time, and glibc's per-thread cache (tcache) serves small
/// allocations without taking the arena's lock. A `glibc.malloc.arena_max` in `GLIBC_TUNABLES`
/// still wins, for whoever measures otherwise.
pub fn use_one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.arena_max"));
        if !tuned {
            // SAFETY: mallopt only sets an allocator parameter; called at start-up, on the main thread.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, 1);
            }
        }
    }
}

/// Gives the heap's free pages back to the operating system.
///
/// For after a burst that freed much more than stays live, such as compiling plugins (Cranelift
/// works in tens of MiB): glibc only returns memory at the top of the heap by itself. A cold start
/// (empty compile cache, as in a new pod) measured 76 MiB resident; with this, the compile in a
/// short-lived engine and the compiled code mapped from the cache file, 34 MiB (`bench-live`, one
/// cluster; a warm start: 26 MiB, the difference being Cranelift's own code, mapped from the binary).
pub fn release_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
