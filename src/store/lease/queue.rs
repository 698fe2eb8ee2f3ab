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
//! bit) asks, so a key has at most one ask outstanding. A state's ask and
//! whether it is on the stack share one word, so that a push, a pop and a
//! check taking the ask over are each one read-modify-write of it, totally
//! ordered: an ask is sent once, by the pump or by a check that found the
//! bucket empty and would rather send it than wait for the pump's turn,
//! and a state is never on the stack twice.

use crate::sync::{AtomicPtr, AtomicU64, Ordering};
use std::ptr;

/// A key's state as the queue sees it: something holding its own ask.
pub trait Asker: Sized {
    /// The ask and link this state holds.
    fn wanted(&self) -> &Wanted<Self>;
}

/// The bit of [`Wanted`]'s word set while the state is on the stack; the
/// bits below are the ask's local ns (0: none outstanding).
const QUEUED: u64 = 1 << 63;

/// One key's ask, and its link in the stack.
#[derive(Debug)]
pub struct Wanted<N> {
    /// [`QUEUED`] and the ask's instant.
    word: AtomicU64,
    /// The cost of the check that asked.
    cost: AtomicU64,
    next: AtomicPtr<N>,
}

impl<N> Default for Wanted<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<N> Wanted<N> {
    /// No ask outstanding.
    pub fn new() -> Self {
        Self {
            word: AtomicU64::new(0),
            cost: AtomicU64::new(0),
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The outstanding ask, `(at, cost)`, now the caller's to send; the
    /// state stays on the stack if it is.
    pub fn take(&self) -> Option<(u64, u64)> {
        // Acquire: pairs with `ask`'s Release, so `cost` is the ask's.
        let held = self.word.fetch_and(QUEUED, Ordering::Acquire);
        self.taken(held)
    }

    /// The ask in a word just taken out.
    fn taken(&self, held: u64) -> Option<(u64, u64)> {
        let at = held & !QUEUED;
        // Relaxed: ordered by the read-modify-write that took `held`.
        (at != 0).then(|| (at, self.cost.load(Ordering::Relaxed)))
    }
}

/// A layer's stack of asks.
#[derive(Debug)]
pub struct RefillQueue<N> {
    head: AtomicPtr<N>,
}

impl<N: Asker> Default for RefillQueue<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<N: Asker> RefillQueue<N> {
    /// An empty queue.
    pub fn new() -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Asks for `state`'s next lease at `now_ns` for a check of `cost`;
    /// the caller claimed the refill.
    ///
    /// # Safety
    ///
    /// `state` must outlive the queue (a cell of the table it belongs to,
    /// as every lease table's are): [`drain`](Self::drain) reads it later.
    pub unsafe fn ask(&self, state: &N, now_ns: u64, cost: u64) {
        let wanted = state.wanted();
        // Relaxed: published by the Release swap below.
        wanted.cost.store(cost, Ordering::Relaxed);
        // Release: see `Wanted::take`. Acquire: pairs with `drain`'s
        // Release swap, which follows its read of `next`, so the store
        // below cannot overwrite a link the pump still needs.
        let held = wanted
            .word
            .swap(QUEUED | now_ns.clamp(1, !QUEUED), Ordering::AcqRel);
        if held & QUEUED != 0 {
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
    pub fn drain(&self, mut send: impl FnMut(&N, u64, u64)) {
        // Acquire: pairs with `ask`'s Release CAS, so every `next` is seen.
        let mut node = self.head.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: every pointer on the stack is a reference `ask` was given
        // with the promise that it outlives the queue, which `&self` holds.
        while let Some(state) = unsafe { node.as_ref() } {
            let wanted = state.wanted();
            // Relaxed: ordered by the swap above.
            node = wanted.next.load(Ordering::Relaxed);
            // Off the stack, and the ask taken, at once. Release: see
            // `ask`. Acquire: see `Wanted::take`.
            let held = wanted.word.swap(0, Ordering::AcqRel);
            if let Some((at, cost)) = wanted.taken(held) {
                send(state, at, cost);
            }
        }
    }
}
