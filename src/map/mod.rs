//! A lock-free, insert-only map from keys to values, for per-key state that
//! is rare or long-lived next to request keys: workspace windows,
//! suspensions. (The keyed limiter's own table, which reclaims slots, is in
//! `keyed/table.rs`.)
//!
//! Each slot is an `AtomicPtr` to a heap cell holding the key's identity and
//! its value. A new key allocates its cell and publishes it with one CAS on
//! the first empty slot of its probe run; a thread that loses that race to
//! the same key frees its cell and uses the winner's. Cells are never removed
//! before the map is dropped, so a reader never meets freed memory and no
//! operation takes a lock. A key whose probe run is full of other keys gets
//! no cell: the caller decides what that means.
//!
//! Keys are stored as the keyed limiter stores them: `u64` ids exactly, byte
//! keys as 128-bit SipHash-1-3 fingerprints under a per-map random key.

use crate::core::error::{Error, Result};
use crate::keyed::{Key, KeyHasher, StoredKey};
use crate::sync::{AtomicPtr, AtomicU64, Ordering};
use std::marker::PhantomData;
use std::ptr;

/// How many consecutive slots from its home a key may be placed in.
const PROBE_RUN: usize = 64;

/// The most slots a map may have: 2^28 (2 GiB of slot pointers), far more
/// than workspaces or suspended keys need; more is [`Error::CapacityTooLarge`].
pub const MAX_KEYED_CELLS: usize = 1 << 28;

pub(crate) struct KeyedCells<K: Key + ?Sized, V> {
    slots: Box<[AtomicPtr<Cell<V>>]>,
    hasher: KeyHasher,
    live: AtomicU64,
    _key: PhantomData<fn(&K)>,
}

/// One key's value, with the identity that tells it from other keys.
struct Cell<V> {
    tag: u64,
    extra: u64,
    value: V,
}

impl<K: Key + ?Sized, V> KeyedCells<K, V> {
    pub(crate) fn new(capacity: usize) -> Result<Self> {
        if capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        if capacity > MAX_KEYED_CELLS {
            return Err(Error::CapacityTooLarge);
        }
        Ok(Self {
            slots: crate::core::alloc::filled(capacity, || AtomicPtr::new(ptr::null_mut()))?,
            hasher: KeyHasher::random(),
            live: AtomicU64::new(0),
            _key: PhantomData,
        })
    }

    /// Validates `key` and hands its stored form to `then`.
    #[inline]
    pub(crate) fn with_key<T>(&self, key: &K, then: impl FnOnce(K::Stored) -> T) -> K::Answer<T> {
        key.with_stored(&self.hasher, then)
    }

    /// Keys holding a cell.
    pub(crate) fn len(&self) -> usize {
        // Relaxed: a monitoring count.
        self.live.load(Ordering::Relaxed) as usize
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// `key`'s value, if it has one.
    pub(crate) fn get(&self, key: K::Stored) -> Option<&V> {
        for index in self.probe_run(key) {
            // Acquire: pairs with the publishing CAS in `get_or_insert_with`,
            // so the cell's contents are visible.
            let pointer = self.slots[index].load(Ordering::Acquire);
            if pointer.is_null() {
                return None; // slots fill in probe order and never empty
            }
            if let Some(cell) = self.holds(pointer, key) {
                return Some(&cell.value);
            }
        }
        None
    }

    /// `key`'s value, inserted from `make` if it has none; `None` when its
    /// probe run is full of other keys.
    #[inline]
    pub(crate) fn get_or_insert_with(&self, key: K::Stored, make: impl Fn() -> V) -> Option<&V> {
        let mut spare: Option<Box<Cell<V>>> = None;
        for index in self.probe_run(key) {
            // Acquire: see `get`.
            let mut pointer = self.slots[index].load(Ordering::Acquire);
            if pointer.is_null() {
                let cell = spare.take().unwrap_or_else(|| {
                    Box::new(Cell {
                        tag: key.tag(),
                        extra: key.extra(),
                        value: make(),
                    })
                });
                let raw = Box::into_raw(cell);
                // Release on success publishes the cell; Acquire on failure
                // reads the cell that won the slot.
                match self.slots[index].compare_exchange(
                    ptr::null_mut(),
                    raw,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        // Relaxed: a monitoring count.
                        self.live.fetch_add(1, Ordering::Relaxed);
                        // SAFETY: just published; freed only in `Drop`.
                        return Some(unsafe { &(*raw).value });
                    }
                    Err(winner) => {
                        // SAFETY: `raw` lost the race and was never shared.
                        spare = Some(unsafe { Box::from_raw(raw) });
                        pointer = winner;
                    }
                }
            }
            if let Some(cell) = self.holds(pointer, key) {
                return Some(&cell.value);
            }
        }
        None
    }

    /// Slot indices of `key`'s probe run, in order.
    #[inline]
    fn probe_run(&self, key: K::Stored) -> impl Iterator<Item = usize> {
        let len = self.slots.len();
        // Multiply-shift maps 64 uniform bits onto 0..len without a division.
        let home = ((u128::from(key.home()) * len as u128) >> 64) as usize;
        (0..PROBE_RUN.min(len)).map(move |distance| (home + distance) % len)
    }

    /// The cell a slot's `pointer` names, if it holds `key`'s value.
    #[inline]
    fn holds(&self, pointer: *mut Cell<V>, key: K::Stored) -> Option<&Cell<V>> {
        // SAFETY: a non-null slot pointer came from `Box::into_raw` in
        // `get_or_insert_with`, was published by a CAS the caller's load
        // synchronized with, and is freed only in `Drop`, which needs
        // `&mut self`: the cell outlives the `&self` borrow returned.
        let cell = unsafe { pointer.as_ref()? };
        (cell.tag == key.tag() && cell.extra == key.extra()).then_some(cell)
    }
}

impl<K: Key + ?Sized, V> Drop for KeyedCells<K, V> {
    fn drop(&mut self) {
        for slot in self.slots.iter() {
            let pointer = slot.load(Ordering::Relaxed);
            if !pointer.is_null() {
                // SAFETY: every non-null slot holds a `Box::into_raw` pointer
                // published once; `&mut self` means no reader remains.
                drop(unsafe { Box::from_raw(pointer) });
            }
        }
    }
}
