//! [`KeyedInFlight`]: an in-flight cap per key (GenieOS: the batch endpoint
//! allows 4 calls in flight per workspace).
//!
//! Each key's [`InFlight`] lives in a lock-free insert-only map
//! (`keyed_cells.rs`), created by the key's first acquire.

use crate::core::error::{Error, Result};
use crate::inflight::{AtCapacity, InFlight, Permit, PermitToken};
use crate::keyed::Key;
use crate::map::KeyedCells;

/// At most `max` permits held at once per key.
///
/// ```
/// use floodgate::KeyedInFlight;
///
/// let batches: KeyedInFlight<u64> = KeyedInFlight::new(4, 10_000)?;
/// let held: Vec<_> = (0..4).map(|_| batches.try_acquire(&7).unwrap().unwrap()).collect();
/// assert!(batches.try_acquire(&7)?.is_err()); // a fifth batch for workspace 7 waits
/// assert!(batches.try_acquire(&8)?.is_ok()); // workspace 8 has its own cap
/// drop(held);
/// assert!(batches.try_acquire(&7)?.is_ok());
/// # Ok::<(), floodgate::Error>(())
/// ```
pub struct KeyedInFlight<K: Key + ?Sized> {
    cells: KeyedCells<K, InFlight>,
    max: u64,
}

impl<K: Key + ?Sized> KeyedInFlight<K> {
    /// Caps of `max` for up to `capacity` keys.
    pub fn new(max: u64, capacity: usize) -> Result<Self> {
        InFlight::new(max)?;
        Ok(Self {
            cells: KeyedCells::new(capacity)?,
            max,
        })
    }

    /// A permit for `key` if fewer than `max` are held; the outer error is
    /// a bad key or [`Error::TableFull`] (no room for a new key's cap).
    pub fn try_acquire(&self, key: &K) -> Result<std::result::Result<Permit<'_>, AtCapacity>> {
        K::into_result(self.cells.with_key(key, |stored| {
            self.cells
                .get_or_insert_with(stored, || InFlight::validated(self.max))
                .map(InFlight::try_acquire)
                .ok_or(Error::TableFull)
        }))
    }

    /// Releases a permit taken as a token ([`Permit::into_token`]) for
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
