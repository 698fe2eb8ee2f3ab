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
//! global lock table, which is correct but not lock-free. On x86_64 with
//! `cmpxchg16b` and AVX the load and the CAS are this module's own inline
//! `asm!` (the same instructions portable-atomic picks there, without its
//! out-of-line call through a function pointer on every operation). Under `cfg(loom)`
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
        #[cfg(target_arch = "x86_64")]
        if x86::inline_ops() {
            // SAFETY: `inline_ops` found cmpxchg16b and AVX, so portable-atomic
            // too does every access to this atomic with cmpxchg16b or vmovdqa
            // (never its lock table); the pointer is the live atomic's own,
            // 16-byte aligned (`AtomicU128`'s alignment).
            return P::from_bits(unsafe { x86::load(self.0.as_ptr()) });
        }
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
        #[cfg(target_arch = "x86_64")]
        if x86::inline_ops() {
            // SAFETY: as in `load`: cmpxchg16b is present, every other
            // access is atomic, and the pointer is live and 16-byte aligned.
            let (held, swapped) = unsafe {
                x86::compare_exchange(self.0.as_ptr(), current.into_bits(), new.into_bits())
            };
            return if swapped {
                Ok(())
            } else {
                Err(P::from_bits(held))
            };
        }
        self.0
            .compare_exchange(current.into_bits(), new.into_bits(), success, failure)
            .map(drop)
            .map_err(P::from_bits)
    }
}

/// The 16-byte load and CAS inlined into their callers on x86_64.
///
/// Both are at least as strong as any ordering a caller asks for: `lock
/// cmpxchg16b` is a full barrier (sequentially consistent), and an aligned
/// 16-byte load is atomic on every CPU with AVX (Intel's and AMD's manuals;
/// what LLVM and portable-atomic rely on too) and, like every x86 load, an
/// acquire, which is also what a `SeqCst` load compiles to on x86. Neither
/// `asm!` block is `nomem` or `readonly`, so the compiler moves no memory
/// access across either.
#[cfg(all(not(loom), target_arch = "x86_64"))]
mod x86 {
    use crate::sync::{AtomicU64, Ordering};
    use std::arch::asm;
    use std::arch::x86_64::__m128i;

    /// [`inline_ops`]'s answer once asked: 0 not yet, 1 yes, 2 no.
    static PRESENT: AtomicU64 = AtomicU64::new(0);

    /// Whether this CPU has both instructions: one load and a compare once
    /// asked (std's own cache tests two feature bits with shifts, which
    /// cost the one-key check more than the call this saves), and `true`
    /// at compile time in a build for a target with both. Both must be
    /// present: without cmpxchg16b portable-atomic keeps the pair behind a
    /// lock, and a plain load would race with writes made under it.
    #[inline(always)]
    pub(super) fn inline_ops() -> bool {
        if cfg!(all(target_feature = "cmpxchg16b", target_feature = "avx")) {
            return true;
        }
        // Relaxed: the answer is the CPU's; every thread that asks stores the same.
        match PRESENT.load(Ordering::Relaxed) {
            1 => true,
            2 => false,
            _ => detect(),
        }
    }

    #[cold]
    #[inline(never)]
    fn detect() -> bool {
        let present =
            std::is_x86_feature_detected!("cmpxchg16b") && std::is_x86_feature_detected!("avx");
        // Relaxed: see `inline_ops`.
        PRESENT.store(if present { 1 } else { 2 }, Ordering::Relaxed);
        present
    }

    /// The 16 bytes at `src`, read in one access.
    ///
    /// # Safety
    /// `src` is valid, 16-byte aligned, only ever accessed atomically, and
    /// [`inline_ops`] is true.
    #[inline(always)]
    pub(super) unsafe fn load(src: *mut u128) -> u128 {
        let bits: __m128i;
        // SAFETY: the caller's contract: a valid, aligned, atomically
        // accessed location, on a CPU with AVX (where this load is atomic).
        unsafe {
            asm!(
                "vmovdqa {bits}, xmmword ptr [{src}]",
                src = in(reg) src,
                bits = out(xmm_reg) bits,
                options(nostack, preserves_flags),
            );
            std::mem::transmute::<__m128i, u128>(bits)
        }
    }

    /// Swaps `new` in at `dst` if it holds `current`; returns what it held
    /// and whether it swapped.
    ///
    /// # Safety
    /// As for [`load`], and valid for writes.
    #[inline(always)]
    pub(super) unsafe fn compare_exchange(
        dst: *mut u128,
        current: u128,
        new: u128,
    ) -> (u128, bool) {
        let (held_low, held_high): (u64, u64);
        let swapped: u8;
        // SAFETY: the caller's contract: a valid, aligned, atomically
        // accessed location, on a CPU with cmpxchg16b. The instruction
        // takes the new value's low half in rbx, which `asm!` may not name:
        // it is swapped in from r8 and restored before the block ends (`mov`
        // leaves ZF, which `sete` reads last). Every other operand has a
        // named register, since a `reg` operand may be given rbx itself.
        unsafe {
            asm!(
                "xchg r8, rbx",
                "lock cmpxchg16b xmmword ptr [rsi]",
                "mov rbx, r8",
                "sete {swapped}",
                in("rsi") dst,
                inout("r8") new as u64 => _,
                in("rcx") (new >> 64) as u64,
                inout("rax") current as u64 => held_low,
                inout("rdx") (current >> 64) as u64 => held_high,
                swapped = lateout(reg_byte) swapped,
                options(nostack),
            );
        }
        (
            (u128::from(held_high) << 64) | u128::from(held_low),
            swapped != 0,
        )
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
    fn both_halves_change_together_under_contention() {
        // Each thread raises both halves by one per swap; a torn load or a
        // swap that wrote one half would leave them unequal, or lose a count.
        const SWAPS: u64 = 20_000;
        let slot = AtomicPair::new(Pair {
            tag: 0,
            word: StateWord::from_bits(0),
        });
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    for _ in 0..SWAPS {
                        let mut seen = slot.load(Ordering::Acquire);
                        loop {
                            assert_eq!(seen.tag, seen.word.into_bits());
                            let next = Pair {
                                tag: seen.tag + 1,
                                word: StateWord::from_bits(seen.tag + 1),
                            };
                            match slot.compare_exchange(
                                seen,
                                next,
                                Ordering::AcqRel,
                                Ordering::Acquire,
                            ) {
                                Ok(()) => break,
                                Err(held) => seen = held,
                            }
                        }
                    }
                });
            }
        });
        let last = slot.load(Ordering::Acquire);
        assert_eq!((last.tag, last.word.into_bits()), (2 * SWAPS, 2 * SWAPS));
    }

    #[test]
    fn sixteen_byte_cas_is_lock_free_here() {
        // The keyed limiter's "no lock" promise rests on this on x86_64/AArch64.
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            assert!(portable_atomic::AtomicU128::is_lock_free());
        }
    }
}
