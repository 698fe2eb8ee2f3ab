//! Where every table lives: on the heap, or in a shared segment.
//!
//! A capacity the allocator refuses must come back as
//! [`Error::AllocationFailed`], never abort the process, so each heap table
//! is reserved with `try_reserve_exact` (which asks for exactly its size)
//! before it is filled.
//!
//! A kind that can be shared takes its state from a [`Place`]: the heap, or
//! a mapped segment (`src/shm`) where each table sits at the next offset in
//! the order the kind asks for them. Every process builds the kind with the
//! same steps, so each finds every table at the offset its creator used, in
//! its own mapping: the segment holds no pointer, only the values.

use crate::core::error::{Error, Result};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

/// `len` values from `make`, in one allocation of exactly `len` of them.
pub(crate) fn filled<T>(len: usize, make: impl FnMut() -> T) -> Result<Box<[T]>> {
    let mut values: Vec<T> = Vec::new();
    values
        .try_reserve_exact(len)
        .map_err(|_| Error::AllocationFailed {
            bytes: len.saturating_mul(std::mem::size_of::<T>()),
        })?;
    huge_pages(
        values.as_mut_ptr().cast(),
        len.saturating_mul(std::mem::size_of::<T>()),
    );
    values.extend(std::iter::repeat_with(make).take(len));
    Ok(values.into_boxed_slice())
}

/// Values every process mapping a segment may read and write in place.
///
/// # Safety
///
/// The type holds no pointer and no reference (another process maps the
/// segment elsewhere), needs no `Drop` (a segment outlives every process),
/// and every access to it is through atomics, so two processes using it at
/// once race no more than two threads do.
pub(crate) unsafe trait Shareable {}

// SAFETY: a plain atomic integer: no pointer, no Drop, accessed atomically.
unsafe impl Shareable for crate::sync::AtomicU64 {}
// SAFETY: padding around a Shareable value adds neither pointer nor Drop.
unsafe impl<T: Shareable> Shareable for crossbeam_utils::CachePadded<T> {}

/// A process's view of a mapped segment, kept alive by every table in it.
pub(crate) type Mapping = Arc<memmap2::MmapRaw>;

/// Where a kind's tables go, and where the next one starts.
pub(crate) struct Place {
    /// `None` on the heap.
    segment: Option<Segment>,
    /// On the heap, but laid out as in a segment, to learn its size.
    measuring: bool,
    /// Bytes of segment the tables so far take, alignment included; counted
    /// on the heap too, which is how a creator learns the size to map.
    used: usize,
}

struct Segment {
    mapping: Mapping,
    /// Where the tables start in the mapping (after its header).
    start: usize,
    /// Whether this process writes the tables' first values (it created
    /// the segment) or finds them there (it opened a ready one).
    initialise: bool,
}

/// Every table starts on its own cache line, so no two share one.
const TABLE_ALIGN: usize = 64;

impl Place {
    /// The heap: what every kind uses unless built `shared`.
    pub(crate) fn heap() -> Self {
        Self {
            segment: None,
            measuring: false,
            used: 0,
        }
    }

    /// The heap, with every table a segment would hold: [`used`](Self::used)
    /// then tells the size of a segment for the same build.
    pub(crate) fn measure() -> Self {
        Self {
            measuring: true,
            ..Self::heap()
        }
    }

    /// The segment `mapping`, tables from byte `start`; `initialise` when
    /// this process writes their first values.
    pub(crate) fn segment(mapping: Mapping, start: usize, initialise: bool) -> Self {
        Self {
            segment: Some(Segment {
                mapping,
                start,
                initialise,
            }),
            measuring: false,
            used: 0,
        }
    }

    /// Bytes of segment the tables placed so far take.
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    /// Whether tables go to a segment other processes share (or are laid
    /// out as if they did, to measure one).
    pub(crate) fn is_shared(&self) -> bool {
        self.segment.is_some() || self.measuring
    }

    /// `len` values from `make` (on the heap, or in the segment where this
    /// process creates it), or the `len` values already at this table's
    /// offset in a ready segment.
    pub(crate) fn filled<T: Shareable>(
        &mut self,
        len: usize,
        make: impl FnMut() -> T,
    ) -> Result<Slab<T>> {
        let bytes = len.saturating_mul(std::mem::size_of::<T>());
        let offset = self
            .used
            .next_multiple_of(TABLE_ALIGN.max(std::mem::align_of::<T>()));
        self.used = offset.saturating_add(bytes);
        let Some(segment) = &self.segment else {
            let values = Box::into_raw(filled(len, make)?);
            return Ok(Slab {
                // SAFETY: `Box::into_raw` never returns null.
                start: unsafe { NonNull::new_unchecked(values.cast()) },
                len,
                mapping: None,
            });
        };
        let end = segment.start.saturating_add(self.used);
        if end > segment.mapping.len() {
            // The header's size was checked against this layout's; a
            // mismatch here would be a layout this build did not measure.
            return Err(Error::AllocationFailed { bytes: end });
        }
        // SAFETY: `start + offset .. end` lies inside the mapping (checked
        // above), and `offset` is a multiple of `T`'s alignment from a
        // page-aligned base, so the cast pointer is aligned for `T`.
        let start = unsafe { segment.mapping.as_mut_ptr().add(segment.start + offset) }.cast::<T>();
        if segment.initialise {
            let mut make = make;
            for index in 0..len {
                // SAFETY: slot `index` is inside this table (bounds above);
                // no other process reads it before the segment is published
                // ready, and `write` needs no old value there (`T` has no
                // Drop: `Shareable`).
                unsafe { start.add(index).write(make()) };
            }
        }
        Ok(Slab {
            // SAFETY: a mapping's base is never null.
            start: unsafe { NonNull::new_unchecked(start) },
            len,
            mapping: Some(Arc::clone(&segment.mapping)),
        })
    }

