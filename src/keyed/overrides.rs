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
//! The table is open addressing over `2 * max` entries (at most half full
//! of live entries, so probe runs stay short), in segments of about
//! `sqrt(2 * max)` entries that are allocated, fallibly, when a writer first
//! needs one and then never move or free until the limiter drops: readers
//! never meet freed memory, and a limiter allowed millions of overrides but
//! using a few pays for a few segments, not for its maximum. (In a shared
//! segment every entry segment is placed up front, since another process
//! may fill any of them.) Writers take turns under a [`WriterLock`];
//! readers take no lock. A removed entry is a tombstone that the next
//! insertion reuses.
//!
//! Each entry holds its two parities' quotas inline ([`QuotaSlot`]s, read
//! under a sequence counter), so changing a quota rewrites it in place and
//! the table's memory never grows with the number of quotas ever set. A
//! check holding a stale word may read an entry while it is rewritten or
//! reused by another key: it then reads some whole quota, or `None`, and its
//! CAS on the word fails either way, since the word left that parity (or
//! the entry's key was unpinned) before the rewrite began.

use crate::core::alloc::{Place, Placed, Shareable, Slab};
use crate::core::error::{Error, Result};
use crate::core::quota::Quota;
use crate::core::quota_ring::QuotaSlot;
use crate::core::writer_lock::{WriterGuard, WriterLock};
use crate::sync::{AtomicPtr, AtomicU64, Ordering};
use std::ptr;

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

/// One key's override: 128 bytes, the tag and parity 0 on one cache line,
/// parity 1 on the next.
#[repr(C, align(64))]
struct Entry {
    tag: AtomicU64,
    quotas: [QuotaSlot; 2],
}

// SAFETY: atomic integers and quota slots (`Shareable`) only.
unsafe impl Shareable for Entry {}

pub(crate) struct Overrides {
    /// Entry `p` is entry `p % segment_len` of segment `p / segment_len`;
    /// a null segment is all vacant. Non-null segments are fixed until drop.
    segments: Box<[AtomicPtr<Entry>]>,
    /// In a shared segment, every entry segment, which `segments` points
    /// into; empty on the heap, where segments are allocated when first
    /// needed and freed on drop.
    placed: Vec<Slab<Entry>>,
    segment_shift: u32,
    len: usize,
    max: usize,
    writers: Placed<Writers>,
}

/// What writers share: their lock, and the count it guards.
struct Writers {
    lock: WriterLock,
    /// Live entries; changed only under `lock`.
    live: AtomicU64,
}

// SAFETY: a lock word and a counter: atomic integers only.
unsafe impl Shareable for Writers {}

/// Exclusive right to change overrides.
pub(crate) struct OverridesWriter<'a> {
    overrides: &'a Overrides,
    _guard: WriterGuard<'a>,
}

impl Overrides {
    /// Room for `max` overrides, in `place`. On the heap it allocates only
    /// the segment directory (`8 * sqrt(2 * max)` bytes or so); in a shared
    /// segment, every entry (`256 * max` bytes), with `quota` in each.
    pub(crate) fn placed(max: usize, quota: Quota, place: &mut Place) -> Result<Self> {
        let len = max.saturating_mul(2).max(1);
        // About sqrt(len) entries per segment, as a power of two.
        let segment_shift = len.next_power_of_two().trailing_zeros().div_ceil(2);
        let count = len.div_ceil(1 << segment_shift);
        let segments = crate::core::alloc::filled(count, || AtomicPtr::new(ptr::null_mut()))?;
        let mut placed = Vec::new();
        if place.is_shared() {
            for segment in segments.iter() {
                let entries = place.filled(1 << segment_shift, || vacant(quota))?;
                // Relaxed: not yet shared with another thread.
                segment.store(entries.as_ptr().cast_mut(), Ordering::Relaxed);
                placed.push(entries);
            }
        }
        Ok(Self {
            segments,
            placed,
            segment_shift,
            len,
            max,
            writers: place.one(|| Writers {
                lock: WriterLock::new(),
                live: AtomicU64::new(0),
            })?,
        })
    }

