//! One counter's state, apart from its window length and clock: what a
//! [`SlidingWindow`](super::SlidingWindow) keeps, and what
//! [`KeyedWindows`](super::keyed::KeyedWindows) keeps per key in its map
//! (on the heap or in a shared segment: atomics only).

use super::estimate::{self, Estimate, Position};
use super::word::WindowWord;
use crate::core::alloc::Shareable;
use crate::core::decision::Decision;
use crate::sync::{AtomicU64, Backoff, Ordering};

/// A counter's three words; a check reads all of them, so they share a
/// cache line.
pub(crate) struct WindowState {
    /// The [`WindowWord`]: the counts and their window.
    word: AtomicU64,
    /// The latest window (`now_ns / window_ns`, not wrapped) any check or
    /// refund has been given. Only grows; the word is never in a later one.
    latest: AtomicU64,
    /// The limit in force (valid: checked before every store).
    limit: AtomicU64,
}

// SAFETY: three atomic integers: no pointer, no Drop.
unsafe impl Shareable for WindowState {}

impl WindowState {
    /// An empty counter of `limit` (a valid one).
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            word: AtomicU64::new(WindowWord::EMPTY.into_bits()),
            latest: AtomicU64::new(0),
            limit: AtomicU64::new(limit),
        }
    }

    pub(crate) fn limit(&self) -> u64 {
        // Relaxed: the limit is a standalone value; the counts never depend on it.
        self.limit.load(Ordering::Relaxed)
    }

    /// Replaces the limit with `limit`, a valid one.
    pub(crate) fn set_limit(&self, limit: u64) {
        // Relaxed: see `limit`.
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Decides `cost` at `now_ns` in windows of `window_ns`, charging it
    /// when admitted.
    pub(crate) fn check_at(&self, window_ns: u64, cost: u64, now_ns: u64) -> Decision {
        self.update(window_ns, now_ns, |word, limit, at| {
            estimate::evaluate(word, limit, window_ns, at, cost)
        })
    }

    /// Gives back `amount` at `now_ns`.
    pub(crate) fn refund_at(&self, window_ns: u64, amount: u64, now_ns: u64) -> Decision {
        self.update(window_ns, now_ns, |word, limit, at| {
            estimate::refund(word, limit, window_ns, at, amount)
        })
    }

    /// What a check would decide under `limit` (a valid one), without charging.
    pub(crate) fn probe_under_at(
        &self,
        window_ns: u64,
        limit: u64,
        cost: u64,
        now_ns: u64,
    ) -> Decision {
        // Acquire: see `update`.
        let word = WindowWord::from_bits(self.word.load(Ordering::Acquire));
        let at = self.position(window_ns, now_ns, false);
        estimate::evaluate(word, limit, window_ns, &at, cost).decision
    }

    /// Where a check stamped `now_ns` is decided, read after the word it
    /// decides on; when `advance`, first moving the counter's latest window
    /// up to `now_ns`'s.
    fn position(&self, window_ns: u64, now_ns: u64, advance: bool) -> Position {
        let index = now_ns / window_ns;
        // Relaxed: the word's window is published by the word (see `update`).
        let mut latest = self.latest.load(Ordering::Relaxed);
        if advance && index > latest {
            // Relaxed: any word stored after it is a Release that publishes it.
            latest = self.latest.fetch_max(index, Ordering::Relaxed).max(index);
        }
        Position::new(now_ns, window_ns, latest)
    }

    /// The CAS loop every check and refund stamped `now_ns` runs.
    ///
    /// A word stored in window `X` follows, in its storer's thread, a read
    /// or raise of `latest` to at least `X`. Each pass acquires the word,
    /// then reads `latest`, so it reads at least `X`: the word is never in a
    /// window after the one the pass decides in, whatever its 22-bit index.
    fn update(
        &self,
        window_ns: u64,
        now_ns: u64,
        mut step: impl FnMut(WindowWord, u64, &Position) -> Estimate,
    ) -> Decision {
        let limit = self.limit();
        // Acquire: pairs with the storing CAS's Release, see above.
        let mut current = WindowWord::from_bits(self.word.load(Ordering::Acquire));
        let backoff = Backoff::new();
        loop {
            let at = self.position(window_ns, now_ns, true);
            let evaluation = step(current, limit, &at);
            let Some(next) = evaluation.next else {
                return evaluation.decision;
            };
            // Release on success, Acquire on failure: see above.
            match self.word.compare_exchange_weak(
                current.into_bits(),
                next.into_bits(),
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => return evaluation.decision,
                Err(actual) => {
                    current = WindowWord::from_bits(actual);
                    backoff.spin();
                }
            }
        }
    }
}
