//! The local lease bucket: tokens the fleet's GCRA state has already been
//! charged for, spent here by one compare-and-swap each.
//!
//! A bucket is one word, so a check is one CAS with no lock, no I/O and no
//! allocation:
//!
//! ```text
//!  63                         26   25        24     23        0
//! [ until: ms on the limiter's clock | denied | refilling | tokens ]
//! ```
//!
//! * `tokens`: requests this host may still admit. Every one was debited
//!   from the Redis bucket by the lease script before it was put here,
//!   which is what makes over-admission impossible: a token is spent at
//!   most once (by the CAS that takes it), and only after the fleet paid.
//! * `until`: while `denied` is clear, the instant the tokens stop being
//!   valid (when the fleet's debt that paid for them has drained, see
//!   `table.rs`); while `denied` is set, the instant the fleet fits one
//!   request again, before which a check is denied here.
//! * `denied` with `until` at its largest value is a **closed** bucket:
//!   its limiter was dropped. A lease landing on it is refused whole, to be
//!   given back; with the close a read-modify-write of the same word, a
//!   landing lease is either drained by the close or refused by it, never
//!   kept by neither.
//! * `refilling`: a lease request is in flight. The check that sets it
//!   (by the CAS that crosses the low-water mark, or finds the bucket
//!   empty) is the one caller that asks Redis; [`fund`](LeaseBucket::fund),
//!   [`deny`](LeaseBucket::deny) or [`abandon`](LeaseBucket::abandon) clears it.
//!
//! 24 bits of tokens bound a lease at [`MAX_LEASE`]; 38 bits of
//! milliseconds last 8.7 years from the limiter's start.
//!
//! # Memory orderings
//!
//! Every access is Relaxed: the word is its own whole message. A token's
//! worth was settled in Redis before the word was written, and no other
//! memory is published by it; the atomicity of each read-modify-write is
//! all that keeps a token from being spent twice or lost
//! (`tests/loom_lease.rs` checks both).

use crate::sync::{AtomicU64, Ordering};

const TOKEN_BITS: u32 = 24;
const TOKEN_MASK: u64 = (1 << TOKEN_BITS) - 1;
const REFILLING: u64 = 1 << TOKEN_BITS;
const DENIED: u64 = 1 << (TOKEN_BITS + 1);
const UNTIL_SHIFT: u32 = TOKEN_BITS + 2;

/// The most tokens one bucket holds, and so the largest lease.
pub const MAX_LEASE: u64 = TOKEN_MASK;

/// The latest instant a word can name, in milliseconds.
pub const MAX_UNTIL_MS: u64 = (1 << (64 - UNTIL_SHIFT)) - 1;

/// One bucket's packed word (see the module docs for the layout).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Snapshot(u64);

impl Snapshot {
    /// An empty bucket, no request in flight.
    const EMPTY: Snapshot = Snapshot(0);

    /// A word that is not closed: `until_ms` stops short of the closed mark.
    fn new(tokens: u64, until_ms: u64, denied: bool, refilling: bool) -> Self {
        debug_assert!(tokens <= MAX_LEASE);
        let until = until_ms.min(MAX_UNTIL_MS - 1) << UNTIL_SHIFT;
        let flags = if denied { DENIED } else { 0 } | if refilling { REFILLING } else { 0 };
        Self(until | flags | tokens)
    }

    /// The word's bits, to compare two snapshots over time.
    pub fn bits(self) -> u64 {
        self.0
    }

    /// Tokens in the word, valid or not.
    pub fn tokens(self) -> u64 {
        self.0 & TOKEN_MASK
    }

    /// Whether a lease request is in flight.
    pub fn refilling(self) -> bool {
        self.0 & REFILLING != 0
    }

    /// Whether the fleet denied the last request for this key.
    pub fn denied(self) -> bool {
        self.0 & DENIED != 0
    }

    /// Whether the bucket's limiter closed it.
    pub fn closed(self) -> bool {
        self.denied() && self.until_ms() == MAX_UNTIL_MS
    }

