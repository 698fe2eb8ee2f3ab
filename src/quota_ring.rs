//! The quotas a limiter's state words may be measured in.
//!
//! A word's generation field names one of [`GENERATIONS`] slots. A check
//! loads the word, then the slot its generation names, so it always does its
//! arithmetic in the units the word was written in, however a reconfiguration
//! races it. A reconfiguration publishes the new quota in the *next* slot and
//! only then converts the word into that generation.
//!
//! Slot pointers always point into `published`, which owns every quota ever
//! installed and only grows (deduplicated, so its size is bounded by the
//! number of distinct quotas used); a check holding a stale slot pointer
//! therefore reads a valid, immutable quota, and its CAS on the word fails.

use crate::quota::Quota;
use crate::state::GENERATIONS;
use crate::sync::{AtomicPtr, Mutex, MutexGuard, Ordering};
use std::sync::PoisonError;

pub(crate) struct QuotaRing {
    slots: [AtomicPtr<Quota>; GENERATIONS],
    /// Owner of every slot's quota. Its mutex also serializes writers:
    /// reconfigurations take turns, checks never touch it. The boxes keep
    /// each quota's address fixed while the vector grows.
    #[allow(clippy::vec_box)]
    published: Mutex<Vec<Box<Quota>>>,
}

/// Exclusive right to install quotas, held for one whole reconfiguration.
pub(crate) struct RingWriter<'a> {
    ring: &'a QuotaRing,
    #[allow(clippy::vec_box)] // see `QuotaRing::published`
    published: MutexGuard<'a, Vec<Box<Quota>>>,
}

impl QuotaRing {
    pub(crate) fn new(quota: Quota) -> Self {
        let published = vec![Box::new(quota)];
        let pointer = quota_pointer(&published[0]);
        Self {
            // Every slot starts valid so a stale generation never reads null.
            slots: std::array::from_fn(|_| AtomicPtr::new(pointer)),
            published: Mutex::new(published),
        }
    }

    /// The quota that words of `generation` are measured in.
    #[inline]
    pub(crate) fn get(&self, generation: usize) -> &Quota {
        // Acquire: pairs with the Release in `install`, so the quota's fields
        // are visible even to a check that reads a slot newer than its word
        // (plain memory that loom does not track, hence no loom test fails
        // with Relaxed; the C++ model does require it).
        let pointer = self.slots[generation].load(Ordering::Acquire);
        // SAFETY: every pointer stored in a slot comes from a Box owned by
        // `published`, which never removes or moves its boxes and is dropped
        // only with `self`; the quota behind it is never written after install.
        unsafe { &*pointer }
    }

    pub(crate) fn writer(&self) -> RingWriter<'_> {
        RingWriter {
            ring: self,
            published: self
                .published
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        }
    }
}

impl<'a> RingWriter<'a> {
    /// Makes slot `generation` name `quota` and returns the installed copy.
    /// The caller must not let any word of that generation exist meanwhile.
    pub(crate) fn install(&mut self, generation: usize, quota: Quota) -> &'a Quota {
        let installed = self.intern(quota);
        // Release: see `get`.
        self.ring.slots[generation].store(quota_pointer(installed), Ordering::Release);
        installed
    }

    /// The ring's own copy of `quota`, valid and unchanged for the ring's
    /// whole life, without naming it in any slot. Keyed per-key quotas keep
    /// pointers to such copies (`keyed/overrides.rs`).
    pub(crate) fn intern(&mut self, quota: Quota) -> &'a Quota {
        let index = match self.published.iter().position(|known| **known == quota) {
            Some(index) => index,
            None => {
                self.published.push(Box::new(quota));
                self.published.len() - 1
            }
        };
        let pointer = quota_pointer(&self.published[index]);
        // SAFETY: as in `get`: the box is owned by `published` for the ring's life.
        unsafe { &*pointer }
    }
}

/// The slot form of a published quota. It is only ever read through, so
/// deriving it from a shared borrow is sound.
fn quota_pointer(quota: &Quota) -> *mut Quota {
    quota as *const Quota as *mut Quota
}
