//! [`KeyedInFlight`]: an in-flight cap per key (GenieOS: the batch endpoint
//! allows 4 calls in flight per workspace).
//!
//! In one process, each key's [`InFlight`] lives in a lock-free
//! insert-only map of heap cells (`src/map/boxed.rs`), created by the
//! key's first acquire. Shared, the caps cannot be heap cells: the map
//! (`src/map`) holds inline, for each of its slots, the index of one cap
//! in a table of `capacity` shared caps (`shared.rs`) laid out with it, so
//! a key's slot names its cap in every process.

use super::shared::SharedCaps;
use super::{
    acquire_shared, check_holder_fits, release_shared, shared_owner, validate_max, Acquisition,
    InFlight, PermitToken,
};
use crate::core::alloc::Place;
use crate::core::error::{Error, Result};
use crate::keyed::{Key, KeyHasher, DEFAULT_CAPACITY};
use crate::map::boxed::BoxedCells;
use crate::map::KeyedCells;
use crate::shm::header::{Description, Kind, Limits};
use crate::shm::{process, segment, SharedMemory};
use crate::sync::{AtomicU64, Ordering};
use std::marker::PhantomData;

/// At most `max` permits held at once per key.
///
/// Keyed calls answer in the one shape of every keyed kind (see
/// [`Key`](crate::Key#one-answer-shape-for-keyed-calls)): a refusal is data
/// in the answer; `Err(`[`Error`]`)` is a bad key, a full
/// table or bad input, and changes nothing.
///
/// Built only by [`KeyedInFlight::builder`]: no kind in this crate has `new` or
/// another constructor.
///
/// ```
/// use floodgate::KeyedInFlight;
///
/// let batches = KeyedInFlight::<u64>::builder(4).capacity(10_000).build()?;
/// let held: Vec<_> = (0..4).map(|_| batches.try_acquire(&7).unwrap().permit().unwrap()).collect();
/// assert!(!batches.try_acquire(&7)?.is_granted()); // a fifth batch for workspace 7 waits
/// assert!(batches.try_acquire(&8)?.is_granted()); // workspace 8 has its own cap
/// drop(held);
/// assert!(batches.try_acquire(&7)?.is_granted());
/// # Ok::<(), floodgate::Error>(())
/// ```
pub struct KeyedInFlight<K: Key + ?Sized> {
    caps: Caps<K>,
    max: u64,
}

/// Where the keys' caps are kept (see the module docs).
enum Caps<K: Key + ?Sized> {
    Local(BoxedCells<K, InFlight>),
    Shared {
        /// Each slot's value: the index of its cap in `caps`.
        cells: KeyedCells<K, AtomicU64>,
        caps: SharedCaps,
    },
}

/// Configures a [`KeyedInFlight`]; start with [`KeyedInFlight::builder`].
/// Caps read no clock, so this builder has no `clock`.
///
/// ```
/// use floodgate::{Error, KeyedInFlight};
/// let caps = KeyedInFlight::<str>::builder(4).capacity(1_000).build()?;
/// assert_eq!(caps.limit(), 4);
/// assert_eq!(KeyedInFlight::<str>::builder(4).capacity(0).build().err(), Some(Error::ZeroCapacity));
/// assert_eq!(KeyedInFlight::<str>::builder(0).build().err(), Some(Error::ZeroLimit));
/// # Ok::<(), floodgate::Error>(())
/// ```
#[must_use]
pub struct KeyedInFlightBuilder<K: Key + ?Sized> {
    max: u64,
    capacity: usize,
    shared: Option<SharedMemory>,
    _key: PhantomData<fn(&K)>,
}

impl<K: Key + ?Sized> KeyedInFlight<K> {
    /// A builder for caps of `max` per key. Default capacity: 65 536 keys.
    ///
    /// This builder is the only way to make the table, as for every kind in
    /// this crate.
    pub fn builder(max: u64) -> KeyedInFlightBuilder<K> {
        KeyedInFlightBuilder {
            max,
            capacity: DEFAULT_CAPACITY,
            shared: None,
            _key: PhantomData,
        }
    }
}

