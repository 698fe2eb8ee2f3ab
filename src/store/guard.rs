//! One call to Redis under a limiter's failure policy: the breaker's say,
//! the deadline, the counters, and the decision given when Redis gives none.

use crate::core::decision::{Decision, Outcome};
use crate::store::breaker::{Breaker, Counters, OnFailure, Pass, StoreCounters};
use crate::store::connection::{Failure, RedisStore};
use crate::store::script::{At, Op};
use crate::store::units::ScriptQuota;
use redis::{FromRedisValue, ScriptInvocation};
use std::future::Future;
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

/// A builder's failure settings: the deadline, the policy and the
/// breaker, alike for every kind kept in Redis.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Failures {
    pub(crate) deadline: Duration,
    pub(crate) on_failure: OnFailure,
    pub(crate) threshold: u32,
    pub(crate) cool_down: Duration,
}

impl Default for Failures {
    fn default() -> Self {
        Self {
            deadline: DEFAULT_DEADLINE,
            on_failure: OnFailure::Open,
            threshold: DEFAULT_THRESHOLD,
            cool_down: DEFAULT_COOL_DOWN,
        }
    }
}

impl Failures {
    /// The guard of calls to `store` under these settings.
    pub(crate) fn guard(self, store: RedisStore) -> Guard {
        Guard {
            store,
            deadline: self.deadline,
            on_failure: self.on_failure,
            breaker: Breaker::new(self.threshold, self.cool_down),
            counters: Counters::new(),
        }
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

/// A limiter's way of calling Redis.
pub(crate) struct Guard {
    pub(crate) store: RedisStore,
    deadline: Duration,
    on_failure: OnFailure,
    breaker: Breaker,
    counters: Counters,
}

/// A call let through the breaker: if its future is dropped before it
/// ends, a probe hands its turn on.
struct Attempt<'a> {
    breaker: &'a Breaker,
    pass: Pass,
    ended: bool,
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.breaker.abandon(self.pass);
        }
    }
}

impl Guard {
    pub(crate) fn counters(&self) -> StoreCounters {
        self.counters.snapshot()
    }

    /// Counts a denial the deny cache gave.
    pub(crate) fn count_cached(&self) {
        self.counters.cached.add(1);
    }

    /// The script's decisions for `keys`, or `None` when Redis gave none
    /// (the breaker open, the deadline passed, an error): the caller then
    /// answers with [`degraded`](Self::degraded).
    pub(crate) async fn run(
        &self,
        keys: &[(&[u8], &ScriptQuota)],
        op: Op,
        at: At,
    ) -> Option<Vec<Decision>> {
        self.attempt(self.store.run(keys, op, at, self.deadline))
            .await
    }

    /// The reply to `call`, a script's invocation, or `None` when Redis
    /// gave none.
    pub(crate) async fn invoke<T: FromRedisValue>(&self, call: &ScriptInvocation<'_>) -> Option<T> {
        self.attempt(self.store.invoke(call, self.deadline)).await
    }

    /// The reply of `call` (a call to [`store`](Self::store) within the
    /// deadline, not started yet), or `None` when Redis gave none: the
    /// breaker's say, the counters, and the breaker told how it went.
    pub(crate) async fn attempt<T>(
        &self,
        call: impl Future<Output = Result<T, Failure>>,
    ) -> Option<T> {
        let pass = self.breaker.pass();
        if pass == Pass::Skip {
            self.counters.skipped.add(1);
            return None;
        }
        let mut attempt = Attempt {
            breaker: &self.breaker,
            pass,
            ended: false,
        };
        let result = call.await;
        attempt.ended = true;
        match result {
            Ok(reply) => {
                self.breaker.record(pass, true);
                self.counters.exact.add(1);
                Some(reply)
            }
            Err(failure) => {
                match failure {
                    Failure::Timeout => self.counters.timeouts.add(1),
                    Failure::Redis => self.counters.errors.add(1),
                }
                if self.breaker.record(pass, false) {
                    self.counters.breaker_opened.add(1);
                }
                None
            }
        }
    }

    /// The failure policy, counted as the answer to one call Redis did
    /// not decide.
    pub(crate) fn fallback(&self) -> OnFailure {
        match self.on_failure {
            OnFailure::Open => self.counters.failed_open.add(1),
            OnFailure::Closed => self.counters.failed_closed.add(1),
        }
        self.on_failure
    }

    /// The failure policy's decision for `cost` under `quota`, counted. A
    /// cost beyond the burst can never fit whatever Redis holds.
    pub(crate) fn degraded(&self, quota: &ScriptQuota, cost: u64) -> Decision {
        self.degraded_within(quota.quota().burst(), cost)
    }

    /// The failure policy's decision for `cost` against a `capacity` (a
    /// burst, a window's limit), counted. A cost beyond the capacity can
    /// never fit whatever Redis holds.
    pub(crate) fn degraded_within(&self, capacity: u64, cost: u64) -> Decision {
        if cost > capacity {
            return Decision::new(Outcome::CannotFit, capacity, capacity, 0, 0);
        }
        match self.fallback() {
            OnFailure::Open => Decision::new(Outcome::Admitted, capacity, capacity - cost, 0, 0),
            OnFailure::Closed => {
                let wait = u64::try_from(self.breaker.cool_down().as_nanos())
                    .unwrap_or(u64::MAX)
                    .max(1);
                Decision::new(Outcome::Denied, capacity, 0, wait, wait)
            }
        }
    }
}
