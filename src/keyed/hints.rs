//! Slot hints: one byte per slot holding 7 bits of its key's hash, eight to
//! a word, so a lookup reads a bucket's 16 hints in two loads and visits
//! only the slots whose hint matches: usually just its own key's.
//!
//! ```text
//!  word:   [ hint of slot 8k+7 | ... | hint of slot 8k ]   (byte j = slot 8k+j)
//!  hint:   0b0hhh_hhhh  a key's 7 hash bits   |   0x80  no key written yet
//! ```
//!
//! Hints are only a shortcut. A claimer writes its key's hint while its
//! slot is still `Pending`, before publishing, and a slot's hint changes only
//! when the slot changes hands, so a slot holding a key normally carries its
//! hint. A lookup that misses by hints (a hint store not yet visible, say)
//! falls back to reading every slot of both buckets, which is also what an
//! absent key costs anyway; a false match costs one slot load. Decisions
//! never depend on a hint.
//!
//! This module is the single owner of the hint word layout.

use crate::core::alloc::{Place, Slab};
use crate::sync::{AtomicU64, Ordering};

/// The hint byte of a slot no key has been written to.
const NONE: u8 = 0x80;
const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

pub(crate) struct Hints {
    words: Slab<AtomicU64>,
}

impl Hints {
    /// Hints for `slots` slots, in `place`.
    pub(crate) fn placed(slots: usize, place: &mut Place) -> crate::Result<Self> {
        Ok(Self {
            words: place.filled(slots.div_ceil(8), || {
                AtomicU64::new(u64::from(NONE) * LOW_BITS)
            })?,
        })
    }

    /// The hint of a key whose home hash is `home`: 7 bits of a remix, so
    /// they do not follow the bits that chose its buckets.
    #[inline]
    pub(crate) fn of(home: u64) -> u8 {
        (home.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 57) as u8
    }

    /// Bit `i` set for each of the `len` (at most 32) slots from `start`
    /// whose hint is `hint`, plus occasional false matches after a true one.
    #[inline]
    pub(crate) fn matches(&self, start: usize, len: usize, hint: u8) -> u32 {
        debug_assert!(len <= 32);
        let first_word = start / 8;
        let last_word = (start + len).div_ceil(8);
        let mut matched = 0u64;
        for (w, word) in self.words[first_word..last_word].iter().enumerate() {
            // Relaxed: a hint is a shortcut; the slot's pair is what counts.
            let word = word.load(Ordering::Relaxed);
            // Bytes equal to `hint` become zero; find zero bytes (a borrow
            // may flag a byte above a true zero too: a harmless false match).
            let diff = word ^ (u64::from(hint) * LOW_BITS);
            let zeros = diff.wrapping_sub(LOW_BITS) & !diff & HIGH_BITS;
            // One bit per byte: gather each byte's top bit.
            let bits = (zeros >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
            matched |= bits << (w * 8);
        }
        let matched = matched >> (start - first_word * 8);
        (matched & ((1u64 << len) - 1)) as u32
    }

    /// Records that slot `index` now belongs to a key with hint `hint`.
    /// Starts loading the hints of the bucket whose first slot is `start`
    /// (a bucket's 16 hints share one line).
    #[inline]
    pub(crate) fn prefetch(&self, start: usize) {
        super::table::prefetch_line(&self.words[start / 8]);
    }

    #[inline]
    pub(crate) fn set(&self, index: usize, hint: u8) {
        let shift = (index % 8) * 8;
        let word = &self.words[index / 8];
        // Relaxed: see `matches`; the CAS loop only keeps neighbours' bytes.
        let _ = word.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
            Some(old & !(0xff << shift) | u64::from(hint) << shift)
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn finds_exactly_the_matching_slots_in_a_range() {
        let hints = Hints::placed(32, &mut Place::heap()).unwrap();
        hints.set(3, 0x11);
        hints.set(9, 0x11);
        hints.set(12, 0x22);
        hints.set(20, 0x11);
        assert_eq!(hints.matches(0, 16, 0x11), 1 << 3 | 1 << 9);
        assert_eq!(hints.matches(16, 16, 0x11), 1 << 4);
        assert_eq!(hints.matches(0, 16, 0x22), 1 << 12);
        assert_eq!(hints.matches(0, 5, 0x11), 1 << 3);
        assert_eq!(hints.matches(8, 3, 0x11), 1 << 1);
        hints.set(3, 0x22);
        assert_eq!(hints.matches(0, 16, 0x11), 1 << 9);
    }

    #[test]
    fn unwritten_slots_match_no_key() {
        let hints = Hints::placed(20, &mut Place::heap()).unwrap();
        for home in [0, 1, u64::MAX, 0x1234_5678_9abc_def0] {
            let hint = Hints::of(home);
            assert!(hint < NONE);
            assert_eq!(hints.matches(0, 20, hint), 0);
        }
    }
}
