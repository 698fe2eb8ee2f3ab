//! The GCRA state word: everything a bucket knows, in one `u64`.
//!
//! ```text
//!  63  62   61   60                                          0
//! [ generation | live |  tat: theoretical arrival time, ticks ]
//! ```
//!
//! * `tat` is the GCRA theoretical arrival time on the tick scale of the quota
//!   the word was written under, modulo 2^61. Only its distance from *now*
//!   matters, read as a signed 61-bit number: ahead of now is debt (capacity in
//!   use), behind now is a full bucket. Absolute timestamps of any size (a
//!   monotonic clock, Unix nanoseconds) therefore work without overflow.
//! * `live` is clear only in a word that has never been written: such a word
//!   is a full bucket whatever its `tat` says, so a fresh limiter needs no
//!   timestamp to start from.
//! * `generation` names which of the limiter's quota slots the ticks are
//!   measured in (see `quota_ring.rs`); a reconfiguration converts the word to
//!   the next generation.
//!
//! A `tat` ahead of now by more than 2^60 ticks reads as behind. A bucket
//! left in debt and then untouched for 2^60 ticks (at least 417 days at the
//! finest tick of 1/32 ns, 36 years at one tick per ns) may therefore read as
//! indebted again: that can only deny, never admit, and ends when real debt
//! would have. Debt is capped at [`MAX_CAPACITY_TICKS`] so a timestamp up to
//! 2^59 ticks behind the last one still reads as debt, never as a full bucket.

/// The largest burst capacity in ticks a quota may have.
pub(crate) const MAX_CAPACITY_TICKS: u64 = 1 << 59;

const TAT_BITS: u32 = 61;
const TAT_MASK: u64 = (1 << TAT_BITS) - 1;
const LIVE_BIT: u64 = 1 << TAT_BITS;
const GENERATION_SHIFT: u32 = TAT_BITS + 1;
/// How many quota slots a generation can name.
pub(crate) const GENERATIONS: usize = 4;
/// A mark's kind is its low bits; a `Pending` mark's owner is above them.
const MARK_BITS: u32 = 2;
const MARK_MASK: u64 = (1 << MARK_BITS) - 1;
/// A `tat` at least this far ahead of now is behind it (wrapped).
const AHEAD_WINDOW: u64 = 1 << (TAT_BITS - 1);

/// One bucket's packed state. See the module docs for the layout.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct StateWord(u64);

impl StateWord {
    /// A full bucket in generation 0.
    pub(crate) const FRESH: StateWord = StateWord(0);

    #[inline]
    pub(crate) fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    #[inline]
    pub(crate) fn into_bits(self) -> u64 {
        self.0
    }

    /// Which quota slot this word's ticks are measured in.
    #[inline]
    pub(crate) fn generation(self) -> usize {
        (self.0 >> GENERATION_SHIFT) as usize
    }

    /// Capacity in use, in ticks, at `now_ticks` (a timestamp already on this
    /// word's tick scale). Zero for a full bucket.
    #[inline]
    pub(crate) fn debt_at(self, now_ticks: u64) -> u64 {
        if self.0 & LIVE_BIT == 0 {
            return 0;
        }
        let ahead = (self.0 & TAT_MASK).wrapping_sub(now_ticks) & TAT_MASK;
        if ahead >= AHEAD_WINDOW {
            0
        } else {
            ahead
        }
    }

    /// The word in `generation` carrying `debt` ticks at `now_ticks`. Even a
    /// zero debt is stored live, as `tat = now`: a timestamp that later steps
    /// behind `now` must still see the bucket as it was then, not fresh.
    #[inline]
    pub(crate) fn with_debt(generation: usize, now_ticks: u64, debt: u64) -> Self {
        debug_assert!(generation < GENERATIONS && debt < AHEAD_WINDOW);
        let generation_bits = (generation as u64) << GENERATION_SHIFT;
        Self(generation_bits | LIVE_BIT | (now_ticks.wrapping_add(debt) & TAT_MASK))
    }

    /// The generation a reconfiguration moves this word to.
    #[inline]
    pub(crate) fn next_generation(self) -> usize {
        (self.generation() + 1) % GENERATIONS
    }

