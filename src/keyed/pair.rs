//! A slot's key tag and bucket word, read and swapped as one 16-byte atomic.
//!
//! This is what makes charging another key's bucket impossible: every write
//! to a slot is a compare-and-swap of the whole pair, so a check whose CAS
//! expects `(its key's tag, the word it read)` succeeds only while the slot
//! still holds its own key, however many times the slot was reclaimed and
//! refilled in between, even if the new key's word has the same bits.
//!
//! The pair is a `portable_atomic::AtomicU128`: `lock cmpxchg16b` on x86_64
//! (found at run time) and `casp`/`ldxp`+`stxp` on AArch64, so it is lock-free
//! there; targets without a 16-byte CAS fall back to portable-atomic's
//! global lock table, which is correct but not lock-free. Under `cfg(loom)`
//! the pair is a loom mutex: the model checker then explores every order of
//! pair operations, with the pair itself sequentially consistent (which the
//! hardware instructions above are too).

use crate::state::StateWord;
use crate::sync::Ordering;

/// What one slot holds: the tag of the key it belongs to (the key itself for
/// `u64` keys, the upper fingerprint half for byte keys) and its word.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Pair {
    pub(crate) tag: u64,
    pub(crate) word: StateWord,
}

impl Pair {
    /// The single place the pair's 128-bit layout is defined: tag high, word low.
    #[inline]
    fn into_bits(self) -> u128 {
        (u128::from(self.tag) << 64) | u128::from(self.word.into_bits())
    }

    #[inline]
    fn from_bits(bits: u128) -> Self {
        Self {
            tag: (bits >> 64) as u64,
            word: StateWord::from_bits(bits as u64),
        }
    }
}

/// A [`Pair`] that threads update together by compare-and-swap.
#[cfg(not(loom))]
pub(crate) struct AtomicPair(portable_atomic::AtomicU128);

#[cfg(not(loom))]
impl AtomicPair {
    pub(crate) fn new(pair: Pair) -> Self {
        Self(portable_atomic::AtomicU128::new(pair.into_bits()))
    }

    #[inline]
    pub(crate) fn load(&self, order: Ordering) -> Pair {
        Pair::from_bits(self.0.load(order))
    }

    /// Swaps in `new` if the slot holds exactly `current`; otherwise returns
    /// what it holds.
    #[inline]
    pub(crate) fn compare_exchange(
        &self,
        current: Pair,
        new: Pair,
        success: Ordering,
        failure: Ordering,
    ) -> Result<(), Pair> {
        self.0
            .compare_exchange(current.into_bits(), new.into_bits(), success, failure)
            .map(drop)
            .map_err(Pair::from_bits)
    }
}

/// The model-checked twin: a loom mutex around the 128 bits.
#[cfg(loom)]
pub(crate) struct AtomicPair(loom::sync::Mutex<u128>);

#[cfg(loom)]
impl AtomicPair {
    pub(crate) fn new(pair: Pair) -> Self {
        Self(loom::sync::Mutex::new(pair.into_bits()))
    }

    pub(crate) fn load(&self, _order: Ordering) -> Pair {
        Pair::from_bits(*self.0.lock().unwrap())
    }

    pub(crate) fn compare_exchange(
        &self,
        current: Pair,
        new: Pair,
        _success: Ordering,
        _failure: Ordering,
    ) -> Result<(), Pair> {
        let mut bits = self.0.lock().unwrap();
        if *bits == current.into_bits() {
            *bits = new.into_bits();
            Ok(())
        } else {
            Err(Pair::from_bits(*bits))
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::state::SlotMark;

    #[test]
    fn a_different_tag_fails_the_swap_even_with_the_same_word() {
        let word = StateWord::with_debt(0, 10, 5);
        let slot = AtomicPair::new(Pair { tag: 7, word });
        let other_key = Pair { tag: 8, word };
        let charged = Pair {
            tag: 8,
            word: StateWord::with_debt(0, 10, 6),
        };
        let held = slot
            .compare_exchange(other_key, charged, Ordering::Relaxed, Ordering::Relaxed)
            .unwrap_err();
        assert_eq!(held, Pair { tag: 7, word });
        let empty = Pair {
            tag: u64::MAX,
            word: StateWord::marked(SlotMark::Empty, 1),
        };
        assert!(slot
            .compare_exchange(held, empty, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok());
        assert_eq!(slot.load(Ordering::Relaxed), empty);
    }

    #[test]
    fn sixteen_byte_cas_is_lock_free_here() {
        // The keyed limiter's "no lock" promise rests on this on x86_64/AArch64.
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            assert!(portable_atomic::AtomicU128::is_lock_free());
        }
    }
}
