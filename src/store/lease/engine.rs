//! The lease engine that [`LeasedLimiter`](super::LeasedLimiter) and
//! [`LeasedLayers`](super::LeasedLayers) share with their background tasks
//! on the store's runtime: a check against the local buckets, the refill
//! one check claims (queued for the pump, `queue.rs`), give-backs, and the
//! sweep that finds idle keys.

use crate::core::clock::Clock;
use crate::core::decision::Decision;
use crate::core::error::Result;
use crate::store::guard::Guard;
use crate::store::layers::deciding;
use crate::store::lease::bucket::Take;
use crate::store::lease::counters::Counters;
use crate::store::lease::table::{KeyState, LeaseTable, NANOS_PER_MILLI};
use crate::store::script::{self, Lua, Op};
use crate::sync::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Rounds of take-and-refill a check tries before an exact call decides it
/// (each round but a wait is a lease call; a grant smaller than the cost,
/// or other hosts draining the key between rounds, can need more).
const ROUNDS: usize = 4;

/// The pump's turn is at most this long (and a sixteenth of a lease time,
/// so the low-water quarter of a lease outlasts several turns).
const PUMP_PERIOD: Duration = Duration::from_millis(5);

/// A key's state in one layer's table (`None`: the table had no slot).
type Held<'a> = Option<&'a KeyState>;

/// The layer that decided a check, and its decision.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Answer {
    pub(crate) decision: Decision,
    pub(crate) layer: usize,
}

/// What the first, local round of a check found.
enum Local {
    /// The buckets answered.
    Answered(Answer),
    /// The buckets could not, at this instant, in this layer.
    Blocked(u64, usize, Blocked),
    /// The check is for Redis to decide exactly.
    Exact,
}

/// Why the local buckets did not admit.
enum Blocked {
    /// The fleet denied the key until this local instant.
    Denied(u64),
    /// This check claimed the refill: it asks Redis and waits.
    Refill,
    /// A refill is claimed already: send it if it is still queued, else
    /// wait for it.
    InFlight,
}

/// The tables of a leased limiter's layers, the guard its calls go
/// through, and the clock its buckets are timed by.
pub(crate) struct Leases<C: Clock> {
    pub(crate) guard: Guard,
    pub(crate) tables: Vec<LeaseTable>,
    clock: C,
    /// The clock's reading when the limiter was built: buckets count their
    /// milliseconds from it.
    epoch_ns: u64,
    pub(crate) counters: Counters,
    /// The GCRA script, for lease calls with their least and reservation
    /// arguments (the store sends the same script for every other call).
    gcra: Lua,
}