    /// The instant the tokens expire (or, when denied, the denial ends).
    pub fn until_ms(self) -> u64 {
        self.0 >> UNTIL_SHIFT
    }

    /// Tokens that may be spent at `now_ms`: none once they expired.
    pub fn valid_tokens(self, now_ms: u64) -> u64 {
        if self.denied() || now_ms >= self.until_ms() {
            0
        } else {
            self.tokens()
        }
    }

    fn with_refilling(self) -> Self {
        Self(self.0 | REFILLING)
    }

    fn without_tokens(self) -> Self {
        Self(self.0 & !TOKEN_MASK)
    }
}

/// What [`LeaseBucket::take`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Take {
    /// The cost was spent from the lease; `left` tokens remain. `refill`:
    /// this caller crossed the low-water mark and won the right to ask for
    /// the next lease (in the background).
    Spent {
        /// Valid tokens left after this take.
        left: u64,
        /// Whether this caller must request the next lease.
        refill: bool,
    },
    /// The fleet denied this key until `until_ms`: deny without asking.
    Denied {
        /// When one request fits again.
        until_ms: u64,
    },
    /// Not enough valid tokens. `refill`: this caller won the right to ask
    /// for a lease now; otherwise a request is in flight already.
    Empty {
        /// Whether this caller must request the next lease.
        refill: bool,
    },
}

/// One key's local lease bucket (see the module docs).
///
/// ```
/// use floodgate::store::lease::{LeaseBucket, Take};
///
/// let bucket = LeaseBucket::new();
/// assert_eq!(bucket.take(1, 0, 0), Take::Empty { refill: true });
/// assert_eq!(bucket.fund(4, 100, 0), 0); // 4 tokens until 100 ms
/// assert_eq!(bucket.take(1, 10, 1), Take::Spent { left: 3, refill: false });
/// assert_eq!(bucket.take(2, 10, 2), Take::Spent { left: 1, refill: true }); // below 2: refill
/// assert_eq!(bucket.take(1, 100, 1), Take::Empty { refill: false }); // expired, refill in flight
/// ```
#[derive(Debug)]
pub struct LeaseBucket {
    word: AtomicU64,
}

impl Default for LeaseBucket {
    fn default() -> Self {
        Self::new()
    }
}

impl LeaseBucket {
    /// An empty bucket: its first take wins the first lease request.
    pub fn new() -> Self {
        Self {
            word: AtomicU64::new(Snapshot::EMPTY.0),
        }
    }

    /// The word as it is now.
    pub fn snapshot(&self) -> Snapshot {
        // Relaxed: see the module docs.
        Snapshot(self.word.load(Ordering::Relaxed))
    }

    /// Replaces `seen` by `next` if the word still holds it.
    fn swap(&self, seen: Snapshot, next: Snapshot) -> Result<(), Snapshot> {
        // Relaxed both ways: see the module docs.
        self.word
            .compare_exchange_weak(seen.0, next.0, Ordering::Relaxed, Ordering::Relaxed)
            .map(drop)
            .map_err(Snapshot)
    }

    /// Spends `cost` tokens at `now_ms` if that many are valid. A take that
    /// leaves fewer than `low_water` tokens, or finds too few, claims the
    /// refill unless one is in flight.
    pub fn take(&self, cost: u64, now_ms: u64, low_water: u64) -> Take {
        let mut seen = self.snapshot();
        loop {
            if seen.denied() && now_ms < seen.until_ms() {
                return Take::Denied {
                    until_ms: seen.until_ms(),
                };
            }
            let valid = seen.valid_tokens(now_ms);
            let (next, taken) = if valid >= cost {
                let left = valid - cost;
                let claim = left < low_water && !seen.refilling();
                let next = Snapshot(seen.0 - cost);
                (
                    if claim { next.with_refilling() } else { next },
                    Some((left, claim)),
                )
            } else if seen.refilling() {
                return Take::Empty { refill: false };
            } else {
                (seen.with_refilling(), None)
            };
            match self.swap(seen, next) {
                Ok(()) => {
                    return match taken {
                        Some((left, refill)) => Take::Spent { left, refill },
                        None => Take::Empty { refill: true },
                    }
                }
                Err(held) => seen = held,
            }
        }
    }

