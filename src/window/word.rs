//! The sliding-window state word: a counter's whole state in one `u64`.
//!
//! ```text
//!  63                42 41               21 20                0
//! [ window index: 22  | previous count: 21 | current count: 21 ]
//! ```
//!
//! * `window index` is `now_ns / window_ns` modulo 2^22: which window the
//!   `current` count belongs to. Only its distance from the window a check
//!   is decided in matters: 0 is the same window, 1 means the word's
//!   `current` is now the previous count, anything else means both counts
//!   have expired. The word is never in a window after the one a check is
//!   decided in: the counter decides a timestamp behind the latest window it
//!   was given in that window (see `mod.rs`).
//! * `previous` and `current` are request counts (cost units), at most
//!   [`MAX_COUNT`] each.
//!
//! A word whose counts were last written a whole multiple of 2^22 windows
//! ago (48 days of 1 s windows, 8 years of 1 min windows), or one window
//! more, aliases a recent index and its old counts read as recent. That can
//! only deny, never admit, and ends within two windows.
//!
//! This module is the single owner of the layout: nothing else shifts or
//! masks these bits.

const COUNT_BITS: u32 = 21;
const INDEX_BITS: u32 = 22;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
const PREVIOUS_SHIFT: u32 = COUNT_BITS;
const INDEX_SHIFT: u32 = 2 * COUNT_BITS;

/// The largest count either field holds, hence the largest window limit.
pub(crate) const MAX_COUNT: u64 = COUNT_MASK;

/// One sliding-window counter's packed state. See the module docs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct WindowWord(u64);

/// A word's counts as seen from some window.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct View {
    /// Count of the window before the one the view is taken in.
    pub(crate) previous: u64,
    /// Count of the window the view is taken in.
    pub(crate) current: u64,
}

impl WindowWord {
    /// An empty counter: no counts, so its window index does not matter.
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
        Self((window_index & INDEX_MASK) << INDEX_SHIFT | previous << PREVIOUS_SHIFT | current)
    }

    fn window_index(self) -> u64 {
        self.0 >> INDEX_SHIFT
    }

    /// The counts as seen from window `index`, which is not before the
    /// word's window.
    pub(crate) fn view(self, index: u64) -> View {
        let previous = (self.0 >> PREVIOUS_SHIFT) & COUNT_MASK;
        let current = self.0 & COUNT_MASK;
        // The index is kept modulo 2^22, so distances are too.
        match index.wrapping_sub(self.window_index()) & INDEX_MASK {
            0 => View { previous, current },
            1 => View {
                previous: current,
                current: 0,
            },
            _ => View {
                previous: 0,
                current: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(view: View) -> (u64, u64) {
        (view.previous, view.current)
    }

    #[test]
    fn fields_round_trip() {
        let word = WindowWord::new(7, MAX_COUNT, 3);
        assert_eq!(counts(word.view(7)), (MAX_COUNT, 3));
        assert_eq!(WindowWord::from_bits(word.into_bits()), word);
    }

    #[test]
    fn rolls_and_expires() {
        let word = WindowWord::new(10, 4, 9);
        assert_eq!(counts(word.view(11)), (9, 0));
        for later in [12, 13, 10 + (1 << 21), 10 + INDEX_MASK] {
            assert_eq!(counts(word.view(later)), (0, 0), "{later}");
        }
        assert_eq!(counts(WindowWord::EMPTY.view(123_456)), (0, 0));
    }

    #[test]
    fn index_wraps_modulo_its_field() {
        let word = WindowWord::new(INDEX_MASK, 0, 5);
        let next = INDEX_MASK + 1;
        assert_eq!(counts(word.view(next)), (5, 0));
        assert_eq!(counts(word.view(next + 1)), (0, 0));
        // A whole number of wraps later, the old counts alias recent ones.
        assert_eq!(counts(word.view(INDEX_MASK + next)), (0, 5));
    }
}
