//! A lock-free, insert-only map from keys to values, for per-key state that
//! is rare or long-lived next to request keys: workspace windows,
//! suspensions. (The keyed limiter's own table, which reclaims slots, is in
//! `keyed/table.rs`.)
//!
//! # Layout: a fixed table, no pointers
//!
//! [`KeyedCells`] is one table of `capacity` slots placed by a
//! [`Place`] (the heap, or a shared segment every process maps at its own
//! address). A slot is the key's identity, one 16-byte atomic pair
//! `(tag, extra)`, followed inline by its value `V`:
//!
//! ```text
//!  slot i: [ identity: (tag, extra), 16 bytes | value: V ]
//! ```
//!
//! Every value is written when the table is built, by the same `make` for
//! every slot (so it may not depend on the key), long before any key
//! claims it: on the heap before the map is shared with other threads, in a
//! segment before the segment is published ready. A key then claims a
//! slot by one CAS of its identity from [`EMPTY`] to its own `(tag, extra)`
//! and from then on uses the value already there. There is no state
//! between "free" and "this key's": a thread or process stopped or killed
//! at any instruction leaves every slot either free or fully claimed, and
//! nothing ever waits for another claimer. A thread that loses the CAS to
//! the same key uses the winner's slot; to another key, it probes on.
//!
//! Slots are never freed before the map is dropped (or its segment
//! removed), and fill in probe order, so a lookup stops at the first free
//! slot of its probe run. A key whose probe run (64 slots) is full of
//! other keys gets no slot: the caller decides what that means.
//!
//! Keys are stored as the keyed limiter stores them: `u64` ids exactly
//! (`extra` 0), byte keys as 128-bit SipHash-1-3 fingerprints under the
//! map's secret (random on the heap, the segment header's when shared, so
//! every process fingerprints alike). The free identity `(0, u64::MAX)` is
//! no `u64` key's; a byte key's fingerprint equals it with probability
//! 2^-128, the same odds as two byte keys sharing a slot.
//!
//! # API (for every kind that keeps per-key state here)
//!
//! * [`KeyedCells::placed`]`(capacity, hasher, place, make)`: the table,
//!   every value from `make`; `V` must be [`Shareable`] (atomics only), so
//!   the same map works in a segment. Errors: [`Error::ZeroCapacity`],
//!   [`Error::CapacityTooLarge`] (past [`MAX_KEYED_CELLS`]),
//!   [`Error::AllocationFailed`].
//! * [`with_key`](KeyedCells::with_key): validates a key and hands its
//!   stored form to a closure (the keyed kinds' one answer shape).
//! * [`get`](KeyedCells::get): a key's value if it has a slot;
//!   [`get_or_insert`](KeyedCells::get_or_insert): the same, claiming a
//!   free slot for a new key; `None` when its probe run is full.
//! * [`len`](KeyedCells::len), [`capacity`](KeyedCells::capacity),
//!   [`is_shared`](KeyedCells::is_shared).
//!
//! Values that are not `Shareable` (a `KeyedInFlight`'s heap-allocated
//! caps) live in `boxed.rs`'s heap-only form instead.
//!
//! # Memory orderings
//!
//! The identity carries no data: the value it names was written before the
//! map was shared, and every access to the value is an atomic with its own
//! ordering. So every identity load and CAS is Relaxed; coherence alone
//! gives a lookup that happens after another thread's claim (or after any
//! of its reads of the slot) that claim or a later state, never a free slot.

pub(crate) mod boxed;

use crate::core::alloc::{Place, Placed, Shareable, Slab};
use crate::core::error::{Error, Result};
use crate::keyed::{AtomicPair, Key, KeyHasher, PairBits, StoredKey};
use crate::sync::{AtomicU64, Ordering};
use std::marker::PhantomData;

/// How many consecutive slots from its home a key may be placed in.
const PROBE_RUN: usize = 64;

/// The most slots a map may have: 2^28 (at least 4 GiB of slots), far more
/// than workspaces or suspended keys need; more is [`Error::CapacityTooLarge`].
pub const MAX_KEYED_CELLS: usize = 1 << 28;

/// An insert-only map of `K` to `V`, in a fixed table (see the module docs).
pub(crate) struct KeyedCells<K: Key + ?Sized, V> {
    slots: Slab<Slot<V>>,
    hasher: KeyHasher,
    /// Slots claimed so far.
    live: Placed<AtomicU64>,
    _key: PhantomData<fn(&K)>,
}

/// One slot: whose it is, and its value.
struct Slot<V> {
    identity: AtomicPair<Identity>,
    value: V,
}

