//! Refills that checks ask for, queued without a system call or an
//! allocation: a lock-free stack of key states that a pump on the store's
//! runtime drains every few milliseconds.
//!
//! Spawning a task from a check would wake the runtime's parked thread, a
//! system call of microseconds on the check that crossed the low-water
//! mark: one check in a lease, which for a key of a few requests a lease is
//! far more than 1% of its checks. A push here is a few atomic operations.
//!
//! Only the check that claimed a key's refill (the bucket's `refilling`
//! bit) asks, so a key has at most one ask outstanding; the ask is its
//! `at`, taken (swapped to 0) by whoever sends it: the pump, or a check
//! that found the bucket empty and would rather send it than wait for the
//! pump's next turn. A state stays on the stack until the pump pops it,
//! marked by `queued`, so it is never pushed twice.

use crate::store::lease::table::KeyState;
use crate::sync::{AtomicPtr, AtomicU64, Ordering};
use std::ptr;

/// One key's ask, and its link in the stack.
pub(crate) struct Wanted {
    /// Local ns of the ask (0: none outstanding).
    at: AtomicU64,
    /// The cost of the check that asked.
    cost: AtomicU64,
    /// 1 while the state is on the stack.
    queued: AtomicU64,
    next: AtomicPtr<KeyState>,
}

impl Wanted {
    pub(crate) fn new() -> Self {
        Self {
            at: AtomicU64::new(0),
            cost: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The outstanding ask, `(at, cost)`, now the caller's to send.
    pub(crate) fn take(&self) -> Option<(u64, u64)> {
        // Acquire: pairs with `ask`'s Release store, so `cost` is the ask's.
        let at = self.at.swap(0, Ordering::Acquire);
        // Relaxed: ordered by the swap.
        (at != 0).then(|| (at, self.cost.load(Ordering::Relaxed)))
    }
}

/// A layer's stack of asks.
pub(crate) struct RefillQueue {
    head: AtomicPtr<KeyState>,
}

impl RefillQueue {
    pub(crate) fn new() -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Asks for `state`'s next lease at `now_ns` for a check of `cost`;
    /// the caller claimed the refill. `state` is a cell of the table this
    /// queue belongs to.
    pub(crate) fn ask(&self, state: &KeyState, now_ns: u64, cost: u64) {
        let wanted = &state.wanted;
        // Relaxed: published by the Release store of `at`.
        wanted.cost.store(cost, Ordering::Relaxed);
        // Release: see `Wanted::take`.
        wanted.at.store(now_ns.max(1), Ordering::Release);
        // Acquire: pairs with `drain`'s Release clear, which follows its
        // read of `next`: the store below cannot overwrite a link it needs.
        if wanted.queued.swap(1, Ordering::Acquire) != 0 {
            return; // still on the stack: the pump finds this ask there
        }
        let node = ptr::from_ref(state).cast_mut();
        // Relaxed: the CAS below carries what it needs.
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // Relaxed: published by the CAS's Release.
            wanted.next.store(head, Ordering::Relaxed);
            // Release: `drain`'s Acquire swap then reads this `next`.
            match self
                .head
                .compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(held) => head = held,
            }
        }
    }

    /// Hands `send` every ask pushed since the last drain that no check
    /// took over meanwhile.
    pub(crate) fn drain(&self, mut send: impl FnMut(&KeyState, u64, u64)) {
        // Acquire: pairs with `ask`'s Release CAS, so every `next` is seen.
        let mut node = self.head.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: every pointer on the stack is a `&KeyState` that `ask`
        // got from a cell of this queue's table; cells are freed only when
        // the table drops, which `&self` forbids.
        while let Some(state) = unsafe { node.as_ref() } {
            // Relaxed: ordered by the swap above.
            node = state.wanted.next.load(Ordering::Relaxed);
            // Release: see `ask`.
            state.wanted.queued.store(0, Ordering::Release);
            if let Some((at, cost)) = state.wanted.take() {
                send(state, at, cost);
            }
        }
    }
}
