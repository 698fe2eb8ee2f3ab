//! The permits of in-flight caps that several processes share: one cap
//! (an [`InFlight`](super::InFlight)) or one per key slot (a
//! [`KeyedInFlight`](crate::KeyedInFlight)), all laid out alike.
//!
//! Three tables, placed in the segment in this order, each with a run per
//! cap:
//!
//! * a **cursor**: which slot's holder the cap's next refused acquire
//!   checks;
//! * **marks**, one bit per slot, set while it is held: the count of
//!   permits out, `max / 64` words to read instead of `max`, and where a
//!   free slot may be;
//! * one **slot** per permit ([`SlotWord`]): free, held by a process, or
//!   being released by one. The slots are the permits: each is taken and
//!   given back by one CAS, so there is no count to keep in step with them.
//!
//! A slot goes through three states, each step one atomic write:
//!
//! ```text
//!  free(s) --claim: CAS--> held(pid, s+1) --begin release: CAS--> releasing(pid', s+1)
//!     ^                                                                |
//!     +------------- free: clear the mark, then store free(s+1) -------+
//! ```
//!
//! Its mark is set just after the claim and cleared just before it is
//! freed, so a mark is only ever set on a slot that is not free, and a
//! process killed between two steps leaves a slot held or releasing in its
//! name. An acquirer that finds no free slot checks the process of one
//! slot (round robin over the cap, by the cursor) and, if it is gone,
//! takes the slot from held or releasing to releasing in its own name and
//! finishes the release: the CAS from the dead process's exact word makes
//! that happen once, whoever else tries. The owner's release and a
//! reclaim race on that same word, and only one wins.
//!
//! The check is `kill(pid, 0)`: one system call, made only by an acquire
//! the cap refused, never on the way to a permit.

use super::{SlotWord, MAX_HOLDER};
use crate::core::alloc::{Place, Slab};
use crate::core::error::{Error, Result};
use crate::shm::process;
use crate::sync::{AtomicU64, Ordering};

const MARK_BITS: usize = 64;

/// `caps` caps of `max` permits each.
pub(super) struct SharedCaps {
    max: usize,
    /// Words of marks per cap.
    words: usize,
    /// The high half of every cap's name in tokens (the low half is the
    /// cap's index), alike in every process.
    owner: u64,
    cursors: Slab<AtomicU64>,
    marks: Slab<AtomicU64>,
    slots: Slab<AtomicU64>,
}

/// One cap's runs of the three tables.
#[derive(Clone, Copy)]
pub(super) struct SharedCap<'a> {
    cursor: &'a AtomicU64,
    marks: &'a [AtomicU64],
    slots: &'a [AtomicU64],
}

impl SharedCaps {
    /// `caps` caps of `max` (validated) free slots each, in `place`; their
    /// names in tokens are `owner` (low 32 bits clear) plus their index.
    pub(super) fn placed(caps: usize, max: u64, owner: u64, place: &mut Place) -> Result<Self> {
        debug_assert!(owner & u64::from(u32::MAX) == 0 && caps <= u32::MAX as usize);
        // At most MAX_IN_FLIGHT (2^20): fits in usize.
        let max = max as usize;
        let words = max.div_ceil(MARK_BITS);
        Ok(Self {
            max,
            words,
            owner,
            cursors: place.filled(caps, || AtomicU64::new(0))?,
            // Too many to allocate saturates, and the allocation fails.
            marks: place.filled(caps.saturating_mul(words), || AtomicU64::new(0))?,
            slots: place.filled(caps.saturating_mul(max), || {
                AtomicU64::new(SlotWord::FREE.0)
            })?,
        })
    }

    pub(super) fn is_shared(&self) -> bool {
        self.slots.is_shared()
    }

    pub(super) fn max(&self) -> u64 {
        self.max as u64
    }

    /// Cap `index`'s name in tokens.
    pub(super) fn owner(&self, index: usize) -> u64 {
        self.owner | index as u64
    }

    /// Cap `index` (below `caps`).
    pub(super) fn cap(&self, index: usize) -> SharedCap<'_> {
        SharedCap {
            cursor: &self.cursors[index],
            marks: &self.marks[index * self.words..(index + 1) * self.words],
            slots: &self.slots[index * self.max..(index + 1) * self.max],
        }
    }
}

