//! Ways for a guest to hold its call inside host code, out of reach of epoch interruption: waiting
//! through WASI (each never returns under stock WASI with the host's frozen clock), and making the
//! host generate large random buffers. Called directly, through the raw imports that wasi-libc and
//! Rust's std use (typed by the WASI 0.2.6 world std embeds; a toolchain whose std moves to another
//! WASI version needs these names updated), rather than through std, which only offers
//! `thread::sleep`.

#[cfg(target_arch = "wasm32")]
mod raw {
    #[link(wasm_import_module = "wasi:clocks/monotonic-clock@0.2.6")]
    unsafe extern "C" {
        #[link_name = "subscribe-instant"]
        pub fn subscribe_instant(when: i64) -> i32;
        #[link_name = "subscribe-duration"]
        pub fn subscribe_duration(when: i64) -> i32;
    }

    #[link(wasm_import_module = "wasi:io/poll@0.2.6")]
    unsafe extern "C" {
        #[link_name = "[method]pollable.block"]
        pub fn block(pollable: i32);
        #[link_name = "poll"]
        pub fn poll(pollables: *const i32, len: usize, ret: *mut [usize; 2]);
    }

    #[link(wasm_import_module = "wasi:random/random@0.2.6")]
    unsafe extern "C" {
        #[link_name = "get-random-bytes"]
        pub fn get_random_bytes(len: i64, ret: *mut [usize; 2]);
    }

    #[link(wasm_import_module = "wasi:cli/stderr@0.2.6")]
    unsafe extern "C" {
        #[link_name = "get-stderr"]
        pub fn get_stderr() -> i32;
    }

    #[link(wasm_import_module = "wasi:io/streams@0.2.6")]
    unsafe extern "C" {
        #[link_name = "[method]output-stream.subscribe"]
        pub fn subscribe_output(stream: i32) -> i32;
    }
}

/// `subscribe-instant` on the farthest instant, then `pollable.block`: the frozen clock never gets
/// there.
pub fn until_the_end_of_time() {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        raw::block(raw::subscribe_instant(u64::MAX as i64));
    }
}

/// `wasi:io/poll.poll` on a clock an hour away.
pub fn poll_a_clock() {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        let pollables = [raw::subscribe_duration(3600 * 1_000_000_000)];
        let mut ret = [0usize; 2];
        raw::poll(pollables.as_ptr(), pollables.len(), &mut ret);
    }
}

/// `wasi:io/poll.poll` on stderr's pollable, in a loop: a stream's pollable needs no clock.
pub fn poll_a_stream_forever() {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        let pollables = [raw::subscribe_output(raw::get_stderr())];
        loop {
            let mut ret = [0usize; 2];
            raw::poll(pollables.as_ptr(), pollables.len(), &mut ret);
            // The ready list was allocated in our memory (`cabi_realloc`): free it, so that the loop
            // runs into the deadline rather than the memory limit.
            let [ptr, len] = std::hint::black_box(ret);
            if len > 0 {
                std::alloc::dealloc(ptr as *mut u8, std::alloc::Layout::array::<u32>(len).unwrap());
            }
        }
    }
}

/// `get-random-bytes` for 32 MiB at a time, forever: stock WASI generates up to 64 MiB per request in
/// host code.
pub fn random_forever() {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        loop {
            let mut ret = [0usize; 2];
            raw::get_random_bytes(32 << 20, &mut ret);
            let [ptr, len] = std::hint::black_box(ret);
            if len > 0 {
                std::alloc::dealloc(ptr as *mut u8, std::alloc::Layout::array::<u8>(len).unwrap());
            }
        }
    }
}
