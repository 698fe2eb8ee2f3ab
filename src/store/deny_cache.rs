//! Denials answered locally: a key Redis denied until `T` is denied here
//! until `T`, with no round trip.
//!
//! Exact for GCRA: a bucket's debt only grows by admissions (from any host)
//! and drains at the quota's rate, so the instant a cost first fits can
//! only move later, never earlier, except by a refund. This process's own
//! refunds clear its entry; a refund made by another host may leave this
//! one denying until the `T` it last saw, never admitting early.
//!
//! `T` is kept on the limiter's clock from the moment the request was
//! *sent*: the server decided no earlier than that, so the local deadline
//! never falls after the server's. Quotas with a lockout are not cached:
//! their denials are charged on the server, which a local answer would skip.
//!
//! The fast path hashes the key, loads one slot of a fixed table (one
//! 16-byte atomic: the key's tag and its deadline together, so no lock and
//! no torn entry) and compares: no allocation. A slot holds one key;
//! another key hashing there replaces it, which only costs a round trip
//! later. A slot names its key by the slot index and a 64-bit tag of its
//! keyed fingerprint: a different key matching both (2^-64 for a lookup,
//! under a secret key no client can steer) would be denied until that
//! key's deadline, the cache's one approximation.

use crate::core::decision::{Decision, Outcome};
use crate::core::error::Result;
use crate::keyed::{AtomicPair, KeyHasher, PairBits, StoredKey};
use crate::store::units::ScriptQuota;
use crate::sync::Ordering;

/// One key's cached denial.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Entry {
    tag: u64,
    /// Ticks on the limiter's clock at which one request fits again; 0 for
    /// an empty slot.
    free_at: u64,
}

impl PairBits for Entry {
    #[inline]
    fn into_bits(self) -> u128 {
        (u128::from(self.tag) << 64) | u128::from(self.free_at)
    }

    #[inline]
    fn from_bits(bits: u128) -> Self {
        Self {
            tag: (bits >> 64) as u64,
            free_at: bits as u64,
        }
    }
}

/// A fixed table of cached denials.
pub(crate) struct DenyCache {
    hasher: KeyHasher,
    slots: Box<[AtomicPair<Entry>]>,
}

impl DenyCache {
    /// A cache of `slots` entries, rounded up to a power of two (at least 1).
    pub(crate) fn new(slots: usize) -> Self {
        let slots = slots.max(1).next_power_of_two();
        Self {
            hasher: KeyHasher::random(),
            slots: (0..slots)
                .map(|_| AtomicPair::new(Entry::default()))
                .collect(),
        }
    }

    fn slot(&self, home: u64) -> &AtomicPair<Entry> {
        &self.slots[(home as usize) & (self.slots.len() - 1)]
    }

    /// Replaces what `slot` holds, if it still holds `seen`: a write that
    /// loses to another is dropped (a cache may forget; the next call asks
    /// the server).
    fn replace(slot: &AtomicPair<Entry>, seen: Entry, entry: Entry) {
        // Relaxed: an entry is its own whole message (a key and a deadline
        // the server gave it); nothing else is published with it.
        let _ = slot.compare_exchange(seen, entry, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The cached denial of `cost` for `key` at `now_ns` on the limiter's
    /// clock, if the key is known to be denied then. Validates the key.
    pub(crate) fn denial(
        &self,
        key: &[u8],
        quota: &ScriptQuota,
        cost: u64,
        now_ns: u64,
    ) -> Result<Option<Decision>> {
        let print = self.hasher.checked_fingerprint(key)?;
        if cost == 0 || cost > quota.quota().burst() {
            return Ok(None);
        }
        // Relaxed: see `replace`.
        let entry = self.slot(print.home()).load(Ordering::Relaxed);
        if entry.free_at == 0 || entry.tag != print.tag() {
            return Ok(None);
        }
        let free_at = entry.free_at;
        let q = quota.quota();
        let now = quota.ticks(now_ns);
        // A cost of c fits (c - 1) requests after one does.
        let fits_at = free_at.saturating_add((cost - 1) * q.token_ticks());
        if now >= fits_at {
            return Ok(None);
        }
        // The debt at least: one request short of fitting at `free_at`,
        // drained since (now may be past `free_at` when the cost is above
        // one). Positive: cost <= burst puts `now < fits_at <= free_at +
        // capacity - T`.
        let debt = free_at + q.capacity_ticks() - q.token_ticks() - now;
        Ok(Some(Decision::from_ticks(
            Outcome::Denied,
            q.burst(),
            debt,
            fits_at - now,
            q.token_ticks(),
            q.ticks_per_ns(),
        )))
    }

    /// Records `decision`, made by the server for a request sent at
    /// `sent_ns` on the limiter's clock; an admission forgets the key.
    pub(crate) fn record(
        &self,
        key: &[u8],
        quota: &ScriptQuota,
        decision: &Decision,
        sent_ns: u64,
    ) {
        let q = quota.quota();
        if q.lockout_ticks() != 0 {
            return;
        }
        // The same key was validated before it was sent.
        let Ok(print) = self.hasher.checked_fingerprint(key) else {
            return;
        };
        let slot = self.slot(print.home());
        // Relaxed: see `replace`.
        let seen = slot.load(Ordering::Relaxed);
        match decision.outcome() {
            Outcome::Denied => {
                // Ticks until a single request fits: debt + T - capacity.
                let used = decision.used_ticks();
                let Some(wait) = (used + q.token_ticks()).checked_sub(q.capacity_ticks()) else {
                    return;
                };
                if wait == 0 {
                    return;
                }
                let entry = Entry {
                    tag: print.tag(),
                    free_at: quota.ticks(sent_ns).saturating_add(wait).max(1),
                };
                Self::replace(slot, seen, entry);
            }
            _ if seen.tag == print.tag() => Self::replace(slot, seen, Entry::default()),
            _ => {}
        }
    }

    /// Forgets `key` (after a refund, which may let it in earlier).
    pub(crate) fn forget(&self, key: &[u8]) {
        let Ok(print) = self.hasher.checked_fingerprint(key) else {
            return;
        };
        let slot = self.slot(print.home());
        // Relaxed: see `replace`.
        let mut seen = slot.load(Ordering::Relaxed);
        // Until the key's entry is gone: a denial recorded meanwhile may
        // predate the refund, which can let the key in earlier.
        while seen.tag == print.tag() && seen.free_at != 0 {
            // Relaxed: see `replace`.
            match slot.compare_exchange(
                seen,
                Entry::default(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(()) => return,
                Err(held) => seen = held,
            }
        }
    }
}