impl SharedCap<'_> {
    fn limit(&self) -> u64 {
        self.slots.len() as u64
    }

    /// Permits marked held.
    pub(super) fn in_flight(&self) -> u64 {
        self.marks
            .iter()
            // Relaxed: a snapshot for reporting, ordering nothing.
            .map(|marks| u64::from(marks.load(Ordering::Relaxed).count_ones()))
            .sum()
    }

    /// A free slot claimed for the process `holder` (index, sequence), or
    /// `None` if none is free and the holder checked in turn lives.
    pub(super) fn acquire(&self, holder: u32) -> Option<(usize, u32)> {
        debug_assert!(holder != 0 && holder <= MAX_HOLDER);
        loop {
            if let Some(claimed) = self.claim(holder) {
                return Some(claimed);
            }
            // Each success freed a dead process's slot, so this ends.
            if !self.reclaim_one() {
                return None;
            }
        }
    }

    fn claim(&self, holder: u32) -> Option<(usize, u32)> {
        let len = self.slots.len();
        for (word, marks) in self.marks.iter().enumerate() {
            let first = word * MARK_BITS;
            let in_cap = match len - first {
                rest if rest >= MARK_BITS => u64::MAX,
                rest => (1 << rest) - 1,
            };
            // Relaxed: marks only say where to look; the slot's CAS decides.
            let mut unmarked = !marks.load(Ordering::Relaxed) & in_cap;
            while unmarked != 0 {
                let bit = unmarked.trailing_zeros();
                unmarked &= unmarked - 1;
                if let Some(sequence) = self.take(first + bit as usize, holder) {
                    // Relaxed: the mark counts; the slot word is the permit.
                    marks.fetch_or(1 << bit, Ordering::Relaxed);
                    return Some((first + bit as usize, sequence));
                }
            }
        }
        None
    }

    /// Takes slot `index` for `holder` if it is free; its new sequence.
    fn take(&self, index: usize, holder: u32) -> Option<u32> {
        let slot = &self.slots[index];
        // Relaxed: as in `claim`.
        let seen = SlotWord(slot.load(Ordering::Relaxed));
        if seen.held() {
            return None; // held, or being claimed or released right now
        }
        // Sequences are modular on purpose (see the module docs).
        let sequence = seen.sequence().wrapping_add(1);
        // Acquire on success: pairs with the Release in `free`, so the last
        // holder's work happens before this one's. Relaxed on failure:
        // another claim won; the caller tries the next slot.
        slot.compare_exchange(
            seen.0,
            SlotWord::held_by(sequence, holder).0,
            Ordering::Acquire,
            Ordering::Relaxed,
        )
        .ok()
        .map(|_| sequence)
    }

    /// Model checking only: the first free slot taken for `holder`, which
    /// dies before marking it.
    #[cfg(loom)]
    pub(super) fn die_claiming_as(&self, holder: u32) -> Option<(usize, u32)> {
        (0..self.slots.len()).find_map(|index| Some((index, self.take(index, holder)?)))
    }

    /// Checks the process of the next slot in turn and frees the slot if
    /// that process is gone; whether it freed one.
    fn reclaim_one(&self) -> bool {
        // Relaxed: the cursor only spreads the checks over the slots.
        let turn = self.cursor.fetch_add(1, Ordering::Relaxed);
        let index = (turn % self.limit()) as usize;
        let slot = &self.slots[index];
        // Relaxed: the CAS below decides; a stale word only makes it fail.
        let seen = SlotWord(slot.load(Ordering::Relaxed));
        let me = process::id();
        if !seen.held() || seen.holder() == me || process::is_alive(u64::from(seen.holder())) {
            return false;
        }
        // Relaxed: the dead process's writes reached us with its death,
        // which `is_alive` saw (the kernel orders both); our `free` passes
        // them on. Relaxed on failure: its release or another reclaim won.
        if slot
            .compare_exchange(
                seen.0,
                SlotWord::releasing_by(seen.sequence(), me).0,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return false;
        }
        self.free(index, seen.sequence());
        true
    }

    /// Gives back the permit (`index`, `sequence`) that the process
    /// `releaser` holds.
    pub(super) fn release(&self, index: usize, sequence: u32, releaser: u32) -> Result<()> {
        self.begin_release(index, sequence, releaser)?;
        self.free(index, sequence);
        Ok(())
    }

    /// The step that decides a release: from then on the slot is the
    /// releaser's to free (or, if it dies, a reclaimer's).
    pub(super) fn begin_release(&self, index: usize, sequence: u32, releaser: u32) -> Result<()> {
        let slot = &self.slots[index];
        // Relaxed: the CAS alone decides which release wins; `free`'s
        // Release publishes the holder's work (or, if this process dies
        // first, its death does: see `reclaim_one`). Relaxed on failure:
        // the word read only names the error.
        slot.compare_exchange(
            SlotWord::held_by(sequence, releaser).0,
            SlotWord::releasing_by(sequence, releaser).0,
            Ordering::Relaxed,
            Ordering::Relaxed,
        )
        .map(drop)
        .map_err(|actual| {
            let actual = SlotWord(actual);
            if actual.held() && !actual.releasing() && actual.sequence() == sequence {
                // Another process's permit: its token copied here (a
                // forked child's, say). It stays that process's.
                Error::ForeignPermit
            } else {
                Error::PermitAlreadyReleased
            }
        })
    }

    /// Ends a release begun by this process.
    fn free(&self, index: usize, sequence: u32) {
        // Relaxed: the mark counts; the slot's store below publishes.
        self.marks[index / MARK_BITS].fetch_and(!(1 << (index % MARK_BITS)), Ordering::Relaxed);
        // Release: pairs with the Acquire of the next claim of this slot
        // (semaphore semantics).
        self.slots[index].store(SlotWord::released(sequence).0, Ordering::Release);
    }
}
