//! One call to Redis under a limiter's failure policy: the breaker's say,
//! the deadline, the counters, and the decision given when Redis gives none.

use crate::core::decision::{Decision, Outcome};
use crate::core::error::Result;
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::store::breaker::{Breaker, Breakers, Counters, OnFailure, Pass, StoreCounters};
use crate::store::connection::{Failure, RedisStore};
use crate::store::fleet::{Fleet, DEFAULT_FLEET};
use crate::store::local::{Buckets, Local, Shares};
use crate::store::script::{At, Op};
use crate::store::script::{Call, Lua};
use crate::store::topology::UNKNOWN;
use crate::store::units::ScriptQuota;
use redis::FromRedisValue;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The deadline of a call when the builder sets none: a few round trips on
/// a local network, short enough that a request never waits long on a
/// Redis that is away.
const DEFAULT_DEADLINE: Duration = Duration::from_millis(5);
/// Failures in a row that open the breaker by default.
const DEFAULT_THRESHOLD: u32 = 5;
/// How long an open breaker waits before probing, by default: with the
/// probe's deadline, well inside the second a recovery must take.
const DEFAULT_COOL_DOWN: Duration = Duration::from_millis(250);

/// A builder's failure settings: the deadline, the policy, the breaker,
/// and the fleet `Local` divides by, alike for every kind kept in Redis.
#[derive(Clone)]
pub(crate) struct Failures {
    pub(crate) deadline: Duration,
    pub(crate) on_failure: OnFailure,
    pub(crate) threshold: u32,
    pub(crate) cool_down: Duration,
    /// `None`: the store's default fleet.
    pub(crate) fleet: Option<Fleet>,
}

impl Default for Failures {
    fn default() -> Self {
        Self {
            deadline: DEFAULT_DEADLINE,
            on_failure: OnFailure::Open,
            threshold: DEFAULT_THRESHOLD,
            cool_down: DEFAULT_COOL_DOWN,
            fleet: None,
        }
    }
}

impl Failures {
    /// The guard of calls to `store` for a limiter whose limits are
    /// `layers`: with [`OnFailure::Local`], their shares in the fleet, or
    /// the error building their tables.
    pub(crate) fn guard(self, store: RedisStore, layers: &[(Scope, Quota)]) -> Result<Guard> {
        self.guard_with(store, || Buckets::new(layers))
    }

    /// The guard of calls to `store` for a limiter whose shares `shares`
    /// makes (whole), called only with [`OnFailure::Local`]; its error is
    /// the build's.
    pub(crate) fn guard_with<S: Shares>(
        self,
        store: RedisStore,
        shares: impl FnOnce() -> Result<S>,
    ) -> Result<Guard<S>> {
        let fallback = match self.on_failure {
            OnFailure::Open => Fallback::Open,
            OnFailure::Closed => Fallback::Closed,
            OnFailure::Local => {
                let fleet = self.fleet.unwrap_or_else(|| store.fleet(DEFAULT_FLEET));
                Fallback::Local(Box::new(Local::new(fleet, shares()?)))
            }
        };
        Ok(Guard {
            store,
            deadline: self.deadline,
            fallback,
            breakers: Breakers::new(self.threshold, self.cool_down),
            counters: Counters::new(),
        })
    }
}

/// The builder methods that set a [`Failures`] kept in a builder's
/// `failures` field: one text for every Redis kind's builder.
macro_rules! failure_setters {
    () => {
        /// How long a call may wait for Redis, connecting included.
        pub fn deadline(mut self, deadline: std::time::Duration) -> Self {
            self.failures.deadline = deadline;
            self
        }

        /// The decision when Redis gives none.
        pub fn on_failure(mut self, on_failure: crate::store::OnFailure) -> Self {
            self.failures.on_failure = on_failure;
            self
        }

        /// The breaker: open after `failures` in a row (at least 1), probe
        /// once `cool_down` has passed.
        pub fn breaker(mut self, failures: u32, cool_down: std::time::Duration) -> Self {
            self.failures.threshold = failures;
            self.failures.cool_down = cool_down;
            self
        }
    };
}
pub(crate) use failure_setters;

/// A limiter's way of calling Redis; `S`, the kind of its local shares.
pub(crate) struct Guard<S = Buckets> {
    pub(crate) store: RedisStore,
    pub(crate) deadline: Duration,
    fallback: Fallback<S>,
    breakers: Breakers,
    counters: Counters,
}

