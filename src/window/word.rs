//! The sliding-window state word: a counter's whole state in one `u64`.
//!
//! ```text
//!  63                42 41               21 20                0
//! [ window index: 22  | previous count: 21 | current count: 21 ]
//! ```
//!
//! * `window index` is `now_ns / window_ns` modulo 2^22: which window the
//!   `current` count belongs to. Only its distance from the window of *now*
//!   matters: 0 is the same window, 1 means the word's `current` is now the
//!   previous window, one *behind* (now is in the window before the word's:
//!   another core's clock, or a caller timestamp slightly in the past) keeps
//!   the counts as they are, anything else means both counts have expired.
//! * `previous` and `current` are request counts (cost units), at most
//!   [`MAX_COUNT`] each.
//!
//! A word left untouched for a multiple of 2^22 windows (48 days of 1 s
//! windows, 8 years of 1 min windows), give or take one window, aliases an
//! index near now and its old counts read as recent. That can only deny,
//! never admit, and ends within two windows.
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

/// A word's counts as seen from the window of some `now`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct View {
    /// Count of the window before the one the view is taken in.
    pub(crate) previous: u64,
    /// Count of the window the view is taken in.
    pub(crate) current: u64,
    /// Whether now lies one window before the word's window: the view is
    /// then of the word's own window, from its start.
    pub(crate) behind: bool,
}

impl WindowWord {
    /// An empty counter.
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

    /// The counts as seen from window `now_index` (`now_ns / window_ns`).
    pub(crate) fn view(self, now_index: u64) -> View {
        let previous = (self.0 >> PREVIOUS_SHIFT) & COUNT_MASK;
        let current = self.0 & COUNT_MASK;
        // The index is kept modulo 2^22, so distances are too.
        let distance = now_index.wrapping_sub(self.window_index()) & INDEX_MASK;
        match distance {
            0 => View {
                previous,
                current,
                behind: false,
            },
            1 => View {
                previous: current,
                current: 0,
                behind: false,
            },
            INDEX_MASK => View {
                previous,
                current,
                behind: true,
            },
            _ => View {
                previous: 0,
                current: 0,
                behind: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let word = WindowWord::new(7, MAX_COUNT, 3);
        assert_eq!(
            word.view(7),
            View {
                previous: MAX_COUNT,
                current: 3,
                behind: false
            }
        );
        assert_eq!(WindowWord::from_bits(word.into_bits()), word);
    }

    #[test]
    fn rolls_and_expires() {
        let word = WindowWord::new(10, 4, 9);
        assert_eq!((word.view(11).previous, word.view(11).current), (9, 0));
        assert_eq!((word.view(12).previous, word.view(12).current), (0, 0));
        assert!(word.view(9).behind);
        assert_eq!((word.view(9).previous, word.view(9).current), (4, 9));
        assert_eq!(WindowWord::EMPTY.view(123_456).current, 0);
    }

    #[test]
    fn index_wraps_modulo_its_field() {
        let word = WindowWord::new(INDEX_MASK, 0, 5);
        let next = INDEX_MASK + 1;
        assert_eq!(word.view(next).previous, 5);
        assert_eq!(word.view(next + 1).previous, 0);
        let wrapped = WindowWord::new(next, 1, 2);
        assert_eq!(wrapped.view(next).current, 2);
        assert!(wrapped.view(INDEX_MASK).behind);
    }
}
