//! Monitoring counters that many threads bump at once, cheaply.
//!
//! Each of the first [`OWNED_STRIPES`] threads to count anything gets a stripe
//! of its own in every counter: it is that stripe's only writer, so it adds
//! with a plain load and store (no locked instruction, no shared cache line).
//! Later threads share the remaining stripes and add with `fetch_add`. A read
//! sums the stripes; it may miss adds still in flight, never lose one.

use crate::sync::{AtomicU64, Ordering};
use crossbeam_utils::CachePadded;

/// Stripes owned by exactly one thread each.
const OWNED_STRIPES: usize = 16;
/// Stripes shared by every later thread.
const SHARED_STRIPES: usize = 4;

/// One monotonically increasing count, striped across cache lines.
pub(crate) struct StripedCounter {
    stripes: [CachePadded<AtomicU64>; OWNED_STRIPES + SHARED_STRIPES],
}

/// Which stripe this thread adds to, and whether it owns it.
#[derive(Clone, Copy)]
struct Stripe {
    index: usize,
    owned: bool,
}

impl StripedCounter {
    pub(crate) fn new() -> Self {
        Self {
            stripes: std::array::from_fn(|_| CachePadded::new(AtomicU64::new(0))),
        }
    }

    #[inline]
    pub(crate) fn add(&self, amount: u64) {
        let stripe = stripe();
        let cell = &self.stripes[stripe.index];
        // Relaxed throughout: a monitoring count orders nothing else.
        if stripe.owned {
            // Sole writer: no other thread can add between load and store.
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(amount),
                Ordering::Relaxed,
            );
        } else {
            cell.fetch_add(amount, Ordering::Relaxed);
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.stripes
            .iter()
            // Relaxed: see `add`.
            .map(|stripe| stripe.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// This thread's stripe, assigned on first use.
#[inline]
fn stripe() -> Stripe {
    // A plain std atomic: it only hands out stripe numbers and takes part in
    // no protocol loom checks (loom atomics cannot be statics).
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Stripe = {
            let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Loom runs its threads on one OS thread, so they would share a
            // thread-local stripe: there every stripe is shared.
            if number < OWNED_STRIPES && !cfg!(loom) {
                Stripe { index: number, owned: true }
            } else {
                Stripe { index: OWNED_STRIPES + number % SHARED_STRIPES, owned: false }
            }
        };
    }
    STRIPE.with(|stripe| *stripe)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn many_threads_lose_no_add() {
        let counter = StripedCounter::new();
        thread::scope(|scope| {
            for _ in 0..(OWNED_STRIPES + 2 * SHARED_STRIPES) {
                scope.spawn(|| {
                    for _ in 0..10_000 {
                        counter.add(1);
                    }
                });
            }
        });
        assert_eq!(
            counter.total(),
            (OWNED_STRIPES + 2 * SHARED_STRIPES) as u64 * 10_000
        );
    }
}
