//! The sliding-window state word: a counter's whole state in one `u64`.
//!
//! ```text
//!  63   62              42 41               21 20                0
//! [live| window index: 21 | previous count: 21 | current count: 21 ]
//! ```
//!
//! * `live` is clear only in a word no operation has written yet: such a
//!   word holds no counts and belongs to no window, so a fresh counter needs
//!   no timestamp to start from.
//! * `window index` is `now_ns / window_ns` modulo 2^21: which window the
//!   `current` count belongs to. Only its distance from the window of *now*
//!   matters, read as a signed 21-bit number. 0 is the same window; 1 means
//!   the word's `current` is now the previous count; 2 or more ahead means
//!   both counts have expired. Any distance *behind*, up to 2^20 windows
//!   (now is in a window before the word's: another core's clock, a
//!   caller's stale timestamp), keeps the counts as they are, read at the
//!   start of the word's window (see `estimate.rs`): a stale timestamp
//!   never opens a fresh window.
//! * `previous` and `current` are request counts (cost units), at most
//!   [`MAX_COUNT`] each.
//!
//! Every check and refund stores the word as seen from its own window when
//! that is ahead of the word's, even one that denies or charges nothing, so
//! the word's window only moves forward and is that of the latest timestamp
//! the counter has been given. (Probes only read.)
//!
//! A timestamp more than 2^20 windows behind the word's reads as ahead, so
//! as expired counts: 2^20 windows are 12 days of 1 s windows, 2 years of
//! 1 min windows. The other way round, a word untouched for 2^20 windows or
//! more (up to 2^21, then again every 2^21) reads as ahead of now: its
//! counts then stand, in its own window, until now catches up with that
//! window, at most 2^20 windows later. That can only deny, never admit.
//!
//! This module is the single owner of the layout: nothing else shifts or
//! masks these bits.

const COUNT_BITS: u32 = 21;
const INDEX_BITS: u32 = 21;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const PREVIOUS_SHIFT: u32 = COUNT_BITS;
const INDEX_SHIFT: u32 = 2 * COUNT_BITS;
const LIVE_BIT: u64 = 1 << (INDEX_SHIFT + INDEX_BITS);
/// A distance of now from the word's window at least this large (modulo
/// 2^21) is now *behind* the word's window: the signed half-range.
const BEHIND_FROM: u64 = 1 << (INDEX_BITS - 1);

/// The largest count either field holds, hence the largest window limit.
pub(crate) const MAX_COUNT: u64 = COUNT_MASK;

/// One sliding-window counter's packed state. See the module docs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct WindowWord(u64);

/// A word's counts as seen from the window of some `now`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct View {
    /// Count of the window before the one the view is taken in.
    pub(crate) previous: u64,
    /// Count of the window the view is taken in.
    pub(crate) current: u64,
    /// How many windows now lies before the word's window (0 when it lies
    /// in it or after it): the view is then of the word's own window.
    pub(crate) behind: u64,
}

impl WindowWord {
    /// An empty counter: no counts, no window.
    pub(crate) const EMPTY: WindowWord = WindowWord(0);

    pub(crate) fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    pub(crate) fn into_bits(self) -> u64 {
        self.0
    }

    /// The word for window `window_index` (any u64; only its low bits are
    /// kept) holding `previous` and `current`, each at most [`MAX_COUNT`].
    pub(crate) fn new(window_index: u64, previous: u64, current: u64) -> Self {
        debug_assert!(previous <= MAX_COUNT && current <= MAX_COUNT);
        Self(
            LIVE_BIT
                | (window_index & INDEX_MASK) << INDEX_SHIFT
                | previous << PREVIOUS_SHIFT
                | current,
        )
    }

    fn window_index(self) -> u64 {
        (self.0 >> INDEX_SHIFT) & INDEX_MASK
    }

    /// The counts as seen from window `now_index` (`now_ns / window_ns`).
    pub(crate) fn view(self, now_index: u64) -> View {
        let previous = (self.0 >> PREVIOUS_SHIFT) & COUNT_MASK;
        let current = self.0 & COUNT_MASK;
        // The index is kept modulo 2^21, so distances are too.
        let distance = now_index.wrapping_sub(self.window_index()) & INDEX_MASK;
        let (previous, current, behind) = if self.0 & LIVE_BIT == 0 {
            (0, 0, 0)
        } else if distance >= BEHIND_FROM {
            (previous, current, INDEX_MASK + 1 - distance)
        } else {
            match distance {
                0 => (previous, current, 0),
                1 => (current, 0, 0),
                _ => (0, 0, 0),
            }
        };
        View {
            previous,
            current,
            behind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(view: View) -> (u64, u64, u64) {
        (view.previous, view.current, view.behind)
    }

    #[test]
    fn fields_round_trip() {
        let word = WindowWord::new(7, MAX_COUNT, 3);
        assert_eq!(counts(word.view(7)), (MAX_COUNT, 3, 0));
        assert_eq!(WindowWord::from_bits(word.into_bits()), word);
    }

    #[test]
    fn rolls_and_expires() {
        let word = WindowWord::new(10, 4, 9);
        assert_eq!(counts(word.view(11)), (9, 0, 0));
        assert_eq!(counts(word.view(12)), (0, 0, 0));
        assert_eq!(counts(word.view(10 + BEHIND_FROM - 1)), (0, 0, 0));
    }

    #[test]
    fn any_distance_behind_keeps_the_counts() {
        let word = WindowWord::new(BEHIND_FROM + 10, 4, 9);
        assert_eq!(counts(word.view(BEHIND_FROM + 9)), (4, 9, 1));
        assert_eq!(counts(word.view(BEHIND_FROM + 8)), (4, 9, 2));
        assert_eq!(counts(word.view(10)), (4, 9, BEHIND_FROM));
        // One window further back is the far end of the ahead half.
        assert_eq!(counts(word.view(9)), (0, 0, 0));
    }

    #[test]
    fn an_unwritten_word_is_empty_from_any_window() {
        for now in [0, 1, BEHIND_FROM, INDEX_MASK, u64::MAX] {
            assert_eq!(counts(WindowWord::EMPTY.view(now)), (0, 0, 0));
        }
        // A written word with no counts still has a window.
        assert_eq!(counts(WindowWord::new(5, 0, 0).view(4)), (0, 0, 1));
    }

    #[test]
    fn index_wraps_modulo_its_field() {
        let word = WindowWord::new(INDEX_MASK, 0, 5);
        let next = INDEX_MASK + 1;
        assert_eq!(word.view(next).previous, 5);
        assert_eq!(word.view(next + 1).previous, 0);
        let wrapped = WindowWord::new(next, 1, 2);
        assert_eq!(wrapped.view(next).current, 2);
        assert_eq!(counts(wrapped.view(INDEX_MASK)), (1, 2, 1));
        assert_eq!(counts(wrapped.view(INDEX_MASK - 5)), (1, 2, 6));
    }
}