    fn segment_len(&self) -> usize {
        1 << self.segment_shift
    }

    /// Entry `position`, or `None` while its segment is unallocated (vacant).
    #[inline]
    fn entry(&self, position: usize) -> Option<&Entry> {
        // Acquire: pairs with the Release that published the segment.
        let segment = self.segments[position >> self.segment_shift].load(Ordering::Acquire);
        // SAFETY: a non-null segment pointer came from `allocate` (a leaked
        // box of `segment_len` entries) and is freed only in `drop`, which no
        // `&self` outlives; the offset is below `segment_len`.
        (!segment.is_null()).then(|| unsafe { &*segment.add(position & (self.segment_len() - 1)) })
    }

    /// The quota of parity `parity` for the pinned key in slot `index`, or
    /// `None` if that entry is gone or was being rewritten (the caller read
    /// a stale word, and sees a newer one when it reads again).
    #[inline]
    pub(crate) fn get(&self, index: usize, parity: usize) -> Option<Quota> {
        let tag = index as u64 + 1;
        let start = probe_start(index, self.len);
        for step in 0..self.len {
            let entry = self.entry((start + step) % self.len)?;
            // Acquire: pairs with the Release in `set` that published the entry.
            match entry.tag.load(Ordering::Acquire) {
                found if found == tag => return entry.quotas[parity].read(),
                VACANT => return None,
                _ => {}
            }
        }
        None
    }

    pub(crate) fn writer(&self) -> OverridesWriter<'_> {
        OverridesWriter {
            overrides: self,
            _guard: self.writers.lock.lock(),
        }
    }
}

/// An entry no key holds, its quotas `quota`.
fn vacant(quota: Quota) -> Entry {
    Entry {
        tag: AtomicU64::new(VACANT),
        quotas: [QuotaSlot::new(quota), QuotaSlot::new(quota)],
    }
}

