//! Per-key quotas: which quota each bucket is measured in.
//!
//! A bucket word's 2-bit generation says where its quota is:
//!
//! * generations 0 and 1: the default quota, in the limiter's `QuotaRing`
//!   slot of that number. A reconfiguration installs the new default in the
//!   other slot and sweeps every word across (`table.rs`), so a check never
//!   looks anywhere but the ring.
//! * generations 2 and 3: the key's own quota, in this side table, entry
//!   for the key's slot, parity `generation - 2`. A key with its own quota is
//!   *pinned*: its bucket is never reclaimed (reclamation only takes
//!   default-generation buckets), so its slot index names it for as long as
//!   the override lasts, and the override can never be lost to reuse.
//!
//! Keys without an override therefore never touch this table: the override
//! check costs nothing but the generation test they do anyway. Changing a
//! key's quota writes the other parity's pointer first, then converts the
//! word into that parity, exactly like a reconfiguration of one bucket: a
//! check that read the word before reads the old pointer and its CAS fails.
//!
//! The table is fixed-size open addressing (sized for `max` entries at half
//! load), allocated on the first override and freed with the limiter, so
//! readers never meet freed memory. Writers take turns under a mutex; readers
//! take no lock. A removed entry is a tombstone that the next insertion
//! reuses. Quota pointers point at copies owned by the limiter's `QuotaRing`
//! (`RingWriter::intern`), which live as long as the limiter.

use crate::error::{Error, Result};
use crate::quota::Quota;
use crate::sync::{AtomicPtr, AtomicU64, Mutex, MutexGuard, Ordering};
use std::ptr;
use std::sync::PoisonError;

/// Whether words of `generation` are measured in the default quota.
#[inline]
pub(crate) fn is_default(generation: usize) -> bool {
    generation < 2
}

/// The override parity words of `generation` use, if they use an override.
#[inline]
pub(crate) fn override_parity(generation: usize) -> Option<usize> {
    generation.checked_sub(2)
}

/// The generation of words measured in override parity `parity`.
#[inline]
pub(crate) fn override_generation(parity: usize) -> usize {
    2 + parity
}

/// Entry tag of a never-used entry; a used one holds `slot index + 1`.
const VACANT: u64 = 0;
/// Entry tag of a removed entry.
const REMOVED: u64 = u64::MAX;

struct Entry {
    slot: AtomicU64,
    quotas: [AtomicPtr<Quota>; 2],
}

pub(crate) struct Overrides {
    /// Null until the first override; then fixed until drop.
    entries: AtomicPtr<Box<[Entry]>>,
    max: usize,
    /// Live entries; its lock serializes writers.
    live: Mutex<usize>,
}

/// Exclusive right to change overrides.
pub(crate) struct OverridesWriter<'a> {
    overrides: &'a Overrides,
    live: MutexGuard<'a, usize>,
}

impl Overrides {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            entries: AtomicPtr::new(ptr::null_mut()),
            max,
            live: Mutex::new(0),
        }
    }

    fn table(&self) -> Option<&[Entry]> {
        // Acquire: pairs with the Release that published the allocation.
        let entries = self.entries.load(Ordering::Acquire);
        // SAFETY: non-null only once `writer().set` stored a leaked Box, which
        // is freed only in `drop` (no `&self` can exist then).
        (!entries.is_null()).then(|| unsafe { &**entries })
    }

    /// The quota of parity `parity` for the pinned key in slot `index`, or
    /// `None` if that entry is gone (the caller read a stale word).
    #[inline]
    pub(crate) fn get(&self, index: usize, parity: usize) -> Option<&Quota> {
        let table = self.table()?;
        let tag = index as u64 + 1;
        let start = probe_start(index, table.len());
        for step in 0..table.len() {
            let entry = &table[(start + step) % table.len()];
            // Acquire: pairs with the Release in `set` that published the entry.
            match entry.slot.load(Ordering::Acquire) {
                found if found == tag => {
                    // Acquire: pairs with the Release storing the pointer.
                    let quota = entry.quotas[parity].load(Ordering::Acquire);
                    // SAFETY: every stored pointer comes from
                    // `RingWriter::intern` on the limiter's ring, whose copies
                    // live, unchanged, as long as the limiter that owns `self`.
                    return Some(unsafe { &*quota });
                }
                VACANT => return None,
                _ => {}
            }
        }
        None
    }

    pub(crate) fn writer(&self) -> OverridesWriter<'_> {
        OverridesWriter {
            overrides: self,
            live: self.live.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }
}

impl<'a> OverridesWriter<'a> {
    /// Whether no new key can get an override.
    pub(crate) fn is_full(&self) -> bool {
        *self.live >= self.overrides.max
    }

