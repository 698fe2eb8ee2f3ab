//! One layer's keys: a lock-free table from each key to its lease bucket
//! and what this host last learned of the key's fleet-wide bucket.
//!
//! The table is the insert-only map of `map/boxed.rs`: a known key is found
//! by hashing and probing, with no lock and no allocation; a new key's
//! state (with its Redis key) is allocated once. Keys keep their slot for
//! the limiter's life; a key whose probe run is full is checked in Redis
//! directly, as [`RedisLimiter`](crate::store::RedisLimiter) would.

use crate::core::decision::{Decision, Outcome};
use crate::core::error::Result;
use crate::keyed::Key;
use crate::map::boxed::BoxedCells;
use crate::store::fleet::Fleet;
use crate::store::lease::bucket::{LeaseBucket, MAX_LEASE};
use crate::store::lease::queue::{Asker, RefillQueue, Wanted};
use crate::store::lease::size::Sizing;
use crate::store::units::ScriptQuota;
use crate::sync::{AtomicU64, Ordering};

/// A byte key as the table stores it: its keyed 128-bit fingerprint.
pub(crate) type Fingerprint = <[u8] as Key>::Stored;

/// Nanoseconds per millisecond, the resolution of a bucket's deadlines.
pub(crate) const NANOS_PER_MILLI: u64 = 1_000_000;

/// One key's local state. Every field but the bucket is advisory (sizing,
/// metadata, give-back bounds), each written whole by the one refill in
/// flight and read Relaxed: a stale value misjudges a size or a header, never
/// a token.
pub(crate) struct KeyState {
    pub(crate) bucket: LeaseBucket,
    /// The key's Redis key: the layer's prefix and the key.
    pub(crate) redis_key: Box<[u8]>,
    /// Tokens below which a take claims the next refill.
    low_water: AtomicU64,
    /// Local ns of the last grant, and the valid tokens right after it: the
    /// local rate is measured from them.
    funded_at: AtomicU64,
    funded: AtomicU64,
    /// The size of the last grant: at most that many tokens are given back
    /// (see [`LeaseTable::returnable`]).
    granted: AtomicU64,
    /// Local ns at which the fleet's debt seen by the last call drains:
    /// before it, every token of the last grant is still charged in Redis.
    full_at: AtomicU64,
    /// Tokens reserved by the last lease call and the bucket millisecond
    /// they fit from, packed (see [`LeaseTable::reserve`]); 0: none.
    reserved: AtomicU64,
    /// 1 when the last lease call got less than it asked for: the key is
    /// at its fleet-wide limit, and the next call asks for a worthwhile
    /// lease or none.
    short: AtomicU64,
    /// The bucket word the last idle sweep saw.
    pub(crate) swept: AtomicU64,
    /// Its refill asked for in the background, if any (`queue.rs`).
    pub(crate) wanted: Wanted<KeyState>,
    /// The key's fingerprint, to find the state again from a task.
    pub(crate) print: Fingerprint,
}

impl KeyState {
    fn new(redis_key: Box<[u8]>, print: Fingerprint) -> Self {
        Self {
            bucket: LeaseBucket::new(),
            redis_key,
            low_water: AtomicU64::new(0),
            funded_at: AtomicU64::new(0),
            funded: AtomicU64::new(0),
            granted: AtomicU64::new(0),
            full_at: AtomicU64::new(0),
            reserved: AtomicU64::new(0),
            short: AtomicU64::new(0),
            swept: AtomicU64::new(0),
            wanted: Wanted::new(),
            print,
        }
    }

    /// The low-water mark of the last lease asked for.
    #[inline]
    pub(crate) fn low_water(&self) -> u64 {
        // Relaxed: advisory (see the type's docs).
        self.low_water.load(Ordering::Relaxed)
    }
}

impl Asker for KeyState {
    fn wanted(&self) -> &Wanted<Self> {
        &self.wanted
    }
}

/// How many hosts share a layer's keys, which bounds one host's lease.
pub(crate) enum Hosts {
    /// As many as the builder said.
    Fixed(u64),
    /// As many as a heartbeat fleet counts now.
    Live(Fleet),
}

impl Hosts {
    /// The count now: a read of the fleet's cached atomic, no I/O.
    #[inline]
    fn count(&self) -> u64 {
        match self {
            Hosts::Fixed(hosts) => *hosts,
            Hosts::Live(fleet) => u64::from(fleet.size()),
        }
    }
}

/// One layer: its quota in script units, its key prefix, its keys.
pub(crate) struct LeaseTable {
    pub(crate) quota: ScriptQuota,
    prefix: Vec<u8>,
    cells: BoxedCells<[u8], KeyState>,
    lease_time_ns: u64,
    low_water_percent: u64,
    hosts: Hosts,
    /// Refills asked for in the background.
    pub(crate) queue: RefillQueue<KeyState>,
}

