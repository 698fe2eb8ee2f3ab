//! The heap-only form of the insert-only map, for values that are not
//! [`Shareable`](crate::core::alloc::Shareable) (a [`KeyedInFlight`](crate::KeyedInFlight)'s
//! `InFlight`, whose permit slots are a heap table of their own): each slot
//! is an `AtomicPtr` to a heap cell holding the key's identity and its
//! value, allocated by the key's first insert. Every other map user holds
//! its values inline in [`KeyedCells`](super::KeyedCells), which a shared
//! segment can hold.
//!
//! A new key publishes its cell with one CAS on the first empty slot of its
//! probe run; a thread that loses that race to the same key frees its cell
//! and uses the winner's. Cells are never removed before the map is
//! dropped, so a reader never meets freed memory and no operation takes a
//! lock.

use super::{check_capacity, probe_run};
use crate::core::error::Result;
use crate::keyed::{Key, KeyHasher, StoredKey};
use crate::sync::{AtomicPtr, Ordering};
use std::marker::PhantomData;
use std::ptr;

pub(crate) struct BoxedCells<K: Key + ?Sized, V> {
    slots: Box<[AtomicPtr<Cell<V>>]>,
    hasher: KeyHasher,
    _key: PhantomData<fn(&K)>,
}

/// One key's value, with the identity that tells it from other keys.
struct Cell<V> {
    tag: u64,
    extra: u64,
    value: V,
}

impl<K: Key + ?Sized, V> BoxedCells<K, V> {
    pub(crate) fn new(capacity: usize) -> Result<Self> {
        check_capacity(capacity)?;
        Ok(Self {
            slots: crate::core::alloc::filled(capacity, || AtomicPtr::new(ptr::null_mut()))?,
            hasher: KeyHasher::random(),
            _key: PhantomData,
        })
    }

    /// Validates `key` and hands its stored form to `then`.
    #[inline]
    pub(crate) fn with_key<T>(&self, key: &K, then: impl FnOnce(K::Stored) -> T) -> K::Answer<T> {
        key.with_stored(&self.hasher, then)
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

    /// Every value inserted so far, in slot order (a sweep over them: a
    /// value inserted while it runs may be missed). The Redis store's
    /// lease sweep is its one user.
    #[cfg(feature = "redis")]
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().filter_map(|slot| {
            // Acquire: see `get`.
            let pointer = slot.load(Ordering::Acquire);
            // SAFETY: as in `holds`: a published `Box::into_raw` cell,
            // freed only in `Drop`, which needs `&mut self`.
            unsafe { pointer.as_ref() }.map(|cell| &cell.value)
        })
    }

    /// Slot indices of `key`'s probe run, in order.
    #[inline]
    fn probe_run(&self, key: K::Stored) -> impl Iterator<Item = usize> {
        probe_run(key, self.slots.len())
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

impl<K: Key + ?Sized, V> Drop for BoxedCells<K, V> {
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
