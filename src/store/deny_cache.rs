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
//! The fast path hashes the key, locks one slot of a fixed table and
//! compares: no allocation. A slot holds one key (by its 128-bit keyed
//! fingerprint); another key hashing there replaces it, which only costs a
//! round trip later.

use crate::core::decision::{Decision, Outcome};
use crate::core::error::Result;
use crate::keyed::{KeyHasher, StoredKey};
use crate::store::units::ScriptQuota;
use std::sync::{Mutex, MutexGuard};

/// One key's cached denial.
#[derive(Clone, Copy, Default)]
struct Entry {
    tag: u64,
    extra: u64,
    /// Ticks on the limiter's clock at which one request fits again; 0 for
    /// an empty slot.
    free_at: u64,
}

/// A fixed table of cached denials.
pub(crate) struct DenyCache {
    hasher: KeyHasher,
    slots: Box<[Mutex<Entry>]>,
}

impl DenyCache {
    /// A cache of `slots` entries, rounded up to a power of two (at least 1).
    pub(crate) fn new(slots: usize) -> Self {
        let slots = slots.max(1).next_power_of_two();
        Self {
            hasher: KeyHasher::random(),
            slots: (0..slots).map(|_| Mutex::new(Entry::default())).collect(),
        }
    }

    fn slot(&self, home: u64) -> MutexGuard<'_, Entry> {
        let index = (home as usize) & (self.slots.len() - 1);
        // A panic while holding a slot leaves a plain copy of figures, which
        // is still consistent: poisoning carries no meaning here.
        self.slots[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
        let free_at = {
            let entry = self.slot(print.home());
            if entry.free_at == 0 || (entry.tag, entry.extra) != (print.tag(), print.extra()) {
                return Ok(None);
            }
            entry.free_at
        };
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
        let mut entry = self.slot(print.home());
        let same = (entry.tag, entry.extra) == (print.tag(), print.extra());
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
                *entry = Entry {
                    tag: print.tag(),
                    extra: print.extra(),
                    free_at: quota.ticks(sent_ns).saturating_add(wait).max(1),
                };
            }
            _ if same => *entry = Entry::default(),
            _ => {}
        }
    }

    /// Forgets `key` (after a refund, which may let it in earlier).
    pub(crate) fn forget(&self, key: &[u8]) {
        if let Ok(print) = self.hasher.checked_fingerprint(key) {
            let mut entry = self.slot(print.home());
            if (entry.tag, entry.extra) == (print.tag(), print.extra()) {
                *entry = Entry::default();
            }
        }
    }
}
