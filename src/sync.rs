//! The one place floodgate takes its atomics from.
//!
//! Under `cfg(loom)` every type here is loom's model-checked twin, so the
//! protocols in `limiter.rs` and `quota_ring.rs` are explored exhaustively by
//! `tests/loom_*.rs`; otherwise they are the std types, at no cost.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicPtr, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicPtr, AtomicU64, Ordering};

/// Eases a CAS retry under contention. Loom explores every interleaving
/// itself, so there the backoff is a no-op that keeps the model small.
pub(crate) struct Backoff {
    #[cfg(not(loom))]
    inner: crossbeam_utils::Backoff,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(not(loom))]
            inner: crossbeam_utils::Backoff::new(),
        }
    }

    pub(crate) fn spin(&self) {
        #[cfg(not(loom))]
        self.inner.spin();
    }

    /// Waits for another thread to finish a step this one depends on. Under
    /// loom it yields, so the model runs that thread rather than exploring
    /// a spin that cannot end without it.
    pub(crate) fn snooze(&self) {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        self.inner.snooze();
    }
}