impl LeaseTable {
    pub(crate) fn new(
        quota: ScriptQuota,
        prefix: Vec<u8>,
        capacity: usize,
        lease_time_ns: u64,
        low_water_percent: u64,
        hosts: Hosts,
    ) -> Result<Self> {
        Ok(Self {
            quota,
            prefix,
            cells: BoxedCells::new(capacity)?,
            lease_time_ns,
            low_water_percent,
            hosts,
            queue: RefillQueue::new(),
        })
    }

    /// How long a lease is meant to last.
    pub(crate) fn lease_time_ns(&self) -> u64 {
        self.lease_time_ns
    }

    /// The layer's lease sizing for the fleet's size now.
    #[inline]
    pub(crate) fn sizing(&self) -> Sizing {
        Sizing::new(
            self.quota.quota().burst(),
            self.hosts.count(),
            self.lease_time_ns,
            self.low_water_percent,
        )
    }

    /// `key`'s state, made on first sight (`None`: no slot left in its
    /// probe run). `Err` for a bad key.
    #[inline]
    pub(crate) fn state(&self, key: &[u8]) -> Result<Option<&KeyState>> {
        self.cells.with_key(key, |print| {
            self.cells.get(print).or_else(|| {
                self.cells
                    .get_or_insert_with(print, || KeyState::new(self.redis_key(key).into(), print))
            })
        })
    }

    /// Queues `state`'s refill for the pump (see `queue.rs`): `state` is
    /// this table's.
    #[inline]
    pub(crate) fn ask(&self, state: &KeyState, now_ns: u64, cost: u64) {
        // SAFETY: `state` is a cell of this table (the engine only asks for
        // the states its tables gave it), freed only when the table, and
        // the queue in it, drop.
        unsafe { self.queue.ask(state, now_ns, cost) };
    }

    /// `key`'s Redis key: the layer's prefix, then the key.
    pub(crate) fn redis_key(&self, key: &[u8]) -> Vec<u8> {
        [self.prefix.as_slice(), key].concat()
    }

    /// The state of a key seen before, by its fingerprint.
    pub(crate) fn get(&self, print: Fingerprint) -> Option<&KeyState> {
        self.cells.get(print)
    }

    /// Every key's state.
    pub(crate) fn states(&self) -> impl Iterator<Item = &KeyState> {
        self.cells.values()
    }

    /// The size of the next lease for `state`, asked at `now_ns` with
    /// `valid` tokens left and a cost of `cost` to serve, and the least it
    /// takes (see [`least`](Self::least)); records its low-water mark.
    pub(crate) fn next_size(
        &self,
        state: &KeyState,
        now_ns: u64,
        valid: u64,
        cost: u64,
    ) -> (u64, u64) {
        // Relaxed: advisory (see `KeyState`).
        let funded_at = state.funded_at.load(Ordering::Relaxed);
        let spent = state.funded.load(Ordering::Relaxed).saturating_sub(valid);
        let (size, low_water) = if funded_at == 0 {
            // A key never leased has no rate to go by: its first lease is
            // its cost, and is not refilled in the background, so a key
            // seen once costs one call, as an exact check does.
            (cost, 0)
        } else {
            let sizing = self.sizing();
            let size = sizing
                .next(spent, now_ns.saturating_sub(funded_at))
                .max(cost);
            (size, sizing.low_water(size))
        };
        // Relaxed: advisory.
        state.low_water.store(low_water, Ordering::Relaxed);
        (size, self.least(state, size, cost))
    }

    /// The least a lease of `size` for a check of `cost` takes. A key whose
    /// last lease call fell short is at its fleet-wide limit, where every
    /// host asking as soon as a token fits would get a token a call: it
    /// takes a worthwhile lease (its size, but no more than the fleet's
    /// share of what drains in a lease time) or, waiting for one, none.
    /// Otherwise it takes its cost. A quota with a lockout takes whatever
    /// fits, at least one (a lease denied is charged its lockout).
    fn least(&self, state: &KeyState, size: u64, cost: u64) -> u64 {
        if self.quota.lockout > 0 {
            return 1;
        }
        // Relaxed: advisory.
        if state.short.load(Ordering::Relaxed) == 0 {
            return cost;
        }
        let interval = self.quota.quota().emission_interval().as_nanos().max(1);
        let drained =
            u128::from(self.lease_time_ns) / interval / u128::from(self.hosts.count().max(1));
        let share = u64::try_from(drained).unwrap_or(u64::MAX);
        size.min(share).max(cost)
    }

    /// How far ahead, in microseconds, a lease call may reserve tokens that
    /// do not fit yet: one lease time, so that the hosts of a fleet at its
    /// limit queue their worthwhile leases rather than race for them; none
    /// under a lockout, whose denials are charged.
    pub(crate) fn within_us(&self) -> u64 {
        if self.quota.lockout > 0 {
            return 0;
        }
        self.lease_time_ns / 1_000
    }

