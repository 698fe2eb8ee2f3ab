//! One call to Redis under a limiter's failure policy: the breaker's say,
//! the deadline, the counters, and the decision given when Redis gives none.

use crate::core::decision::{Decision, Outcome};
use crate::store::breaker::{Breaker, Breakers, Counters, OnFailure, Pass, StoreCounters};
use crate::store::connection::{Failure, RedisStore};
use crate::store::script::{At, Op};
use crate::store::topology::UNKNOWN;
use crate::store::units::ScriptQuota;
use std::time::Duration;

/// The deadline of a call when the builder sets none: a few round trips on
/// a local network, short enough that a request never waits long on a
/// Redis that is away.
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_millis(5);
/// Failures in a row that open the breaker by default.
pub(crate) const DEFAULT_THRESHOLD: u32 = 5;
/// How long an open breaker waits before probing, by default: with the
/// probe's deadline, well inside the second a recovery must take.
pub(crate) const DEFAULT_COOL_DOWN: Duration = Duration::from_millis(250);

/// A limiter's way of calling Redis.
pub(crate) struct Guard {
    pub(crate) store: RedisStore,
    pub(crate) deadline: Duration,
    pub(crate) on_failure: OnFailure,
    breakers: Breakers,
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
    pub(crate) fn new(
        store: RedisStore,
        deadline: Duration,
        on_failure: OnFailure,
        threshold: u32,
        cool_down: Duration,
    ) -> Self {
        Self {
            store,
            deadline,
            on_failure,
            breakers: Breakers::new(threshold, cool_down),
            counters: Counters::new(),
        }
    }

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
        let domain = keys
            .first()
            .map_or(UNKNOWN, |(key, _)| self.store.domain(key));
        let breaker = self.breakers.get(domain);
        let breaker = breaker.as_ref();
        let pass = breaker.pass();
        if pass == Pass::Skip {
            self.counters.skipped.add(1);
            return None;
        }
        let mut attempt = Attempt {
            breaker,
            pass,
            ended: false,
        };
        let result = self.store.run(keys, op, at, self.deadline).await;
        attempt.ended = true;
        match result {
            Ok(decisions) => {
                breaker.record(pass, true);
                self.counters.exact.add(1);
                Some(decisions)
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

    /// The failure policy's decision for `cost` under `quota`, counted. A
    /// cost beyond the burst can never fit whatever Redis holds.
    pub(crate) fn degraded(&self, quota: &ScriptQuota, cost: u64) -> Decision {
        let burst = quota.quota().burst();
        if cost > burst {
            return Decision::new(Outcome::CannotFit, burst, burst, 0, 0);
        }
        match self.on_failure {
            OnFailure::Open => {
                self.counters.failed_open.add(1);
                Decision::new(Outcome::Admitted, burst, burst - cost, 0, 0)
            }
            OnFailure::Closed => {
                self.counters.failed_closed.add(1);
                let wait = u64::try_from(self.breakers.cool_down().as_nanos())
                    .unwrap_or(u64::MAX)
                    .max(1);
                Decision::new(Outcome::Denied, burst, 0, wait, wait)
            }
        }
    }
}