    /// One value, placed as [`filled`](Self::filled) places a table.
    pub(crate) fn one<T: Shareable>(&mut self, make: impl FnOnce() -> T) -> Result<Placed<T>> {
        let mut make = Some(make);
        let slab = self.filled(1, || match make.take() {
            Some(make) => make(),
            None => unreachable!("a table of one value is made once"),
        })?;
        Ok(Placed(slab))
    }
}

/// One value, on the heap or in a mapped segment.
pub(crate) struct Placed<T>(Slab<T>);

impl<T> Placed<T> {
    /// Whether the value is in a shared segment.
    pub(crate) fn is_shared(&self) -> bool {
        self.0.is_shared()
    }
}

impl<T> Deref for Placed<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: made only by `Place::one`, whose slab holds one
        // initialised value, valid while the slab is.
        unsafe { self.0.start.as_ref() }
    }
}

/// A fixed-size table of `T`, on the heap or in a mapped segment.
pub(crate) struct Slab<T> {
    start: NonNull<T>,
    len: usize,
    /// The segment this table is in, kept mapped while it is used; `None`
    /// for a heap table, which this slab owns.
    mapping: Option<Mapping>,
}

// SAFETY: a slab is a `Box<[T]>` or a shared view of `T`s every access to
// which is atomic (`Shareable`): sending or sharing it across threads is
// what sending or sharing the `T`s is.
unsafe impl<T: Send + Sync> Send for Slab<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Sync> Sync for Slab<T> {}

impl<T> Slab<T> {
    /// Whether the table is in a shared segment.
    pub(crate) fn is_shared(&self) -> bool {
        self.mapping.is_some()
    }
}

impl<T> Deref for Slab<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: `start` points at `len` initialised values (written by
        // `filled`, or by the segment's creator before it published the
        // segment ready), valid while `self` keeps its box or mapping.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }
}

impl<T> Drop for Slab<T> {
    fn drop(&mut self) {
        if self.mapping.is_none() {
            // SAFETY: a slab without a mapping came from `Box::into_raw` of
            // a `Box<[T]>` of `len` values in `Place::filled`, and is freed
            // only here.
            drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    self.start.as_ptr(),
                    self.len,
                ))
            });
        }
    }
}

/// Asks Linux to back a large table with 2 MB pages (where the system
/// allows them on request), before it is first touched: a keyed table is
/// read at random, and in 4 KB pages a 20 MB table misses the TLB on almost
/// every lookup. Only a hint: if refused, the table works as before (a
/// segment in /dev/shm gets them only where the system's
/// `transparent_hugepage/shmem_enabled` allows `advise`).
pub(crate) fn huge_pages(start: *mut u8, bytes: usize) {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64"),
        not(loom)
    ))]
    {
        const HUGE_PAGE: usize = 2 << 20;
        // Only whole huge pages inside the allocation can be huge.
        let first = (start as usize).next_multiple_of(HUGE_PAGE);
        let end = (start as usize).saturating_add(bytes) & !(HUGE_PAGE - 1);
        if end > first {
            // SAFETY: madvise only changes how the kernel backs these pages,
            // never their contents or validity; the range lies inside the
            // allocation just reserved (rounded inwards to page boundaries),
            // which this function's caller owns, and a refusal is harmless.
            unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64"),
        not(loom)
    )))]
    let _ = (start, bytes);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::{AtomicU64, Ordering};

    #[test]
    fn a_size_past_the_address_space_is_an_error_not_an_abort() {
        let len = usize::MAX / 8;
        assert_eq!(
            filled(len, || 0u64).err(),
            Some(Error::AllocationFailed { bytes: len * 8 })
        );
        assert_eq!(&*filled(3, || 7u64).unwrap(), &[7, 7, 7]);
    }

    #[test]
    fn tables_are_placed_on_their_own_cache_lines_in_order() {
        let mut place = Place::heap();
        let first = place.filled(3, || AtomicU64::new(5)).unwrap();
        let second = place.one(|| AtomicU64::new(9)).unwrap();
        assert_eq!(
            first
                .iter()
                .map(|v| v.load(Ordering::Relaxed))
                .collect::<Vec<_>>(),
            [5, 5, 5]
        );
        assert_eq!(second.load(Ordering::Relaxed), 9);
        assert_eq!(place.used(), 64 + 8);
    }
}