/// What answers when Redis does not: the [`OnFailure`] chosen, with
/// `Local`'s shares.
enum Fallback<S> {
    Open,
    Closed,
    /// Boxed: the shares' tables and counters are kilobytes.
    Local(Box<Local<S>>),
}

/// A call let through the breaker, until [`Guard::end`] is told how it
/// went: dropped before that (a future dropped, a connection freed with the
/// call unanswered), a probe hands its turn on.
pub(crate) struct Attempt {
    breaker: Arc<Breaker>,
    pass: Pass,
    ended: bool,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.ended {
            self.breaker.abandon(self.pass);
        }
    }
}

impl<S: Shares> Guard<S> {
    pub(crate) fn counters(&self) -> StoreCounters {
        self.counters.snapshot()
    }

    /// Counts a denial the deny cache gave.
    pub(crate) fn count_cached(&self) {
        self.counters.cached.add(1);
    }

    /// The script's decisions for `keys` (all in one cluster slot), or
    /// `None` when Redis gave none (their master's breaker open, the
    /// deadline passed, an error): the caller then answers with
    /// [`degraded`](Self::degraded).
    pub(crate) async fn run(
        &self,
        keys: &[(&[u8], &ScriptQuota)],
        op: Op,
        at: At,
    ) -> Option<Vec<Decision>> {
        let first = keys.first().map(|(key, _)| *key);
        self.attempt(first, self.store.run(keys, op, at, self.deadline))
            .await
    }

    /// The reply to `call` of `lua`, or `None` when Redis gave none.
    pub(crate) async fn invoke<T: FromRedisValue>(&self, lua: &Lua, call: &Call) -> Option<T> {
        self.attempt(
            call.first_key(),
            self.store.invoke(lua, call, self.deadline),
        )
        .await
    }

    /// The reply of `call` (a call to [`store`](Self::store) within the
    /// deadline, not started yet, routed by the key `first`), or `None`
    /// when Redis gave none: the say of that key's master's breaker, the
    /// counters, and the breaker told how it went.
    pub(crate) async fn attempt<T>(
        &self,
        first: Option<&[u8]>,
        call: impl Future<Output = std::result::Result<T, Failure>>,
    ) -> Option<T> {
        let attempt = self.begin(first)?;
        let result = call.await;
        self.end(attempt, result)
    }

    /// The breaker's leave for a call routed by the key `first`, or `None`
    /// (counted as skipped) when that key's master's breaker is open.
    pub(crate) fn begin(&self, first: Option<&[u8]>) -> Option<Attempt> {
        let domain = first.map_or(UNKNOWN, |key| self.store.domain(key));
        let breaker = self.breakers.get(domain);
        let pass = breaker.pass();
        if pass == Pass::Skip {
            self.counters.skipped.add(1);
            return None;
        }
        Some(Attempt {
            breaker,
            pass,
            ended: false,
        })
    }

    /// The reply of a call [`begin`](Self::begin) let through, or `None`
    /// when Redis gave none: counted, and the breaker told how it went.
    pub(crate) fn end<T>(
        &self,
        mut attempt: Attempt,
        result: std::result::Result<T, Failure>,
    ) -> Option<T> {
        attempt.ended = true;
        let (breaker, pass) = (&attempt.breaker, attempt.pass);
        match result {
            Ok(reply) => {
                breaker.record(pass, true);
                self.counters.exact.add(1);
                Some(reply)
            }
            Err(failure) => {
                match failure {
                    Failure::Timeout => self.counters.timeouts.add(1),
                    Failure::Redis => self.counters.errors.add(1),
                }
                if breaker.record(pass, false) {
                    self.counters.breaker_opened.add(1);
                }
                None
            }
        }
    }

    /// `Open`'s or `Closed`'s decision for `cost` against a `capacity` (a
    /// burst, a window's limit), counted. A cost beyond the capacity can
    /// never fit whatever Redis holds.
    pub(crate) fn degraded_within(&self, capacity: u64, cost: u64) -> Decision {
        if cost > capacity {
            return Decision::new(Outcome::CannotFit, capacity, capacity, 0, 0);
        }
        if self.fallback_admits() {
            Decision::new(Outcome::Admitted, capacity, capacity - cost, 0, 0)
        } else {
            self.closed(capacity)
        }
    }

    /// Whether the failure policy admits a call Redis did not decide,
    /// counted: `Open` does, `Closed` does not. A kind asks
    /// [`local`](Self::local) first: `Local` would deny.
    pub(crate) fn fallback_admits(&self) -> bool {
        let admits = matches!(self.fallback, Fallback::Open);
        if admits {
            self.counters.failed_open.add(1);
        } else {
            self.counters.failed_closed.add(1);
        }
        admits
    }