    /// Sets parity `parity` of slot `index`'s override to `quota`, creating
    /// the entry (both parities) if there is none and room for one.
    /// `quota` must come from `RingWriter::intern` on the ring of the
    /// limiter that owns `self`.
    pub(crate) fn set(&mut self, index: usize, parity: usize, quota: &Quota) -> Result<()> {
        let table = self.table_or_allocate();
        let tag = index as u64 + 1;
        let pointer = quota as *const Quota as *mut Quota;
        let start = probe_start(index, table.len());
        let mut reusable = None;
        for step in 0..table.len() {
            let position = (start + step) % table.len();
            // Relaxed: writers are serialized by `live`'s lock.
            match table[position].slot.load(Ordering::Relaxed) {
                found if found == tag => {
                    // Release: pairs with the Acquire in `get`.
                    table[position].quotas[parity].store(pointer, Ordering::Release);
                    return Ok(());
                }
                REMOVED => {
                    reusable.get_or_insert(position);
                }
                VACANT => {
                    reusable.get_or_insert(position);
                    break;
                }
                _ => {}
            }
        }
        if self.is_full() {
            return Err(Error::TooManyOverrides);
        }
        // At most `max` live entries in twice as many: there is always room.
        let Some(position) = reusable else {
            return Err(Error::TooManyOverrides);
        };
        let entry = &table[position];
        for slot in &entry.quotas {
            // Relaxed: published by the Release store of the tag below.
            slot.store(pointer, Ordering::Relaxed);
        }
        // Release: pairs with the Acquire in `get`.
        entry.slot.store(tag, Ordering::Release);
        *self.live += 1;
        Ok(())
    }

    /// Drops slot `index`'s override, once its word no longer names it.
    pub(crate) fn remove(&mut self, index: usize) {
        let Some(table) = self.overrides.table() else {
            return;
        };
        let tag = index as u64 + 1;
        let start = probe_start(index, table.len());
        for step in 0..table.len() {
            let entry = &table[(start + step) % table.len()];
            // Relaxed: writers are serialized by `live`'s lock.
            match entry.slot.load(Ordering::Relaxed) {
                found if found == tag => {
                    // Relaxed: a reader that still finds the entry reads a
                    // valid quota and fails its CAS on the converted word.
                    entry.slot.store(REMOVED, Ordering::Relaxed);
                    *self.live -= 1;
                    return;
                }
                VACANT => return,
                _ => {}
            }
        }
    }

    fn table_or_allocate(&self) -> &'a [Entry] {
        let overrides: &'a Overrides = self.overrides;
        if let Some(table) = overrides.table() {
            return table;
        }
        let size = self.overrides.max.saturating_mul(2).max(1);
        let entries: Box<[Entry]> = (0..size)
            .map(|_| Entry {
                slot: AtomicU64::new(VACANT),
                quotas: [
                    AtomicPtr::new(ptr::null_mut()),
                    AtomicPtr::new(ptr::null_mut()),
                ],
            })
            .collect();
        // Release: pairs with the Acquire in `table`.
        overrides
            .entries
            .store(Box::into_raw(Box::new(entries)), Ordering::Release);
        overrides.table().unwrap_or(&[])
    }
}

impl Drop for Overrides {
    fn drop(&mut self) {
        // Relaxed: `&mut self`, no other thread can hold a reference.
        let entries = self.entries.load(Ordering::Relaxed);
        if !entries.is_null() {
            // SAFETY: the pointer came from `Box::into_raw` in
            // `table_or_allocate` and is freed only here, once.
            drop(unsafe { Box::from_raw(entries) });
        }
    }
}

/// Where slot `index`'s entry search starts: a multiplicative hash, so
/// neighbouring slots do not crowd one run of entries.
#[inline]
fn probe_start(index: usize, len: usize) -> usize {
    let hash = (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((u128::from(hash) * len as u128) >> 64) as usize
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn generations_split_default_and_override() {
        assert!(is_default(0) && is_default(1));
        assert_eq!(override_parity(1), None);
        assert_eq!(override_parity(2), Some(0));
        assert_eq!(override_parity(override_generation(1)), Some(1));
    }

    #[test]
    fn set_get_change_remove_reuse() {
        let one = Quota::per_second(1).unwrap();
        let two = Quota::per_second(2).unwrap();
        let overrides = Overrides::new(2);
        assert!(overrides.get(5, 0).is_none());
        let mut writer = overrides.writer();
        writer.set(5, 0, &one).unwrap();
        writer.set(9, 0, &two).unwrap();
        assert!(writer.is_full());
        assert_eq!(writer.set(6, 0, &one), Err(Error::TooManyOverrides));
        writer.set(5, 1, &two).unwrap();
        drop(writer);
        assert_eq!(overrides.get(5, 0), Some(&one));
        assert_eq!(overrides.get(5, 1), Some(&two));
        assert_eq!(overrides.get(9, 1), Some(&two));
        assert!(overrides.get(6, 0).is_none());
        let mut writer = overrides.writer();
        writer.remove(5);
        assert!(!writer.is_full());
        writer.set(7, 0, &one).unwrap();
        drop(writer);
        assert!(overrides.get(5, 0).is_none());
        assert_eq!(overrides.get(7, 0), Some(&one));
        assert_eq!(overrides.get(9, 0), Some(&two));
    }
}
