//! Who may run a plugin call now. Instances come from one pool (`Limits::concurrent_calls`), and
//! each plugin may hold only its share of it (`Limits::calls_per_plugin`): a third party's Tier-2
//! plugin that loops or is slow fills its own share, never the whole pool, so the clusters that do
//! not use it go on. A caller whose plugin's share (or the pool) is busy waits for a slot, up to a
//! bound (the call's deadline), instead of failing at once; it fails only when the slots stay busy
//! that long, and then says which bound it waited on.
//!
//! A counting semaphore on a mutex and a condition variable: the public API is synchronous and
//! callers are plain threads (the CLI) or the operator's blocking pool, so waiting blocks the calling
//! thread, as the plugin call itself does.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// A counting semaphore with a deadline on acquisition.
#[derive(Debug)]
pub(crate) struct Slots {
    limit: u32,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    busy: u32,
    /// Callers waiting for a slot: a release wakes one only if there is one (the uncontended path,
    /// every honest call, then costs two uncontended lock operations and no system call).
    waiting: u32,
}

/// A held slot; released when dropped.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    slots: &'a Slots,
}

impl Slots {
    /// `limit` slots (at least one).
    pub fn new(limit: u32) -> Self {
        Slots { limit: limit.max(1), state: Mutex::new(State::default()), freed: Condvar::new() }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The counters are consistent whatever panicked while holding the lock: no poisoning.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot, waiting for one until `until`; `None` when none was freed in time.
    pub fn acquire(&self, until: Instant) -> Option<Slot<'_>> {
        let mut state = self.lock();
        while state.busy >= self.limit {
            let left = until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
            state.waiting += 1;
            state = self.freed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
            state.waiting -= 1;
        }
        state.busy += 1;
        Some(Slot { slots: self })
    }

    #[cfg(test)]
    fn busy(&self) -> u32 {
        self.lock().busy
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.slots.lock();
        state.busy = state.busy.saturating_sub(1);
        let waiting = state.waiting > 0;
        drop(state);
        if waiting {
            self.slots.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn holds_at_most_the_limit_and_frees_on_drop() {
        let slots = Slots::new(2);
        let soon = || Instant::now() + Duration::from_millis(20);
        let a = slots.acquire(soon()).expect("first");
        let b = slots.acquire(soon()).expect("second");
        assert_eq!(slots.busy(), 2);
        let started = Instant::now();
        assert!(slots.acquire(soon()).is_none(), "a third slot beyond the limit");
        assert!(started.elapsed() >= Duration::from_millis(15), "gave up before the deadline");
        drop(a);
        let c = slots.acquire(soon()).expect("a freed slot is reused");
        drop((b, c));
        assert_eq!(slots.busy(), 0);
    }

    #[test]
    fn a_waiter_gets_the_slot_freed_by_another_thread() {
        let slots = Slots::new(1);
        let held = slots.acquire(Instant::now()).expect("free");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| slots.acquire(Instant::now() + Duration::from_secs(10)).is_some());
            std::thread::sleep(Duration::from_millis(20));
            drop(held);
            assert!(waiter.join().unwrap());
        });
        assert_eq!(slots.busy(), 0);
    }

    #[test]
    fn zero_means_one() {
        let slots = Slots::new(0);
        assert_eq!(slots.limit(), 1);
        assert!(slots.acquire(Instant::now()).is_some());
    }
}
