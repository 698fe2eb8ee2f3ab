//! What a limiter does when Redis cannot answer: its failure policy, the
//! circuit breaker that stops it waiting on a server that is down, and the
//! counters that show how often either happened.

use crate::policy::StripedCounter;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The decision a Redis-backed limiter gives when Redis does not answer
/// within the deadline, answers with an error, or its breaker is open.
///
/// ```
/// use floodgate::store::OnFailure;
/// // A login endpoint would rather refuse than be brute-forced while Redis is away.
/// let policy = OnFailure::Closed;
/// assert_ne!(policy, OnFailure::Open);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnFailure {
    /// Admit the request (availability first); the decision reports a full
    /// bucket less the cost.
    Open,
    /// Deny the request (the limit first); the decision's retry-after is
    /// the breaker's cool-down.
    Closed,
    /// Decide in this process, by its share of the limit: with `N` hosts
    /// in the limiter's [`Fleet`](crate::store::Fleet) (as last counted),
    /// each key gets the rate divided by `N` exactly and the burst divided
    /// by `N` rounded down (at least 1), in an in-process
    /// [`KeyedLimiter`](crate::KeyedLimiter) per limit, so the fleet
    /// together stays near the limit while Redis is away. A cost that fits
    /// the whole burst but not the share is denied for a cool-down, as by
    /// `Closed`. Each limit's table holds 65 536 active keys (about
    /// 1.5 MiB, allocated when the limiter is built); a new key that finds
    /// no slot is denied.
    ///
    /// A [`RedisWindow`](crate::store::RedisWindow) keeps the limit
    /// divided by `N` rounded down (at least 1) over the same window, in an
    /// in-process [`KeyedWindows`](crate::KeyedWindows) (65 536 keys, about
    /// 3 MiB, kept once seen: a new key that finds no slot is denied). A
    /// [`RedisInFlight`](crate::store::RedisInFlight) keeps the cap divided
    /// by `N` rounded down (at least 1) in an in-process
    /// [`KeyedInFlight`](crate::KeyedInFlight) (65 536 keys, kept once
    /// seen; a key's cap, 8 bytes per unit of the whole cap, is allocated
    /// by its first local permit); its permits go back there,
    /// not to Redis, which does not count them: when Redis answers again,
    /// the fleet may run about the cap more than the cap, until the
    /// requests admitted locally end. Each share follows `N` at its next
    /// decision, keeping what its keys hold.
    Local,
}

/// A Redis-backed limiter's counts so far, for monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreCounters {
    /// Decisions Redis made.
    pub exact: u64,
    /// Denials the deny cache answered without a round trip.
    pub cached: u64,
    /// Requests admitted by [`OnFailure::Open`] without Redis deciding.
    pub failed_open: u64,
    /// Requests denied by [`OnFailure::Closed`] without Redis deciding.
    pub failed_closed: u64,
    /// Requests [`OnFailure::Local`] admitted by this process's share.
    pub local_admitted: u64,
    /// Requests [`OnFailure::Local`] refused by this process's share.
    pub local_denied: u64,
    /// Calls that reached their deadline.
    pub timeouts: u64,
    /// Calls that failed with an error (connection refused or dropped, a
    /// server error).
    pub errors: u64,
    /// Degraded decisions given without trying Redis, the breaker being open.
    pub skipped: u64,
    /// Times the breaker opened.
    pub breaker_opened: u64,
}

/// The live counters behind [`StoreCounters`].
pub(crate) struct Counters {
    pub(crate) exact: StripedCounter,
    pub(crate) cached: StripedCounter,
    pub(crate) failed_open: StripedCounter,
    pub(crate) failed_closed: StripedCounter,
    pub(crate) local_admitted: StripedCounter,
    pub(crate) local_denied: StripedCounter,
    pub(crate) timeouts: StripedCounter,
    pub(crate) errors: StripedCounter,
    pub(crate) skipped: StripedCounter,
    pub(crate) breaker_opened: StripedCounter,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Self {
            exact: StripedCounter::new(),
            cached: StripedCounter::new(),
            failed_open: StripedCounter::new(),
            failed_closed: StripedCounter::new(),
            local_admitted: StripedCounter::new(),
            local_denied: StripedCounter::new(),
            timeouts: StripedCounter::new(),
            errors: StripedCounter::new(),
            skipped: StripedCounter::new(),
            breaker_opened: StripedCounter::new(),
        }
    }

    pub(crate) fn snapshot(&self) -> StoreCounters {
        StoreCounters {
            exact: self.exact.total(),
            cached: self.cached.total(),
            failed_open: self.failed_open.total(),
            failed_closed: self.failed_closed.total(),
            local_admitted: self.local_admitted.total(),
            local_denied: self.local_denied.total(),
            timeouts: self.timeouts.total(),
            errors: self.errors.total(),
            skipped: self.skipped.total(),
            breaker_opened: self.breaker_opened.total(),
        }
    }
}

