//! [`KeyedInFlight`]: an in-flight cap per key (GenieOS: the batch endpoint
//! allows 4 calls in flight per workspace).
//!
//! Each key's [`InFlight`] lives in a lock-free insert-only map
//! (`src/map`), created by the key's first acquire.

use crate::core::error::{Error, Result};
use crate::inflight::{validate_max, Acquisition, InFlight, PermitToken};
use crate::keyed::{Key, DEFAULT_CAPACITY};
use crate::map::boxed::BoxedCells;
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
    cells: BoxedCells<K, InFlight>,
    max: u64,
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
            _key: PhantomData,
        }
    }
}

impl<K: Key + ?Sized> KeyedInFlightBuilder<K> {
    /// The most keys the table holds (at most
    /// [`MAX_KEYED_CELLS`](crate::MAX_KEYED_CELLS)); a key keeps its cap
    /// until the table is dropped.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The table, or the errors of
    /// [`InFlightBuilder::build`](crate::InFlightBuilder::build), or
    /// [`Error::ZeroCapacity`] / [`Error::CapacityTooLarge`] /
    /// [`Error::AllocationFailed`].
    pub fn build(self) -> Result<KeyedInFlight<K>> {
        validate_max(self.max)?;
        Ok(KeyedInFlight {
            cells: BoxedCells::new(self.capacity)?,
            max: self.max,
        })
    }
}

impl<K: Key + ?Sized> KeyedInFlight<K> {
    /// A permit for `key` if fewer than `max` are held, else the refusal,
    /// both as data; `Err` for a bad key or [`Error::TableFull`] (no room
    /// for a new key's cap).
    pub fn try_acquire(&self, key: &K) -> Result<Acquisition<'_>> {
        K::into_result(self.cells.with_key(key, |stored| {
            self.cells
                .get_or_insert_with(stored, || InFlight::validated(self.max))
                .map(InFlight::try_acquire)
                .ok_or(Error::TableFull)
        }))
    }

    /// Releases a permit taken as a token ([`Permit::into_token`](crate::Permit::into_token)) for
    /// `key`: [`Error::PermitAlreadyReleased`] twice, [`Error::ForeignPermit`]
    /// for another key's token. Returns how many are still held.
    pub fn release(&self, key: &K, token: PermitToken) -> Result<u64> {
        K::into_result(self.cells.with_key(key, |stored| {
            self.cells
                .get(stored)
                .ok_or(Error::ForeignPermit)?
                .release(token)
        }))
    }

    /// Permits `key` holds now.
    pub fn in_flight(&self, key: &K) -> K::Answer<u64> {
        self.cells.with_key(key, |stored| {
            self.cells.get(stored).map_or(0, InFlight::in_flight)
        })
    }

    /// The cap per key.
    pub fn limit(&self) -> u64 {
        self.max
    }
}