impl<K: Key + ?Sized> KeyedInFlightBuilder<K> {
    /// The most keys the table holds (at most
    /// [`MAX_KEYED_CELLS`](crate::MAX_KEYED_CELLS)); a key keeps its cap
    /// until the table is dropped. Built [`shared`](Self::shared), every
    /// key's cap is allocated up front: `8 * (max + max / 64 + 2)` bytes per
    /// key, with its slot of the map.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Keeps the caps in the segment `shared`, so that every process
    /// building them with it shares each key's `max` (see
    /// [`SharedMemory`]). Every process must give the same max and
    /// capacity ([`Error::SegmentMismatch`] on the field `"options"` for
    /// the max, `"capacity"` for the capacity). Permits of a process that
    /// dies come back as a shared [`InFlight`]'s do
    /// ([`InFlightBuilder::shared`](crate::InFlightBuilder::shared)).
    ///
    /// ```
    /// use floodgate::{KeyedInFlight, SharedMemory};
    /// let shared = SharedMemory::named(&format!("doc-keyed-inflight-{}", std::process::id()))?;
    /// let build = || KeyedInFlight::<str>::builder(1).capacity(1_000).shared(shared.clone()).build();
    /// let (worker_one, worker_two) = (build()?, build()?);
    /// let _held = worker_one.try_acquire("alice")?.permit().unwrap();
    /// assert!(!worker_two.try_acquire("alice")?.is_granted());
    /// assert!(worker_two.try_acquire("bob")?.is_granted() && worker_two.is_shared());
    /// # shared.remove()?;
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn shared(mut self, shared: SharedMemory) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The table, or the errors of
    /// [`InFlightBuilder::build`](crate::InFlightBuilder::build), or
    /// [`Error::ZeroCapacity`] / [`Error::CapacityTooLarge`] /
    /// [`Error::AllocationFailed`]; built [`shared`](Self::shared), also
    /// the segment's.
    pub fn build(self) -> Result<KeyedInFlight<K>> {
        validate_max(self.max)?;
        let (max, capacity) = (self.max, self.capacity);
        let Some(shared) = self.shared else {
            return Ok(KeyedInFlight {
                caps: Caps::Local(BoxedCells::new(capacity)?),
                max,
            });
        };
        check_holder_fits()?;
        let description = Description {
            kind: Kind::keyed::<K::Stored>(
                Kind::KeyedInFlightExact,
                Kind::KeyedInFlightFingerprint,
            ),
            // Caps limit no rate: only their kind, capacity and max differ.
            limits: Limits::Unlimited,
            capacity: capacity as u64,
            options: max,
        };
        segment::open(
            &shared,
            &description,
            |place| {
                KeyedInFlight::<K>::placed(max, capacity, KeyHasher::from_secret([0; 4]), 0, place)
                    .map(drop)
            },
            |place, secret| {
                KeyedInFlight::placed(
                    max,
                    capacity,
                    KeyHasher::from_secret(secret),
                    shared_owner(secret),
                    place,
                )
            },
        )
    }
}

impl<K: Key + ?Sized> KeyedInFlight<K> {
    /// Caps of `max` (validated) for `capacity` keys laid out for a
    /// segment, in `place`; `owner` names them in tokens.
    fn placed(
        max: u64,
        capacity: usize,
        hasher: KeyHasher,
        owner: u64,
        place: &mut Place,
    ) -> Result<Self> {
        // `Place` makes a table's values in slot order: each slot's value
        // is its own index, and so its cap's.
        let mut next = 0;
        let cells = KeyedCells::placed(capacity, hasher, place, || {
            next += 1;
            AtomicU64::new(next - 1)
        })?;
        Ok(Self {
            caps: Caps::Shared {
                caps: SharedCaps::placed(capacity, max, owner, place)?,
                cells,
            },
            max,
        })
    }

    /// Whether the caps live in a shared segment.
    ///
    /// ```
    /// assert!(!floodgate::KeyedInFlight::<u64>::builder(4).build()?.is_shared());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn is_shared(&self) -> bool {
        match &self.caps {
            Caps::Local(_) => false,
            Caps::Shared { cells, .. } => cells.is_shared(),
        }
    }
}

impl<K: Key + ?Sized> KeyedInFlight<K> {
    /// A permit for `key` if fewer than `max` are held, else the refusal,
    /// both as data; `Err` for a bad key or [`Error::TableFull`] (no room
    /// for a new key's cap).
    pub fn try_acquire(&self, key: &K) -> Result<Acquisition<'_>> {
        match &self.caps {
            Caps::Local(cells) => K::into_result(cells.with_key(key, |stored| {
                cells
                    .get_or_insert_with(stored, || InFlight::validated(self.max))
                    .map(InFlight::try_acquire)
                    .ok_or(Error::TableFull)
            })),
            Caps::Shared { cells, caps } => K::into_result(cells.with_key(key, |stored| {
                let index = cells.get_or_insert(stored).ok_or(Error::TableFull)?;
                Ok(acquire_shared(caps, cap_index(index), process::id()))
            })),
        }
    }

    /// Releases a permit taken as a token ([`Permit::into_token`](crate::Permit::into_token)) for
    /// `key`: [`Error::PermitAlreadyReleased`] twice, [`Error::ForeignPermit`]
    /// for another key's token (or, shared, another process's). Returns how
    /// many are still held.
    pub fn release(&self, key: &K, token: PermitToken) -> Result<u64> {
        match &self.caps {
            Caps::Local(cells) => K::into_result(cells.with_key(key, |stored| {
                cells
                    .get(stored)
                    .ok_or(Error::ForeignPermit)?
                    .release(token)
            })),
            Caps::Shared { cells, caps } => K::into_result(cells.with_key(key, |stored| {
                let index = cells.get(stored).ok_or(Error::ForeignPermit)?;
                release_shared(caps, cap_index(index), token)
            })),
        }
    }

    /// Permits `key` holds now.
    pub fn in_flight(&self, key: &K) -> K::Answer<u64> {
        match &self.caps {
            Caps::Local(cells) => cells.with_key(key, |stored| {
                cells.get(stored).map_or(0, InFlight::in_flight)
            }),
            Caps::Shared { cells, caps } => cells.with_key(key, |stored| {
                cells
                    .get(stored)
                    .map_or(0, |index| caps.cap(cap_index(index)).in_flight())
            }),
        }
    }

    /// The cap per key.
    pub fn limit(&self) -> u64 {
        self.max
    }
}

/// The cap a map slot's value names.
fn cap_index(value: &AtomicU64) -> usize {
    // Relaxed: written before the map was shared (or its segment
    // published), never changed. Below the capacity: fits in usize.
    value.load(Ordering::Relaxed) as usize
}
