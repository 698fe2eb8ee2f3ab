//! Monitoring counters that many threads bump at once without sharing a
//! cache line: each thread adds to its own stripe, a read sums the stripes.

use crate::sync::{AtomicU64, Ordering};
use crossbeam_utils::CachePadded;

const STRIPES: usize = 8;

/// One monotonically increasing count, striped across cache lines.
pub(crate) struct StripedCounter {
    stripes: [CachePadded<AtomicU64>; STRIPES],
}

impl StripedCounter {
    pub(crate) fn new() -> Self {
        Self {
            stripes: std::array::from_fn(|_| CachePadded::new(AtomicU64::new(0))),
        }
    }

    #[inline]
    pub(crate) fn add(&self, amount: u64) {
        // Relaxed: a monitoring count orders nothing else.
        self.stripes[stripe()].fetch_add(amount, Ordering::Relaxed);
    }

    pub(crate) fn total(&self) -> u64 {
        self.stripes
            .iter()
            // Relaxed: see `add`; a read may miss adds still in flight.
            .map(|stripe| stripe.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// This thread's stripe, assigned round-robin on first use.
fn stripe() -> usize {
    // A plain std atomic: it only spreads threads over stripes and takes part
    // in no protocol loom checks (loom atomics cannot be statics).
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|stripe| *stripe)
}