    /// A keyed-table slot word that holds no bucket: `mark` in `generation`.
    /// Marks are the words that are not live yet have a non-zero `tat`;
    /// no bucket is ever such a word (`FRESH` has `tat` 0 and `with_debt`
    /// is always live), so a slot's word alone tells a bucket from a mark.
    #[inline]
    pub(crate) fn marked(mark: SlotMark, generation: usize) -> Self {
        debug_assert!(generation < GENERATIONS);
        Self(((generation as u64) << GENERATION_SHIFT) | mark as u64)
    }

    /// A `Pending` mark in `generation` claimed by the process `owner`, so
    /// that a claim left by a process killed between claim and publish can
    /// be told from a live one and freed (`keyed/table.rs`).
    #[inline]
    pub(crate) fn pending(generation: usize, owner: u32) -> Self {
        let marked = Self::marked(SlotMark::Pending, generation);
        Self(marked.0 | (u64::from(owner) << MARK_BITS))
    }

    /// The process that claimed a `Pending` mark (0 for other words).
    #[inline]
    pub(crate) fn owner(self) -> u64 {
        match self.mark() {
            Some(SlotMark::Pending) => (self.0 & TAT_MASK) >> MARK_BITS,
            _ => 0,
        }
    }

    /// This mark (owner included) moved to `generation`.
    #[inline]
    pub(crate) fn mark_in(self, generation: usize) -> Self {
        debug_assert!(self.mark().is_some() && generation < GENERATIONS);
        Self((self.0 & TAT_MASK) | ((generation as u64) << GENERATION_SHIFT))
    }

    /// The mark this word is, or `None` when it is a bucket.
    #[inline]
    pub(crate) fn mark(self) -> Option<SlotMark> {
        if self.0 & LIVE_BIT != 0 {
            return None;
        }
        match self.0 & MARK_MASK {
            1 => Some(SlotMark::Empty),
            2 => Some(SlotMark::Free),
            3 => Some(SlotMark::Pending),
            _ => None,
        }
    }
}

/// What a keyed-table slot holds when it holds no bucket (see `keyed/table.rs`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SlotMark {
    /// Never used: no key lives at or beyond it in any probe window.
    Empty = 1,
    /// Given up: free for a new key, but keys may live beyond it.
    Free = 2,
    /// Claimed by an insertion that has not yet proved its key unique.
    Pending = 3,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_is_full_at_any_time() {
        for now in [0, 1, AHEAD_WINDOW, TAT_MASK, u64::MAX] {
            assert_eq!(StateWord::FRESH.debt_at(now), 0);
        }
    }

    #[test]
    fn debt_survives_wrap_of_the_tick_field() {
        let now = TAT_MASK - 5;
        let word = StateWord::with_debt(3, now, 100);
        assert_eq!(word.generation(), 3);
        assert_eq!(word.debt_at(now), 100);
        assert_eq!(word.debt_at(now + 40), 60);
        assert_eq!(word.debt_at(now + 100), 0);
        assert_eq!(word.debt_at(now + 1_000), 0);
    }

    #[test]
    fn a_timestamp_behind_reads_as_more_debt() {
        let word = StateWord::with_debt(0, 1_000, 10);
        assert_eq!(word.debt_at(900), 110);
    }

    #[test]
    fn marks_are_never_buckets() {
        for mark in [SlotMark::Empty, SlotMark::Free, SlotMark::Pending] {
            for generation in 0..GENERATIONS {
                let word = StateWord::marked(mark, generation);
                assert_eq!(word.mark(), Some(mark));
                assert_eq!(word.generation(), generation);
            }
        }
        assert_eq!(StateWord::FRESH.mark(), None);
        let claim = StateWord::pending(2, u32::MAX);
        assert_eq!(
            (claim.mark(), claim.owner(), claim.generation()),
            (Some(SlotMark::Pending), u64::from(u32::MAX), 2)
        );
        let moved = claim.mark_in(3);
        assert_eq!(
            (moved.mark(), moved.owner(), moved.generation()),
            (Some(SlotMark::Pending), u64::from(u32::MAX), 3)
        );
        assert_eq!(StateWord::with_debt(1, 2, 0).mark(), None);
        assert_eq!(StateWord::with_debt(3, 0, 1).mark(), None);
    }

    #[test]
    fn zero_debt_remembers_its_time() {
        let word = StateWord::with_debt(2, 77, 0);
        assert_eq!(word.debt_at(77), 0);
        assert_eq!(word.debt_at(70), 7);
        assert_eq!(word.generation(), 2);
        assert_eq!(word.next_generation(), 3);
    }
}