/// The breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Calls go to Redis; this many have failed in a row.
    Closed(u32),
    /// Calls are answered by the failure policy until this instant.
    Open(Instant),
    /// One call is probing Redis; the others are answered by the policy.
    Probing,
}

/// Whether a call may go to Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Yes, as usual.
    Call,
    /// Yes, as the one probe of a half-open breaker.
    Probe,
    /// No: answer by the failure policy.
    Skip,
}

/// A circuit breaker: opens after `threshold` failures in a row, lets one
/// probe through after `cool_down`, closes when a call succeeds. A mutex
/// keeps its three fields consistent; it is taken only on calls that go to
/// Redis anyway, so it costs nothing next to the round trip.
pub(crate) struct Breaker {
    threshold: u32,
    cool_down: Duration,
    state: Mutex<State>,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_down,
            state: Mutex::new(State::Closed(0)),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every write leaves a whole State: a poisoned lock holds a valid one.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call made now may go to Redis.
    pub(crate) fn pass(&self) -> Pass {
        let mut state = self.state();
        match *state {
            State::Closed(_) => Pass::Call,
            State::Open(until) if Instant::now() >= until => {
                *state = State::Probing;
                Pass::Probe
            }
            State::Open(_) | State::Probing => Pass::Skip,
        }
    }

    /// Records how a call that was let through ended; true when this
    /// failure opened the breaker.
    pub(crate) fn record(&self, pass: Pass, succeeded: bool) -> bool {
        let mut state = self.state();
        let reopen = State::Open(Instant::now() + self.cool_down);
        match (*state, succeeded) {
            (_, true) => {
                *state = State::Closed(0);
                false
            }
            (State::Closed(failures), false) if failures + 1 >= self.threshold => {
                *state = reopen;
                true
            }
            (State::Closed(failures), false) => {
                *state = State::Closed(failures + 1);
                false
            }
            (State::Probing, false) if pass == Pass::Probe => {
                *state = reopen;
                true
            }
            _ => false,
        }
    }

    /// A probe that was dropped before it ended (its caller's future was
    /// cancelled): the next call probes instead.
    pub(crate) fn abandon(&self, pass: Pass) {
        let mut state = self.state();
        if pass == Pass::Probe && *state == State::Probing {
            *state = State::Open(Instant::now());
        }
    }
}

/// A limiter's breakers, one per failure domain (see `topology.rs`): a
/// standalone server is one domain, each cluster master another, so a dead
/// master opens its own slots' breaker and the others stay closed. Made on
/// first use; a lookup is a lock held for a vector index.
pub(crate) struct Breakers {
    threshold: u32,
    cool_down: Duration,
    by_domain: Mutex<Vec<Arc<Breaker>>>,
}

impl Breakers {
    pub(crate) fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold,
            cool_down,
            by_domain: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn cool_down(&self) -> Duration {
        self.cool_down
    }

    /// The breaker of `domain`.
    pub(crate) fn get(&self, domain: usize) -> Arc<Breaker> {
        // A push leaves a whole vector: a poisoned lock holds a valid one.
        let mut breakers = self
            .by_domain
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while breakers.len() <= domain {
            breakers.push(Arc::new(Breaker::new(self.threshold, self.cool_down)));
        }
        Arc::clone(&breakers[domain])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_closes_after_a_good_probe() {
        let breaker = Breaker::new(2, Duration::ZERO);
        assert!(!breaker.record(breaker.pass(), false));
        assert!(breaker.record(breaker.pass(), false));
        let probe = breaker.pass();
        assert_eq!(probe, Pass::Probe);
        assert_eq!(breaker.pass(), Pass::Skip); // one probe at a time
        assert!(breaker.record(probe, false)); // failed probe: open again
        let probe = breaker.pass();
        breaker.record(probe, true);
        assert_eq!(breaker.pass(), Pass::Call);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let breaker = Breaker::new(1, Duration::ZERO);
        breaker.record(breaker.pass(), false);
        let probe = breaker.pass();
        breaker.abandon(probe);
        assert_eq!(breaker.pass(), Pass::Probe);
    }

    #[test]
    fn an_open_breaker_skips_until_its_cool_down_ends() {
        let breaker = Breaker::new(1, Duration::from_secs(3_600));
        breaker.record(breaker.pass(), false);
        assert_eq!(breaker.pass(), Pass::Skip);
    }

    #[test]
    fn a_domain_failing_leaves_the_others_closed() {
        let breakers = Breakers::new(1, Duration::from_secs(3_600));
        let dead = breakers.get(2);
        dead.record(dead.pass(), false);
        assert_eq!(breakers.get(2).pass(), Pass::Skip);
        assert_eq!(breakers.get(1).pass(), Pass::Call);
        assert_eq!(breakers.get(0).pass(), Pass::Call);
    }
}