    /// `Local`'s shares, when that is the policy.
    pub(crate) fn local(&self) -> Option<&Local<S>> {
        match &self.fallback {
            Fallback::Local(local) => Some(local),
            Fallback::Open | Fallback::Closed => None,
        }
    }

    /// `Local`'s decision on `cost` against a `capacity` (a window's
    /// limit): `decide`'s by `local`'s shares sized for the fleet now at
    /// `now_ns` (or now by their clock), counted; a cost beyond the
    /// capacity can never fit, one the capacity fits but a share does not
    /// waits a cool-down (Redis may be back), and shares the engine cannot
    /// hold deny as `Closed`.
    pub(crate) fn decide_locally(
        &self,
        local: &Local<S>,
        capacity: u64,
        cost: u64,
        now_ns: Option<u64>,
        decide: impl FnOnce(&S, u64) -> Result<Decision>,
    ) -> Result<Decision> {
        if cost > capacity {
            return Ok(Decision::new(Outcome::CannotFit, capacity, capacity, 0, 0));
        }
        let decision = match local.shares(now_ns) {
            Some((shares, now_ns)) => match decide(shares, now_ns)? {
                decision if decision.outcome() == Outcome::CannotFit => self.closed(capacity),
                decision => decision,
            },
            None => self.closed(capacity),
        };
        self.count_local(decision.is_admitted());
        Ok(decision)
    }

    /// Counts a decision `Local` gave.
    pub(crate) fn count_local(&self, admitted: bool) {
        if admitted {
            self.counters.local_admitted.add(1);
        } else {
            self.counters.local_denied.add(1);
        }
    }

    /// `Closed`'s denial: retry after the breaker's cool-down.
    pub(crate) fn closed(&self, capacity: u64) -> Decision {
        let wait = u64::try_from(self.breakers.cool_down().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        Decision::new(Outcome::Denied, capacity, 0, wait, wait)
    }
}

impl Guard {
    /// The failure policy's decision on `op` for `keys` (one per layer, in
    /// the order the guard was built with, checked already), Redis having
    /// given none, and the layer it speaks for. `Open` and `Closed` answer
    /// for `layer` under its `quota`; `Local` by this process's shares of
    /// every layer at `now_ns` (now by the local clock when `None`). A cost
    /// beyond `quota`'s burst can never fit whatever Redis holds.
    pub(crate) fn degraded(
        &self,
        layer: usize,
        quota: &ScriptQuota,
        keys: &[&[u8]],
        op: Op,
        now_ns: Option<u64>,
    ) -> Result<(Decision, usize)> {
        let cost = match op {
            Op::Check(cost) | Op::Lease(cost) => cost,
            Op::Refund(_) => 0,
        };
        let burst = quota.quota().burst();
        if cost > burst {
            return Ok((Decision::new(Outcome::CannotFit, burst, burst, 0, 0), layer));
        }
        match &self.fallback {
            Fallback::Local(local) => self.decide_buckets_locally(local, keys, op, now_ns),
            Fallback::Open | Fallback::Closed => Ok((self.degraded_within(burst, cost), layer)),
        }
    }

    /// `Local`'s decision: the shares', except that a cost the whole
    /// burst fits but a share does not waits a cool-down (Redis may be
    /// back), and shares the engine cannot hold deny as `Closed`.
    fn decide_buckets_locally(
        &self,
        local: &Local<Buckets>,
        keys: &[&[u8]],
        op: Op,
        now_ns: Option<u64>,
    ) -> Result<(Decision, usize)> {
        let answer = match local.shares(now_ns) {
            None => None,
            Some((buckets, now_ns)) => Some(match op {
                Op::Check(cost) | Op::Lease(cost) => {
                    let verdict = buckets.check(keys, cost, now_ns)?;
                    let (decision, layer) = (verdict.decision(), verdict.layer());
                    let burst = buckets.quota(layer).burst();
                    match decision.outcome() {
                        Outcome::CannotFit if cost <= burst => (self.closed(burst), layer),
                        _ => (decision, layer),
                    }
                }
                Op::Refund(amount) => (buckets.refund(keys[0], amount, now_ns)?, 0),
            }),
        };
        let (decision, layer) =
            answer.unwrap_or_else(|| (self.closed(local.held().quota(0).burst()), 0));
        self.count_local(decision.is_admitted());
        Ok((decision, layer))
    }
}
