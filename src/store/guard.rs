//! One call to Redis under a limiter's failure policy: the breaker's say,
//! the deadline, the counters, and the decision given when Redis gives none.

use crate::core::decision::{Decision, Outcome};
use crate::core::error::Result;
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::store::breaker::{Breaker, Counters, OnFailure, Pass, StoreCounters};
use crate::store::connection::{Failure, RedisStore};
use crate::store::fleet::{Fleet, DEFAULT_FLEET};
use crate::store::local::Local;
use crate::store::script::{At, Op};
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
    fallback: Fallback,
    breaker: Breaker,
    counters: Counters,
}

/// What answers when Redis does not: the [`OnFailure`] chosen, with
/// `Local`'s shares.
enum Fallback {
    Open,
    Closed,
    /// Boxed: the shares' policy and counters are kilobytes.
    Local(Box<Local>),
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
    /// The guard of a limiter whose limits are `layers`; with
    /// [`OnFailure::Local`], their shares in `fleet` (the store's default
    /// fleet when `None`), or the error building their tables.
    pub(crate) fn new(
        store: RedisStore,
        deadline: Duration,
        on_failure: OnFailure,
        threshold: u32,
        cool_down: Duration,
        fleet: Option<Fleet>,
        layers: &[(Scope, Quota)],
    ) -> Result<Self> {
        let fallback = match on_failure {
            OnFailure::Open => Fallback::Open,
            OnFailure::Closed => Fallback::Closed,
            OnFailure::Local => {
                let fleet = fleet.unwrap_or_else(|| store.fleet(DEFAULT_FLEET));
                Fallback::Local(Box::new(Local::new(fleet, layers)?))
            }
        };
        Ok(Self {
            store,
            deadline,
            fallback,
            breaker: Breaker::new(threshold, cool_down),
            counters: Counters::new(),
        })
    }

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
        let result = self.store.run(keys, op, at, self.deadline).await;
        attempt.ended = true;
        match result {
            Ok(decisions) => {
                self.breaker.record(pass, true);
                self.counters.exact.add(1);
                Some(decisions)
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

    /// The failure policy's decision on `op` for `keys` (one per layer, in
    /// the order `new` got them, checked already), Redis having given none,
    /// and the layer it speaks for. `Open` and `Closed` answer under the
    /// first layer's quota `first`; `Local` by this process's shares at
    /// `now_ns` (now by the local clock when `None`). A cost beyond the
    /// first layer's burst can never fit whatever Redis holds.
    pub(crate) fn degraded(
        &self,
        first: &ScriptQuota,
        keys: &[&[u8]],
        op: Op,
        now_ns: Option<u64>,
    ) -> Result<(Decision, usize)> {
        let cost = match op {
            Op::Check(cost) => cost,
            Op::Refund(_) => 0,
        };
        let burst = first.quota().burst();
        if cost > burst {
            return Ok((Decision::new(Outcome::CannotFit, burst, burst, 0, 0), 0));
        }
        match &self.fallback {
            Fallback::Open => {
                self.counters.failed_open.add(1);
                Ok((
                    Decision::new(Outcome::Admitted, burst, burst - cost, 0, 0),
                    0,
                ))
            }
            Fallback::Closed => {
                self.counters.failed_closed.add(1);
                Ok((self.closed(burst), 0))
            }
            Fallback::Local(local) => self.local(local, keys, op, now_ns),
        }
    }

    /// `Local`'s decision: the shares', except that a cost the whole
    /// burst fits but a share does not waits a cool-down (Redis may be
    /// back), and shares the engine cannot hold deny as `Closed`.
    fn local(
        &self,
        local: &Local,
        keys: &[&[u8]],
        op: Op,
        now_ns: Option<u64>,
    ) -> Result<(Decision, usize)> {
        let answer = match op {
            Op::Check(cost) => local.check(keys, cost, now_ns)?.map(|verdict| {
                let (decision, layer) = (verdict.decision(), verdict.layer());
                let burst = local.quota(layer).burst();
                match decision.outcome() {
                    Outcome::CannotFit if cost <= burst => (self.closed(burst), layer),
                    _ => (decision, layer),
                }
            }),
            Op::Refund(amount) => local
                .refund(keys[0], amount, now_ns)?
                .map(|decision| (decision, 0)),
        };
        let (decision, layer) = answer.unwrap_or_else(|| (self.closed(local.quota(0).burst()), 0));
        if decision.is_admitted() {
            self.counters.local_admitted.add(1);
        } else {
            self.counters.local_denied.add(1);
        }
        Ok((decision, layer))
    }

    /// `Closed`'s denial: retry after the breaker's cool-down.
    fn closed(&self, burst: u64) -> Decision {
        let wait = u64::try_from(self.breaker.cool_down().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        Decision::new(Outcome::Denied, burst, 0, wait, wait)
    }
}