impl OverridesWriter<'_> {
    /// Live entries.
    fn live(&self) -> u64 {
        // Relaxed: changed only under the writer lock this writer holds.
        self.overrides.writers.live.load(Ordering::Relaxed)
    }

    /// Counts one entry more (`1`) or fewer (`u64::MAX`).
    fn count(&self, change: u64) {
        // Relaxed: as in `live`.
        let live = self.live().wrapping_add(change);
        self.overrides.writers.live.store(live, Ordering::Relaxed);
    }

    /// Whether no new key can get an override.
    pub(crate) fn is_full(&self) -> bool {
        self.live() >= self.overrides.max as u64
    }

    /// Sets parity `parity` of slot `index`'s override to `quota`, creating
    /// the entry (both parities) if there is none and room for one.
    /// [`Error::AllocationFailed`] if its segment cannot be allocated.
    pub(crate) fn set(&mut self, index: usize, parity: usize, quota: Quota) -> Result<()> {
        let overrides = self.overrides;
        let tag = index as u64 + 1;
        let start = probe_start(index, overrides.len);
        let mut reusable = None;
        for step in 0..overrides.len {
            let position = (start + step) % overrides.len;
            let Some(entry) = overrides.entry(position) else {
                reusable.get_or_insert(position);
                break;
            };
            // Relaxed: writers are serialized by the writer lock.
            match entry.tag.load(Ordering::Relaxed) {
                found if found == tag => {
                    entry.quotas[parity].write(quota);
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
        let entry = self.entry_or_allocate(position, quota)?;
        for slot in &entry.quotas {
            slot.write(quota);
        }
        // Release: pairs with the Acquire in `get`.
        entry.tag.store(tag, Ordering::Release);
        self.count(1);
        Ok(())
    }

    /// Drops slot `index`'s override, once its word no longer names it.
    pub(crate) fn remove(&mut self, index: usize) {
        let overrides = self.overrides;
        let tag = index as u64 + 1;
        let start = probe_start(index, overrides.len);
        for step in 0..overrides.len {
            let Some(entry) = overrides.entry((start + step) % overrides.len) else {
                return;
            };
            // Relaxed: writers are serialized by the writer lock.
            match entry.tag.load(Ordering::Relaxed) {
                found if found == tag => {
                    // Relaxed: a reader that still finds the entry reads a
                    // whole quota (or `None`) and fails its CAS on the
                    // converted word.
                    entry.tag.store(REMOVED, Ordering::Relaxed);
                    self.count(u64::MAX);
                    return;
                }
                VACANT => return,
                _ => {}
            }
        }
    }

    /// Entry `position`, allocating its segment (every entry vacant, its
    /// quotas `quota`) if it has none.
    fn entry_or_allocate(&self, position: usize, quota: Quota) -> Result<&Entry> {
        let overrides = self.overrides;
        if let Some(entry) = overrides.entry(position) {
            return Ok(entry);
        }
        let segment = crate::core::alloc::filled(overrides.segment_len(), || vacant(quota))?;
        let segment = Box::into_raw(segment).cast::<Entry>();
        // Release: pairs with the Acquire in `entry`.
        overrides.segments[position >> overrides.segment_shift].store(segment, Ordering::Release);
        // SAFETY: as in `Overrides::entry`: the segment just stored lives
        // until drop, and the offset is below `segment_len`.
        Ok(unsafe { &*segment.add(position & (overrides.segment_len() - 1)) })
    }
}

impl Drop for Overrides {
    fn drop(&mut self) {
        if !self.placed.is_empty() {
            return; // the segments belong to the `placed` slabs
        }
        let segment_len = self.segment_len();
        for segment in self.segments.iter() {
            // Relaxed: `&mut self`, no other thread can hold a reference.
            let entries = segment.load(Ordering::Relaxed);
            if !entries.is_null() {
                // SAFETY: the pointer came from `Box::into_raw` of a boxed
                // slice of `segment_len` entries in `entry_or_allocate` and
                // is freed only here, once.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(entries, segment_len)) });
            }
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
    fn an_entry_is_two_cache_lines() {
        assert_eq!(std::mem::size_of::<Entry>(), 128);
    }

    #[test]
    fn slots_0_and_2_share_the_first_of_two_entries() {
        // tests/loom_overrides.rs reuses an entry this way.
        assert_eq!((probe_start(0, 2), probe_start(1, 2)), (0, 1));
        assert_eq!(probe_start(2, 2), 0);
    }

    #[test]
    fn segments_are_allocated_as_overrides_need_them() {
        let overrides =
            Overrides::placed(1 << 20, Quota::per_second(1).unwrap(), &mut Place::heap()).unwrap();
        assert_eq!(overrides.segment_len(), 2048);
        assert_eq!(overrides.segments.len(), 1024);
        let mut writer = overrides.writer();
        for index in 0..3 {
            writer.set(index, 0, Quota::per_second(1).unwrap()).unwrap();
        }
        let allocated = overrides
            .segments
            .iter()
            .filter(|segment| !segment.load(Ordering::Relaxed).is_null())
            .count();
        assert!((1..=3).contains(&allocated));
    }

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
        let overrides =
            Overrides::placed(2, Quota::per_second(1).unwrap(), &mut Place::heap()).unwrap();
        assert!(overrides.get(5, 0).is_none());
        let mut writer = overrides.writer();
        writer.set(5, 0, one).unwrap();
        writer.set(9, 0, two).unwrap();
        assert!(writer.is_full());
        assert_eq!(writer.set(6, 0, one), Err(Error::TooManyOverrides));
        writer.set(5, 1, two).unwrap();
        drop(writer);
        assert_eq!(overrides.get(5, 0), Some(one));
        assert_eq!(overrides.get(5, 1), Some(two));
        assert_eq!(overrides.get(9, 1), Some(two));
        assert!(overrides.get(6, 0).is_none());
        let mut writer = overrides.writer();
        writer.remove(5);
        assert!(!writer.is_full());
        writer.set(7, 0, one).unwrap();
        drop(writer);
        assert!(overrides.get(5, 0).is_none());
        assert_eq!(overrides.get(7, 0), Some(one));
        assert_eq!(overrides.get(9, 0), Some(two));
    }
}
