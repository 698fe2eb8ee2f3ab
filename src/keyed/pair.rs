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
//! the pair is a loom atomic pointer to an immutable pair, so every load and
//! CAS is one loom atomic operation with the caller's orderings, and the
//! model checks the orderings the code relies on, not a lock's.

use crate::core::state::StateWord;
use crate::sync::Ordering;
#[cfg(not(loom))]
use std::marker::PhantomData;

/// What one slot holds: the tag of the key it belongs to (the key itself for
/// `u64` keys, the upper fingerprint half for byte keys) and its word.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Pair {
    pub(crate) tag: u64,
    pub(crate) word: StateWord,
}

/// A value of two words that an [`AtomicPair`] holds as one 128-bit atomic.
#[cfg_attr(loom, allow(dead_code))] // the loom twin stores pairs whole
pub(crate) trait PairBits: Copy + Eq {
    fn into_bits(self) -> u128;
    fn from_bits(bits: u128) -> Self;
}

impl PairBits for Pair {
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

/// A [`Pair`] (or another [`PairBits`], such as the insert-only map's key
/// identity) that threads update together by compare-and-swap.
#[cfg(not(loom))]
pub(crate) struct AtomicPair<P = Pair>(portable_atomic::AtomicU128, PhantomData<P>);

// SAFETY: one 128-bit atomic integer: no pointer, no Drop. Shared mode is
// refused where portable-atomic would implement it with a process-local
// lock (`shm/segment.rs`), so across processes it is the CPU's own CAS.
#[cfg(not(loom))]
unsafe impl<P> crate::core::alloc::Shareable for AtomicPair<P> {}

#[cfg(not(loom))]
impl<P: PairBits> AtomicPair<P> {
    pub(crate) fn new(pair: P) -> Self {
        Self(
            portable_atomic::AtomicU128::new(pair.into_bits()),
            PhantomData,
        )
    }

    #[inline]
    pub(crate) fn load(&self, order: Ordering) -> P {
        P::from_bits(self.0.load(order))
    }

    /// Swaps in `new` if the slot holds exactly `current`; otherwise returns
    /// what it holds.
    #[inline]
    pub(crate) fn compare_exchange(
        &self,
        current: P,
        new: P,
        success: Ordering,
        failure: Ordering,
    ) -> Result<(), P> {
        self.0
            .compare_exchange(current.into_bits(), new.into_bits(), success, failure)
            .map(drop)
            .map_err(P::from_bits)
    }
}

/// The model-checked twin: a loom `AtomicPtr` to an immutable pair. Loom
/// has no 16-byte atomic, and a pointer swap is the one way to change 128
/// bits in a single loom operation that keeps the caller's ordering.
#[cfg(loom)]
pub(crate) struct AtomicPair<P = Pair> {
    current: crate::sync::AtomicPtr<P>,
    /// Every pair ever stored here, freed with the slot: a reader may still
    /// hold a pointer the slot has since moved past. Boxed, because a
    /// pointer into the vector itself would move when it grows.
    #[allow(clippy::vec_box)]
    stored: std::sync::Mutex<Vec<Box<P>>>,
}

// SAFETY: loom models run in one process and never map a segment; the
// marker only lets the table be placed on the heap as it is elsewhere.
#[cfg(loom)]
unsafe impl<P> crate::core::alloc::Shareable for AtomicPair<P> {}

#[cfg(loom)]
impl<P: PairBits> AtomicPair<P> {
    pub(crate) fn new(pair: P) -> Self {
        let first = Box::new(pair);
        Self {
            current: crate::sync::AtomicPtr::new(std::ptr::from_ref(&*first).cast_mut()),
            stored: std::sync::Mutex::new(vec![first]),
        }
    }

    /// A pointer to `pair` that stays valid as long as `self`.
    fn keep(&self, pair: P) -> *mut P {
        let boxed = Box::new(pair);
        let pointer = std::ptr::from_ref(&*boxed).cast_mut();
        self.stored.lock().unwrap().push(boxed);
        pointer
    }

    fn read(pointer: *mut P) -> P {
        // SAFETY: every pointer `current` holds came from `new` or `keep`,
        // whose boxes are never moved out of nor freed before `self` is.
        unsafe { *pointer }
    }

    /// The newest pointer in the slot's modification order, read with
    /// `order`: a CAS that expects null (never held) fails and reports it,
    /// exactly as a failed CAS of the real pair does.
    fn newest(&self, order: Ordering) -> *mut P {
        match self.current.compare_exchange(
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            order,
            order,
        ) {
            Ok(_) => unreachable!("the slot never holds null"),
            Err(pointer) => pointer,
        }
    }

    pub(crate) fn load(&self, order: Ordering) -> P {
        Self::read(self.current.load(order))
    }

    /// Compares by value, as the real CAS does; succeeds or fails in one
    /// loom operation with the caller's `success` or `failure` ordering.
    /// The one approximation: if the pair is changed and changed back to an
    /// equal value between our look and our swap, the retry carries
    /// `failure`'s ordering on top of `success`'s.
    pub(crate) fn compare_exchange(
        &self,
        current: P,
        new: P,
        success: Ordering,
        failure: Ordering,
    ) -> Result<(), P> {
        let fresh = self.keep(new);
        // Relaxed: only finds the newest pointer; the outcome is decided by
        // a later operation with the caller's ordering.
        let mut seen = self.newest(Ordering::Relaxed);
        let mut read_with_failure = failure == Ordering::Relaxed;
        loop {
            let held = Self::read(seen);
            if held != current {
                if read_with_failure {
                    return Err(held);
                }
                seen = self.newest(failure);
                read_with_failure = true;
                continue;
            }
            match self.current.compare_exchange(seen, fresh, success, failure) {
                Ok(_) => return Ok(()),
                Err(actual) => {
                    seen = actual;
                    read_with_failure = true;
                }
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::core::state::SlotMark;

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