    /// Adds a lease of `granted` tokens valid until `until_ms` to the
    /// tokens still valid at `now_ms`, and ends the refill. Returns the
    /// tokens that did not fit the word, for the caller to give back.
    /// A closed bucket refuses the whole lease.
    pub fn fund(&self, granted: u64, until_ms: u64, now_ms: u64) -> u64 {
        let mut seen = self.snapshot();
        loop {
            if seen.closed() {
                return granted;
            }
            let total = seen.valid_tokens(now_ms) + granted;
            let kept = total.min(MAX_LEASE);
            let next = Snapshot::new(kept, until_ms, false, false);
            match self.swap(seen, next) {
                Ok(()) => return total - kept,
                Err(held) => seen = held,
            }
        }
    }

    /// Ends a refill the fleet answered with nothing: denied until
    /// `until_ms` unless valid tokens remain at `now_ms`, which stay.
    pub fn deny(&self, until_ms: u64, now_ms: u64) {
        let mut seen = self.snapshot();
        loop {
            let next = if seen.closed() {
                return;
            } else if seen.valid_tokens(now_ms) > 0 {
                Snapshot(seen.0 & !REFILLING)
            } else {
                Snapshot::new(0, until_ms, true, false)
            };
            match self.swap(seen, next) {
                Ok(()) => return,
                Err(held) => seen = held,
            }
        }
    }

    /// Ends a refill that got no answer (Redis failed): the tokens held
    /// stay valid until they expire.
    pub fn abandon(&self) {
        // Relaxed: see the module docs.
        self.word.fetch_and(!REFILLING, Ordering::Relaxed);
    }

    /// Puts back `cost` tokens taken by a check another layer denied; they
    /// are kept only while still valid at `now_ms`. Returns the tokens
    /// that could not be kept (expired, or past the word's capacity).
    pub fn put_back(&self, cost: u64, now_ms: u64) -> u64 {
        let mut seen = self.snapshot();
        loop {
            if seen.denied() || now_ms >= seen.until_ms() {
                return cost;
            }
            let kept = cost.min(MAX_LEASE - seen.tokens());
            match self.swap(seen, Snapshot(seen.0 + kept)) {
                Ok(()) => return cost - kept,
                Err(held) => seen = held,
            }
        }
    }

    /// [`drain`](Self::drain), if the word is still `seen`: a key used
    /// since is not idle. Returns the valid tokens taken (0 when it was not).
    pub fn reclaim(&self, seen: Snapshot, now_ms: u64) -> u64 {
        // Relaxed both ways: see the module docs.
        match self.word.compare_exchange(
            seen.0,
            seen.without_tokens().0,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => seen.valid_tokens(now_ms),
            Err(_) => 0,
        }
    }

    /// Closes the bucket (its limiter is dropped) and takes out every
    /// token still valid at `now_ms`, for a give-back. Leases landing
    /// later are refused by [`fund`](Self::fund).
    pub fn close(&self, now_ms: u64) -> u64 {
        let mut seen = self.snapshot();
        loop {
            let closed = Snapshot((MAX_UNTIL_MS << UNTIL_SHIFT) | DENIED);
            match self.swap(seen, closed) {
                Ok(()) => return seen.valid_tokens(now_ms),
                Err(held) => seen = held,
            }
        }
    }

    /// Takes every token still valid at `now_ms` out of the bucket, for a
    /// give-back; expired ones are dropped (their charge has drained).
    pub fn drain(&self, now_ms: u64) -> u64 {
        let mut seen = self.snapshot();
        loop {
            if seen.tokens() == 0 {
                return 0;
            }
            let valid = seen.valid_tokens(now_ms);
            match self.swap(seen, seen.without_tokens()) {
                Ok(()) => return valid,
                Err(held) => seen = held,
            }
        }
    }
}