// SAFETY: a 16-byte atomic (`Shareable`) and a `Shareable` value: no
// pointer, no Drop, only atomics.
unsafe impl<V: Shareable> Shareable for Slot<V> {}

/// A key as a slot records it: its stored form's two halves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Identity {
    tag: u64,
    extra: u64,
}

/// The identity of a slot no key has claimed (see the module docs).
const EMPTY: Identity = Identity {
    tag: 0,
    extra: u64::MAX,
};

impl Identity {
    fn of<S: StoredKey>(key: S) -> Self {
        Self {
            tag: key.tag(),
            extra: key.extra(),
        }
    }
}

impl PairBits for Identity {
    /// The single place an identity's 128-bit layout is defined: tag high,
    /// extra low.
    #[inline]
    fn into_bits(self) -> u128 {
        (u128::from(self.tag) << 64) | u128::from(self.extra)
    }

    #[inline]
    fn from_bits(bits: u128) -> Self {
        Self {
            tag: (bits >> 64) as u64,
            extra: bits as u64,
        }
    }
}

impl<K: Key + ?Sized, V: Shareable> KeyedCells<K, V> {
    /// A map of `capacity` slots in `place`, each slot's value from `make`
    /// (the same for every slot), keys stored under `hasher`.
    pub(crate) fn placed(
        capacity: usize,
        hasher: KeyHasher,
        place: &mut Place,
        mut make: impl FnMut() -> V,
    ) -> Result<Self> {
        check_capacity(capacity)?;
        Ok(Self {
            slots: place.filled(capacity, || Slot {
                identity: AtomicPair::new(EMPTY),
                value: make(),
            })?,
            hasher,
            live: place.one(|| AtomicU64::new(0))?,
            _key: PhantomData,
        })
    }
}

impl<K: Key + ?Sized, V> KeyedCells<K, V> {
    /// Validates `key` and hands its stored form to `then`.
    #[inline]
    pub(crate) fn with_key<T>(&self, key: &K, then: impl FnOnce(K::Stored) -> T) -> K::Answer<T> {
        key.with_stored(&self.hasher, then)
    }

    /// Keys holding a slot.
    pub(crate) fn len(&self) -> usize {
        // Relaxed: a monitoring count.
        self.live.load(Ordering::Relaxed) as usize
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Whether the table is in a shared segment.
    pub(crate) fn is_shared(&self) -> bool {
        self.slots.is_shared()
    }

    /// `key`'s value, if it has a slot.
    #[inline]
    pub(crate) fn get(&self, key: K::Stored) -> Option<&V> {
        let identity = Identity::of(key);
        for index in probe_run(key, self.slots.len()) {
            let slot = &self.slots[index];
            // Relaxed: see the module docs (the identity carries no data).
            match slot.identity.load(Ordering::Relaxed) {
                held if held == identity => return Some(&slot.value),
                // Slots fill in probe order and are never freed.
                EMPTY => return None,
                _ => {}
            }
        }
        None
    }

    /// `key`'s value, claiming a free slot for it if it has none; `None`
    /// when its probe run is full of other keys.
    #[inline]
    pub(crate) fn get_or_insert(&self, key: K::Stored) -> Option<&V> {
        let identity = Identity::of(key);
        for index in probe_run(key, self.slots.len()) {
            let slot = &self.slots[index];
            // Relaxed: see the module docs.
            let mut held = slot.identity.load(Ordering::Relaxed);
            if held == EMPTY {
                // Relaxed both ways: the claim publishes nothing but itself
                // (the value was written before the map was shared).
                match slot.identity.compare_exchange(
                    EMPTY,
                    identity,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(()) => {
                        // Relaxed: a monitoring count.
                        self.live.fetch_add(1, Ordering::Relaxed);
                        return Some(&slot.value);
                    }
                    Err(winner) => held = winner,
                }
            }
            if held == identity {
                return Some(&slot.value);
            }
        }
        None
    }
}

/// [`Error::ZeroCapacity`] or [`Error::CapacityTooLarge`] for a table no
/// map may have.
fn check_capacity(capacity: usize) -> Result<()> {
    if capacity == 0 {
        Err(Error::ZeroCapacity)
    } else if capacity > MAX_KEYED_CELLS {
        Err(Error::CapacityTooLarge)
    } else {
        Ok(())
    }
}

/// Slot indices of `key`'s probe run in a table of `len` slots, in order.
#[inline]
fn probe_run<S: StoredKey>(key: S, len: usize) -> impl Iterator<Item = usize> {
    // Multiply-shift maps 64 uniform bits onto 0..len without a division.
    let home = ((u128::from(key.home()) * len as u128) >> 64) as usize;
    (0..PROBE_RUN.min(len)).map(move |distance| (home + distance) % len)
}