    /// Records whether a lease call got what it asked for.
    pub(crate) fn fell_short(&self, state: &KeyState, short: bool) {
        // Relaxed: advisory.
        state.short.store(u64::from(short), Ordering::Relaxed);
    }

    /// Records `tokens` reserved by a lease call, spendable from bucket
    /// millisecond `from_ms`, and bounds their give-back as a grant's.
    pub(crate) fn reserve(&self, state: &KeyState, tokens: u64, from_ms: u64) {
        let tokens = tokens.min(MAX_LEASE);
        // Relaxed: one word, so tokens and instant are read together; a
        // claimer that misses it makes a lease call of its own (a charge
        // of its own), and the reservation waits for the next one or the
        // sweep: it is taken once (a swap), never before `from_ms`.
        state.granted.store(tokens, Ordering::Relaxed);
        state.reserved.store(
            from_ms << MAX_LEASE.count_ones() | tokens,
            Ordering::Relaxed,
        );
    }

    /// The reservation on `state`, taken out: its tokens and the bucket
    /// millisecond they fit from.
    pub(crate) fn take_reserved(&self, state: &KeyState) -> Option<(u64, u64)> {
        // Relaxed: see `reserve`.
        let word = state.reserved.swap(0, Ordering::Relaxed);
        (word != 0).then(|| (word & MAX_LEASE, word >> MAX_LEASE.count_ones()))
    }

    /// Records what a lease call sent at `sent_ns` learned: the fleet's
    /// debt after it (in the decision). For a grant, `funded_at` and
    /// `funded` time the next size and `granted` bounds its give-back.
    pub(crate) fn learn(&self, state: &KeyState, fleet: &Decision, sent_ns: u64) -> u64 {
        let debt_ns = fleet.used_ticks() / self.quota.quota().ticks_per_ns();
        // The server decided no earlier than the request was sent, so the
        // debt it reported lasts at least until this instant.
        let full_at = sent_ns.saturating_add(debt_ns);
        // Relaxed: advisory.
        state.full_at.store(full_at, Ordering::Relaxed);
        full_at
    }

    /// Local ns at which the fleet's debt the last call saw drains.
    pub(crate) fn full_at(&self, state: &KeyState) -> u64 {
        // Relaxed: advisory.
        state.full_at.load(Ordering::Relaxed)
    }

    /// Records a grant funded at `now_ns`, leaving `valid` tokens.
    pub(crate) fn funded(&self, state: &KeyState, granted: u64, valid: u64, now_ns: u64) {
        // Relaxed: advisory.
        state.granted.store(granted, Ordering::Relaxed);
        state.funded.store(valid, Ordering::Relaxed);
        state.funded_at.store(now_ns.max(1), Ordering::Relaxed);
    }

    /// How many of `drained` tokens, taken out of `state`'s bucket at
    /// `now_ns`, may be refunded to Redis: a refund lowers the fleet's debt
    /// by its whole size, which undoes a grant exactly only while that
    /// grant's debt has not drained. So at most the last grant's size, and
    /// only before the debt it left drains; the rest are dropped, their
    /// charge draining on its own.
    pub(crate) fn returnable(&self, state: &KeyState, drained: u64, now_ns: u64) -> u64 {
        // Relaxed: advisory.
        if now_ns >= state.full_at.load(Ordering::Relaxed) {
            return 0;
        }
        drained.min(state.granted.load(Ordering::Relaxed))
    }

    /// The fleet's debt in ticks at `now_ns`, as the last call saw it,
    /// drained at the quota's rate since.
    fn fleet_debt(&self, state: &KeyState, now_ns: u64) -> u64 {
        self.full_at(state)
            .saturating_sub(now_ns)
            .saturating_mul(self.quota.quota().ticks_per_ns())
    }

    /// A local admission's decision: the fleet's bucket as last seen, with
    /// the `left` tokens this host still holds counted as free.
    #[inline]
    pub(crate) fn admitted(&self, state: &KeyState, left: u64, now_ns: u64) -> Decision {
        let q = self.quota.quota();
        let held = left.saturating_mul(q.token_ticks());
        let debt = self
            .fleet_debt(state, now_ns)
            .saturating_sub(held)
            .min(q.capacity_ticks());
        Decision::from_ticks(
            Outcome::Admitted,
            q.burst(),
            debt,
            0,
            q.token_ticks(),
            q.ticks_per_ns(),
        )
    }

    /// A local denial's decision: denied until `until_ns` on the local clock.
    pub(crate) fn denied(&self, state: &KeyState, until_ns: u64, now_ns: u64) -> Decision {
        let q = self.quota.quota();
        let wait = until_ns.saturating_sub(now_ns).max(1);
        Decision::from_ticks(
            Outcome::Denied,
            q.burst(),
            self.fleet_debt(state, now_ns),
            wait.saturating_mul(q.ticks_per_ns()),
            q.token_ticks(),
            q.ticks_per_ns(),
        )
    }
}
