//! The quotas a limiter's state words may be measured in.
//!
//! A word's generation field names one of [`GENERATIONS`] slots. A check
//! loads the word, then the slot its generation names, so it always does its
//! arithmetic in the units the word was written in, however a reconfiguration
//! races it. A reconfiguration publishes the new quota in the *next* slot and
//! only then converts the word into that generation.
//!
//! Each slot holds its quota inline, as atomic words read under a sequence
//! counter (a seqlock), so memory is fixed however many quotas are installed
//! and an install is O(1). A check whose word is stale may read a slot while
//! it is rewritten: it then gets a newer quota (its CAS on the word fails,
//! since the word left that generation before the rewrite began) or, if the
//! rewrite overlapped its read, `None`, and it reads the word again. A slot
//! is only ever rewritten while no current word names it, so a check whose
//! word is current reads its slot on the first try and never waits.
//!
//! What generations cannot tell apart: a check delayed across
//! [`GENERATIONS`] whole reconfigurations finds its word's generation named
//! again, its slot rewritten. If the word is then bit-identical to the one
//! it read (a full bucket converted at the same timestamp, say), its CAS
//! succeeds and stores a charge computed under the older quota. The check's
//! decision is still wholly one quota's; only the stored debt is in the
//! wrong units. It needs a check preempted for four serialized quota
//! changes (`keyed/mod.rs` describes the keyed limiter's twin window).

use crate::core::alloc::Shareable;
use crate::core::quota::{Quota, QUOTA_WORDS};
use crate::core::state::GENERATIONS;
use crate::core::writer_lock::{WriterGuard, WriterLock};
use crate::sync::{fence, AtomicU64, Ordering};

/// One quota, stored inline: [`QUOTA_WORDS`] atomic words behind a sequence
/// counter that is odd while a writer rewrites them. 56 bytes: one cache
/// line when aligned (see [`QuotaRing`]). Writers must be serialized by
/// their owner.
pub(crate) struct QuotaSlot {
    seq: AtomicU64,
    words: [AtomicU64; QUOTA_WORDS],
}

// SAFETY: atomic integers only.
unsafe impl Shareable for QuotaSlot {}

impl QuotaSlot {
    pub(crate) fn new(quota: Quota) -> Self {
        Self {
            seq: AtomicU64::new(0),
            words: quota.to_words().map(AtomicU64::new),
        }
    }

    /// The quota in the slot, whole, or `None` if a writer rewrote the slot
    /// during the read. After `None`, the caller sees every store the
    /// writer made before its rewrite.
    #[inline]
    pub(crate) fn read(&self) -> Option<Quota> {
        // Acquire: pairs with the Release stores in `write`: the words of the
        // write whose counter we read are visible, and after an odd counter,
        // whatever the writer did before its rewrite.
        let before = self.seq.load(Ordering::Acquire);
        // Relaxed: validated by the counter reloaded after the fence.
        let words = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
        // Acquire: if any word above came from a later write, that write's
        // odd counter (stored before its Release fence) is visible below.
        fence(Ordering::Acquire);
        // Relaxed: ordered after the word loads by the fence above.
        let after = self.seq.load(Ordering::Relaxed);
        if before == after && before % 2 == 0 {
            Some(Quota::from_words(words))
        } else {
            // Acquire: a counter read from a later write also brings what its
            // writer did before (off the fast path, so it costs checks nothing).
            fence(Ordering::Acquire);
            None
        }
    }

    /// Replaces the quota. The caller must hold its owner's writer lock.
    pub(crate) fn write(&self, quota: Quota) {
        // Relaxed: only writers store the counter, and they take turns.
        // Odd only if a writer died mid-write (a process killed holding a
        // shared segment's lock): this write then takes over its odd count.
        let odd = self.seq.load(Ordering::Relaxed) | 1;
        // Release: a reader that sees this odd counter also sees what writers
        // did before (the conversion that moved the reader's word away).
        self.seq.store(odd, Ordering::Release);
        // Release: a reader whose word load reads a store below also reads
        // the odd counter (or later) after its Acquire fence.
        fence(Ordering::Release);
        for (word, value) in self.words.iter().zip(quota.to_words()) {
            // Relaxed: published by the counter store below.
            word.store(value, Ordering::Relaxed);
        }
        // Release: a reader that sees this even counter sees the words above.
        self.seq.store(odd.wrapping_add(1), Ordering::Release);
    }
}

/// A [`QuotaSlot`] on its own cache line, so a check reads one line.
#[repr(align(64))]
struct Line(QuotaSlot);

pub(crate) struct QuotaRing {
    slots: [Line; GENERATIONS],
    /// Serializes writers: reconfigurations take turns, checks never touch it.
    writers: WriterLock,
}

// SAFETY: quota slots and a lock word: atomic integers only.
unsafe impl Shareable for QuotaRing {}

/// Exclusive right to install quotas, held for one whole reconfiguration.
pub(crate) struct RingWriter<'a> {
    ring: &'a QuotaRing,
    guard: WriterGuard<'a>,
}

impl QuotaRing {
    pub(crate) fn new(quota: Quota) -> Self {
        Self {
            // Every slot starts valid so a stale generation always reads a quota.
            slots: std::array::from_fn(|_| Line(QuotaSlot::new(quota))),
            writers: WriterLock::new(),
        }
    }

    /// The quota that words of `generation` are measured in, or `None` when
    /// the slot was being rewritten: the word that named it is stale, and the
    /// caller must read its word again (it then sees the new one).
    #[inline]
    pub(crate) fn get(&self, generation: usize) -> Option<Quota> {
        self.slots[generation].0.read()
    }

    pub(crate) fn writer(&self) -> RingWriter<'_> {
        RingWriter {
            ring: self,
            guard: self.writers.lock(),
        }
    }
}

impl RingWriter<'_> {
    /// Makes slot `generation` hold `quota`, in place.
    /// The caller must not let any word of that generation exist meanwhile.
    pub(crate) fn install(&mut self, generation: usize, quota: Quota) {
        self.ring.slots[generation].0.write(quota);
    }

    /// The quota slot `generation` holds, or `None` if a writer died while
    /// rewriting it (which it did only while no word named it).
    pub(crate) fn installed(&self, generation: usize) -> Option<Quota> {
        // No writer runs beside this one, so a slot reads whole on the
        // first try unless its last writer died halfway.
        self.ring.slots[generation].0.read()
    }

    /// The quota of a generation some word is measured in. A writer only
    /// ever rewrites a slot no word names, so this slot reads whole even
    /// after a writer died halfway through rewriting another.
    pub(crate) fn named(&self, generation: usize) -> Quota {
        match self.installed(generation) {
            Some(quota) => quota,
            None => unreachable!("a quota slot that words name is never rewritten"),
        }
    }

    /// Whether the previous writer died mid-reconfiguration (see
    /// [`WriterGuard::recovered`]).
    pub(crate) fn recovered(&self) -> bool {
        self.guard.recovered()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Line>(), 64);
    }

    #[test]
    fn installs_rewrite_slots_in_place() {
        let first = Quota::per_second(1).unwrap();
        let ring = QuotaRing::new(first);
        let mut writer = ring.writer();
        for count in 2..1_000 {
            let quota = Quota::per_second(count).unwrap();
            writer.install(count as usize % GENERATIONS, quota);
            assert_eq!(writer.installed(count as usize % GENERATIONS), Some(quota));
        }
        drop(writer);
        assert_eq!(ring.get(0), Some(Quota::per_second(996).unwrap()));
        assert_eq!(ring.get(3), Some(Quota::per_second(999).unwrap()));
    }
}
