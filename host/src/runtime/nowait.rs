//! WASI that never waits, so that a call's deadline holds whatever the guest does.
//!
//! Epoch interruption stops guest code, not a guest blocked inside a host call: with stock WASI a
//! plugin that sleeps (`std::thread::sleep` is `monotonic-clock.subscribe-duration` then
//! `pollable.block`), waits on a far-future instant (which our frozen clock never reaches) or calls
//! `wasi:io/poll.poll` held its call, its thread and its pooled instance for as long as it liked.
//!
//! Two ways out were weighed:
//! - (a) wasmtime's async support: every call a future on a per-thread tokio runtime, cut off by a
//!   `tokio::time::timeout`. It stops any waiting host call, but costs every honest call a fiber
//!   stack and an executor round, nests a runtime under callers that may already run in one (the
//!   operator calls from tokio's blocking pool), and still lets a sleeping plugin hold its slot until
//!   the deadline.
//! - (b) keep sync WASI and replace each import that can wait with one that traps at once with a
//!   typed fault ([`WaitDenied`], reported as `Fault::Blocked`).
//!
//! We take (b): plugins are pure functions of their input and have nothing to wait for, so waiting
//! is a fault, reported the moment it happens, at no cost to honest calls. It fails closed because
//! in WASI 0.2 a guest waits only through a pollable or a `blocking-*` stream operation:
//! - every wait on a pollable goes through `wasi:io/poll.poll` or `pollable.block`: both trap here;
//!   so do the clock subscriptions (`subscribe-duration`, `subscribe-instant`), which exist only to
//!   wait, so the fault says it was a clock (`pollable.ready` never waits and stays);
//! - the `blocking-*` stream operations wait for their stream to be ready, and the only streams a
//!   plugin can reach are the host's: stdin is closed, stdout discards, stderr is the bounded sink
//!   (`stderr.rs`), all always ready. There are no preopened directories, and TCP, UDP and name
//!   lookups are denied by the empty `WasiCtx` (its defaults), so no file or socket stream exists.
//!
//! Host calls that do not wait but could work for long are kept short instead: a `get-random-bytes`
//! request is capped (64 KiB, `mod.rs`), and other lists a plugin passes or gets are bounded by its
//! memory cap or by wasmtime-wasi itself (4 KiB per blocking write, 64 KiB per stream write).
//!
//! A wasmtime-wasi upgrade must re-check this list (the sandbox tests attack each entry point).
//! The replacements are linked with the generated bindings of the very interfaces they shadow, so
//! their names and versions always match what `add_to_linker_sync` defined.

use super::errors::WaitDenied;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::bindings::sync::io::poll;

const POLL: WaitDenied = WaitDenied { on: "a pollable", call: "wasi:io/poll.poll" };
const BLOCK: WaitDenied = WaitDenied { on: "a pollable", call: "wasi:io/poll.pollable.block" };
const SUBSCRIBE_DURATION: WaitDenied =
    WaitDenied { on: "a clock", call: "wasi:clocks/monotonic-clock.subscribe-duration" };
const SUBSCRIBE_INSTANT: WaitDenied =
    WaitDenied { on: "a clock", call: "wasi:clocks/monotonic-clock.subscribe-instant" };

/// The frozen monotonic clock's resolution, in nanoseconds.
const RESOLUTION_NS: u64 = 1_000_000_000;

/// A store's state that gives the replacement imports its resource table.
pub(crate) trait HasTable: 'static {
    fn resource_table(&mut self) -> &mut ResourceTable;
}

/// Replaces, in a linker that already has WASI, every import that can wait; see the module doc.
pub(crate) fn shadow_waiting_imports<T: HasTable>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let result = poll::add_to_linker::<T, NoWait>(linker, view)
        .and_then(|()| monotonic_clock::add_to_linker::<T, NoWait>(linker, view));
    linker.allow_shadowing(false);
    result
}

fn view<T: HasTable>(state: &mut T) -> NoWaitView<'_> {
    NoWaitView { table: state.resource_table() }
}

/// What the replacement imports see of the store: its resource table.
pub(crate) struct NoWaitView<'a> {
    pub table: &'a mut ResourceTable,
}

pub(crate) struct NoWait;

impl HasData for NoWait {
    type Data<'a> = NoWaitView<'a>;
}

impl poll::Host for NoWaitView<'_> {
    fn poll(&mut self, _pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        Err(wasmtime::Error::new(POLL))
    }
}

impl poll::HostPollable for NoWaitView<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        // Polls once and returns: never waits.
        poll::HostPollable::ready(&mut *self.table, pollable)
    }

    fn block(&mut self, _pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(BLOCK))
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::HostPollable::drop(&mut *self.table, pollable)
    }
}

/// The frozen monotonic clock (always 0, as the `WasiCtx`'s), without subscriptions.
impl monotonic_clock::Host for NoWaitView<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(0)
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(RESOLUTION_NS)
    }

    fn subscribe_instant(&mut self, _when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        Err(wasmtime::Error::new(SUBSCRIBE_INSTANT))
    }

    fn subscribe_duration(&mut self, _duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        Err(wasmtime::Error::new(SUBSCRIBE_DURATION))
    }
}