impl<C: Clock + 'static> Leases<C> {
    /// The engine for `tables`, with its pump and its idle sweep started
    /// on the store's runtime, for as long as the engine lives.
    pub(crate) fn start(guard: Guard, tables: Vec<LeaseTable>, clock: C) -> Arc<Self> {
        let epoch_ns = clock.now_ns();
        let leases = Arc::new(Self {
            guard,
            tables,
            clock,
            epoch_ns,
            counters: Counters::new(),
            gcra: Lua::new(script::SOURCE),
        });
        let lease_time = Duration::from_nanos(leases.tables[0].lease_time_ns());
        let turn = (lease_time / 16).clamp(Duration::from_millis(1), PUMP_PERIOD);
        let store = &leases.guard.store;
        store.spawn(every(Arc::downgrade(&leases), turn, Self::pump));
        store.spawn(every(Arc::downgrade(&leases), lease_time, Self::sweep));
        leases
    }

    /// Milliseconds on the buckets' scale at `ns` on the clock.
    fn ms(&self, ns: u64) -> u64 {
        ns.saturating_sub(self.epoch_ns) / NANOS_PER_MILLI
    }

    /// The clock's reading at the start of bucket millisecond `ms`.
    fn ns(&self, ms: u64) -> u64 {
        self.epoch_ns
            .saturating_add(ms.saturating_mul(NANOS_PER_MILLI))
    }

    /// Checks `cost` for `keys[i]` in layer `i`: admitted when every
    /// layer's bucket gives `cost` tokens, none spent otherwise. Blocking:
    /// waits for a lease only when a bucket is empty. `Err` for a bad key,
    /// and then nothing was sent. `N` is at least the layers' count: a
    /// single bucket's check keeps one layer's worth on its stack.
    #[inline]
    pub(crate) fn check<const N: usize>(
        self: &Arc<Self>,
        keys: &[&[u8]],
        cost: u64,
    ) -> Result<Answer> {
        let mut held: [Held<'_>; N] = [None; N];
        match self.local::<N>(&mut held, keys, cost)? {
            Local::Answered(answer) => Ok(answer),
            Local::Blocked(now_ns, layer, blocked) => {
                let held = &held[..keys.len()];
                let settle = self.settle::<N>(keys, held, cost, now_ns, layer, blocked);
                self.guard.store.block_on(settle)
            }
            Local::Exact => self.guard.store.block_on(self.exact(keys, cost)),
        }
    }

    /// [`check`](Self::check) for async callers, on a tokio runtime: the
    /// same local decision, and the same calls awaited, not blocked on.
    pub(crate) async fn check_async<const N: usize>(
        self: &Arc<Self>,
        keys: &[&[u8]],
        cost: u64,
    ) -> Result<Answer> {
        let mut held: [Held<'_>; N] = [None; N];
        match self.local::<N>(&mut held, keys, cost)? {
            Local::Answered(answer) => Ok(answer),
            Local::Blocked(now_ns, layer, blocked) => {
                let held = &held[..keys.len()];
                self.settle::<N>(keys, held, cost, now_ns, layer, blocked)
                    .await
            }
            Local::Exact => self.exact(keys, cost).await,
        }
    }

    /// The first round of a check, local: `held` gets every layer's state
    /// for `keys`, and the buckets answer or say why they cannot.
    #[inline]
    fn local<'a, const N: usize>(
        self: &'a Arc<Self>,
        held: &mut [Held<'a>; N],
        keys: &[&[u8]],
        cost: u64,
    ) -> Result<Local> {
        let mut homeless = false;
        for ((slot, table), key) in held.iter_mut().zip(&self.tables).zip(keys) {
            *slot = table.state(key)?;
            homeless |= slot.is_none();
        }
        // Every lease holds at least one: a cost of 1 skips the sizing.
        let too_big = cost > 1 && self.tables.iter().any(|t| cost > t.sizing().most());
        if homeless || cost == 0 || too_big {
            return Ok(Local::Exact);
        }
        let now_ns = self.clock.now_ns();
        Ok(
            match self.take_all::<N>(&held[..keys.len()], cost, now_ns) {
                Ok(answer) => Local::Answered(answer),
                Err((layer, blocked)) => Local::Blocked(now_ns, layer, blocked),
            },
        )
    }

    /// The rest of a check the buckets could not answer at `now_ns`
    /// (`layer` being `blocked`): rounds of a lease call or a wait, then a
    /// take, until one answers.
    async fn settle<const N: usize>(
        self: &Arc<Self>,
        keys: &[&[u8]],
        held: &[Held<'_>],
        cost: u64,
        mut now_ns: u64,
        mut layer: usize,
        mut blocked: Blocked,
    ) -> Result<Answer> {
        for _ in 0..ROUNDS {
            let Some(state) = held[layer] else {
                break;
            };
            match blocked {
                Blocked::Denied(until_ns) => {
                    self.counters.local.add(1);
                    let decision = self.tables[layer].denied(state, until_ns, now_ns);
                    return Ok(Answer { decision, layer });
                }
                Blocked::Refill => {
                    if let Some(answer) = self.refill_now(keys, layer, state, now_ns, cost).await {
                        return answer;
                    }
                }
                Blocked::InFlight => {
                    // Still queued: sent now rather than at the pump's turn.
                    if let Some((_, asked)) = state.wanted.take() {
                        let most = cost.max(asked);
                        if let Some(answer) =
                            self.refill_now(keys, layer, state, now_ns, most).await
                        {
                            return answer;
                        }
                    } else if !self.await_refill(state, now_ns).await {
                        return self.degraded(keys, layer, cost);
                    }
                }
            }
            now_ns = self.clock.now_ns();
            (layer, blocked) = match self.take_all::<N>(held, cost, now_ns) {
                Ok(answer) => return Ok(answer),
                Err(blocked) => blocked,
            };
        }
        self.exact(keys, cost).await
    }

    /// Takes `cost` from every layer's bucket, or from none: a layer that
    /// cannot give puts back what the layers before it gave.
    #[inline]
    fn take_all<const N: usize>(
        self: &Arc<Self>,
        held: &[Held<'_>],
        cost: u64,
        now_ns: u64,
    ) -> std::result::Result<Answer, (usize, Blocked)> {
        let now_ms = self.ms(now_ns);
        let mut decisions = [(0, Decision::unlimited()); N];
        for (layer, entry) in held.iter().enumerate() {
            let Some(state) = *entry else {
                continue;
            };
            let blocked = match state.bucket.take(cost, now_ms, state.low_water()) {
                Take::Spent { left, refill } => {
                    if refill {
                        self.tables[layer].ask(state, now_ns, cost);
                    }
                    decisions[layer] = (layer, self.tables[layer].admitted(state, left, now_ns));
                    continue;
                }
                Take::Denied { until_ms } => Blocked::Denied(self.ns(until_ms)),
                Take::Empty { refill: true } => Blocked::Refill,
                Take::Empty { refill: false } => Blocked::InFlight,
            };
            for (before, entry) in held[..layer].iter().enumerate() {
                if let Some(taken) = *entry {
                    let unkept = taken.bucket.put_back(cost, now_ms);
                    self.give_back_in_background(before, taken, unkept, now_ns);
                }
            }
            return Err((layer, blocked));
        }
        self.counters.local.add(1);
        let (layer, decision) = deciding(&decisions[..held.len()]);
        Ok(Answer { decision, layer })
    }

    /// Sends `state`'s refill (this check's to send) and waits for it: the
    /// check's answer when the fleet denied it or gave no answer, `None`
    /// when the bucket was funded.
    async fn refill_now(
        &self,
        keys: &[&[u8]],
        layer: usize,
        state: &KeyState,
        now_ns: u64,
        cost: u64,
    ) -> Option<Result<Answer>> {
        self.counters.waited.add(1);
        match self.refill(layer, state, now_ns, cost).await {
            None => Some(self.degraded(keys, layer, cost)),
            Some(decision) if !decision.is_admitted() => Some(Ok(Answer { decision, layer })),
            Some(_) => None,
        }
    }

    /// Waits, at most the deadline from `since_ns`, for the refill in
    /// flight on `state`; false when the deadline passed first.
    async fn await_refill(&self, state: &KeyState, since_ns: u64) -> bool {
        let deadline = u64::try_from(self.guard.deadline.as_nanos()).unwrap_or(u64::MAX);
        while state.bucket.snapshot().refilling() {
            if self.clock.now_ns().saturating_sub(since_ns) > deadline {
                return false;
            }
            // A round trip's wait: other tasks of an async caller's runtime
            // run meanwhile; a blocking caller polls again at once.
            tokio::task::yield_now().await;
        }
        true
    }

    /// The failure policy's answer for `keys`, `Open`'s and `Closed`'s in
    /// `layer`'s name.
    fn degraded(&self, keys: &[&[u8]], layer: usize, cost: u64) -> Result<Answer> {
        let quota = &self.tables[layer].quota;
        let (decision, layer) = self
            .guard
            .degraded(layer, quota, keys, Op::Check(cost), None)?;
        Ok(Answer { decision, layer })
    }

    /// One exact call for every layer, as [`RedisLayers`](crate::store::RedisLayers)
    /// makes it.
    async fn exact(&self, keys: &[&[u8]], cost: u64) -> Result<Answer> {
        self.counters.exact.add(1);
        let redis_keys: Vec<_> = self
            .tables
            .iter()
            .zip(keys)
            .map(|(table, key)| table.redis_key(key))
            .collect();
        let call: Vec<_> = redis_keys
            .iter()
            .zip(&self.tables)
            .map(|(key, table)| (key.as_slice(), &table.quota))
            .collect();
        match self.guard.run(&call, Op::Check(cost), None).await {
            Some(decisions) if decisions.len() == keys.len() => {
                let decisions: Vec<_> = decisions.into_iter().enumerate().collect();
                let (layer, decision) = deciding(&decisions);
                Ok(Answer { decision, layer })
            }
            _ => self.degraded(keys, 0, cost),
        }
    }

    /// The refill for `state` (whose refill this caller claimed), asked at
    /// `sent_ns`: from the key's reservation if it has one, else by a
    /// lease call. Funds the bucket with the grant, or records the fleet's
    /// denial or the reservation's wait, and ends the refill. The decision
    /// (denied while the bucket is), `None` when Redis gave none.
    async fn refill(
        &self,
        layer: usize,
        state: &KeyState,
        sent_ns: u64,
        cost: u64,
    ) -> Option<Decision> {
        let table = &self.tables[layer];
        if let Some((tokens, from_ms)) = table.take_reserved(state) {
            return Some(self.fund_reserved(layer, state, tokens, from_ms).await);
        }
        let valid = state.bucket.snapshot().valid_tokens(self.ms(sent_ns));
        let (size, least) = table.next_size(state, sent_ns, valid, cost);
        self.counters.leases.add(1);
        let keys = [(&*state.redis_key, &table.quota)];
        let mut call = script::call(&keys, Op::Lease(size), None);
        call.arg(least).arg(table.within_us());
        let reply: Option<Vec<u64>> = self.guard.invoke(&self.gcra, &call).await;
        let decided = reply.map(|reply| script::decisions(&reply, &keys));
        let (Some(&fleet), Some(grant)) = (
            decided.as_ref().and_then(|d| d.first()),
            decided.as_ref().and_then(|d| d.get(1)),
        ) else {
            state.bucket.abandon();
            return None;
        };
        let full_at = table.learn(state, &fleet, sent_ns);
        let now_ns = self.clock.now_ns();
        let now_ms = self.ms(now_ns);
        let granted = grant.remaining();
        self.counters.granted.add(granted);
        // Reserved tokens fell short too: they did not fit yet.
        table.fell_short(state, granted < size || !fleet.is_admitted());
        if !fleet.is_admitted() {
            // Reserved tokens fit `retry_after` after the server decided,
            // which it did before the reply came: counted from now they are
            // never spent early (counted from the sending, they could be,
            // by the call's latency, and over-admit). A denial's wait is
            // counted from the sending: ending early costs only an early
            // call, and asking a little late loses nothing, as the next
            // lease takes every token that fits by then. Both rounded up.
            let (from_ns, reserved) = if granted > 0 {
                (now_ns, true)
            } else {
                (sent_ns, false)
            };
            let until_ms = self.ms(from_ns.saturating_add(fleet.retry_after_ns())) + 1;
            if reserved {
                table.reserve(state, granted, until_ms);
            }
            state.bucket.deny(until_ms, now_ms);
            return Some(fleet);
        }
        // Spendable until the debt charged for them drains, and for two
        // lease times at least (see the module docs of `store::lease`).
        let valid_until = full_at.max(sent_ns.saturating_add(table.lease_time_ns() * 2));
        self.fund(layer, state, granted, valid_until, now_ns).await;
        Some(fleet)
    }

    /// Funds `state`'s bucket with `tokens` reserved from bucket
    /// millisecond `from_ms`: at once if that has come, else the bucket is
    /// denied until then and the reservation kept. The decision for the
    /// check that asked.
    async fn fund_reserved(
        &self,
        layer: usize,
        state: &KeyState,
        tokens: u64,
        from_ms: u64,
    ) -> Decision {
        let table = &self.tables[layer];
        let now_ns = self.clock.now_ns();
        let now_ms = self.ms(now_ns);
        if now_ms < from_ms {
            table.reserve(state, tokens, from_ms);
            state.bucket.deny(from_ms, now_ms);
            return table.denied(state, self.ns(from_ms), now_ns);
        }
        // As a grant's, counted from when they fit (see `refill`).
        let lease_time = table.lease_time_ns();
        let valid_until = table
            .full_at(state)
            .max(self.ns(from_ms).saturating_add(lease_time * 2));
        let valid = self.fund(layer, state, tokens, valid_until, now_ns).await;
        table.admitted(state, valid, now_ns)
    }

    /// Puts `granted` tokens, valid until `valid_until` ns, in `state`'s
    /// bucket at `now_ns`, ending the refill; the tokens that do not fit
    /// the word, or a whole grant landing on a closed bucket, go back.
    /// The valid tokens after it.
    async fn fund(
        &self,
        layer: usize,
        state: &KeyState,
        granted: u64,
        valid_until: u64,
        now_ns: u64,
    ) -> u64 {
        let now_ms = self.ms(now_ns);
        let unkept = state.bucket.fund(granted, self.ms(valid_until), now_ms);
        let valid = state.bucket.snapshot().valid_tokens(now_ms);
        self.tables[layer].funded(state, granted, valid, now_ns);
        self.give_back(layer, state, unkept, now_ns).await;
        valid
    }

    /// Refunds what may be refunded of `drained` tokens taken out of
    /// `state` unspent (see [`LeaseTable::returnable`]).
    async fn give_back(&self, layer: usize, state: &KeyState, drained: u64, now_ns: u64) {
        let amount = self.tables[layer].returnable(state, drained, now_ns);
        self.refund(layer, &state.redis_key, amount).await;
    }

    /// Refunds `amount` tokens to `redis_key` in `layer`.
    async fn refund(&self, layer: usize, redis_key: &[u8], amount: u64) {
        if amount == 0 {
            return;
        }
        self.counters.give_backs.add(1);
        let call = [(redis_key, &self.tables[layer].quota)];
        if self
            .guard
            .run(&call, Op::Refund(amount), None)
            .await
            .is_some()
        {
            self.counters.returned.add(amount);
        }
    }

    /// [`give_back`](Self::give_back) on the store's runtime, not waiting.
    fn give_back_in_background(
        self: &Arc<Self>,
        layer: usize,
        state: &KeyState,
        drained: u64,
        now_ns: u64,
    ) {
        if self.tables[layer].returnable(state, drained, now_ns) == 0 {
            return;
        }
        let leases = Arc::clone(self);
        let print = state.print;
        self.guard.store.spawn(async move {
            if let Some(state) = leases.tables[layer].get(print) {
                leases.give_back(layer, state, drained, now_ns).await;
            }
        });
    }

    /// Sends the refills asked for since the pump's last turn, each in a
    /// task of its own (spawned from the runtime's own thread: no wake-up).
    async fn pump(self: Arc<Self>) {
        for (layer, table) in self.tables.iter().enumerate() {
            table.queue.drain(|state, at, cost| {
                let leases = Arc::clone(&self);
                let print = state.print;
                self.guard.store.spawn(async move {
                    if let Some(state) = leases.tables[layer].get(print) {
                        leases.refill(layer, state, at, cost).await;
                    }
                });
            });
        }
    }

    /// Gives back the tokens of keys whose bucket did not change since the
    /// last sweep: an idle key strands nothing for longer than two sweeps.
    async fn sweep(self: Arc<Self>) {
        let now_ns = self.clock.now_ns();
        let now_ms = self.ms(now_ns);
        for (layer, table) in self.tables.iter().enumerate() {
            for state in table.states() {
                let seen = state.bucket.snapshot();
                // Relaxed: only the sweep reads and writes it.
                let before = state.swept.swap(seen.bits(), Ordering::Relaxed);
                if seen.bits() != before || seen.refilling() {
                    continue;
                }
                // A reservation the key did not come back for goes back
                // whether due or not: it was never spent.
                let reserved = table.take_reserved(state).map_or(0, |(tokens, _)| tokens);
                let drained = if seen.tokens() > 0 {
                    state.bucket.reclaim(seen, now_ms)
                } else {
                    0
                };
                self.give_back(layer, state, drained + reserved, now_ns)
                    .await;
            }
        }
    }

    /// Closes the engine: every token held is given back (waiting for the
    /// calls unless inside an async runtime), and grants landing later are
    /// given back as they land.
    pub(crate) fn close(self: &Arc<Self>) {
        let now_ns = self.clock.now_ns();
        let now_ms = self.ms(now_ns);
        let mut returns = Vec::new();
        for (layer, table) in self.tables.iter().enumerate() {
            for state in table.states() {
                let reserved = table.take_reserved(state).map_or(0, |(tokens, _)| tokens);
                let drained = state.bucket.close(now_ms) + reserved;
                let amount = table.returnable(state, drained, now_ns);
                if amount > 0 {
                    returns.push((layer, state.redis_key.clone(), amount));
                }
            }
        }
        if returns.is_empty() {
            return;
        }
        let leases = Arc::clone(self);
        let give_back = async move {
            for (layer, key, amount) in returns {
                leases.refund(layer, &key, amount).await;
            }
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            self.guard.store.spawn(give_back);
        } else {
            self.guard.store.block_on(give_back);
        }
    }
}

/// `turn` every `period` while the engine lives.
async fn every<C, F, T>(leases: Weak<Leases<C>>, period: Duration, turn: T)
where
    C: Clock + 'static,
    F: std::future::Future<Output = ()>,
    T: Fn(Arc<Leases<C>>) -> F,
{
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate
    loop {
        ticks.tick().await;
        // Once the limiter is dropped its buckets are closed and empty:
        // turns go on only while a task still holds the engine.
        let Some(leases) = leases.upgrade() else {
            return;
        };
        turn(leases).await;
    }
}
