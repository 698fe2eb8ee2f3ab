//! [`Limiter`]: one GCRA bucket whose whole state is one atomic word.

use crate::clock::{Clock, MonotonicClock};
use crate::decision::Decision;
use crate::gcra::{self, Evaluation};
use crate::quota::Quota;
use crate::quota_ring::QuotaRing;
use crate::state::StateWord;
use crate::sync::{AtomicU64, Backoff, Ordering};
use crossbeam_utils::CachePadded;
use std::time::Duration;

/// A lock-free GCRA rate limiter for one bucket.
///
/// Every method takes `&self` and may be called from any number of threads at
/// once: the bucket is one atomic word updated by compare-and-swap, and no
/// call on the check path locks or allocates.
///
/// ```
/// use floodgate::{Limiter, ManualClock, Outcome, Quota};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let limiter = Limiter::with_clock(Quota::per_second(30)?.with_burst(60)?, clock.clone());
/// for _ in 0..60 {
///     assert!(limiter.check(1).is_admitted());
/// }
/// let denied = limiter.check(1);
/// assert_eq!(denied.outcome(), Outcome::Denied);
/// assert_eq!(denied.retry_after(), Some(Duration::from_nanos(33_333_334)));
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(limiter.peek().remaining(), 30);
/// # Ok::<(), floodgate::Error>(())
/// ```
pub struct Limiter<C: Clock = MonotonicClock> {
    state: CachePadded<AtomicU64>,
    quotas: QuotaRing,
    clock: C,
}

impl Limiter<MonotonicClock> {
    /// A full bucket for `quota`, timed by a new [`MonotonicClock`].
    ///
    /// ```
    /// let limiter = floodgate::Limiter::new(floodgate::Quota::per_second(15)?);
    /// assert!(limiter.check(1).is_admitted());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn new(quota: Quota) -> Self {
        Self::with_clock(quota, MonotonicClock::new())
    }
}

impl<C: Clock> Limiter<C> {
    /// A full bucket for `quota`, timed by `clock`.
    pub fn with_clock(quota: Quota, clock: C) -> Self {
        Self {
            state: CachePadded::new(AtomicU64::new(StateWord::FRESH.into_bits())),
            quotas: QuotaRing::new(quota),
            clock,
        }
    }

    /// The clock this limiter reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Decides a request of `cost` units now. A cost of 0 peeks; a cost above
    /// the burst returns [`Outcome::CannotFit`](crate::Outcome::CannotFit).
    ///
    /// ```
    /// # use floodgate::{Limiter, ManualClock, Outcome, Quota};
    /// let limiter = Limiter::with_clock(Quota::per_second(10)?, ManualClock::new());
    /// assert_eq!(limiter.check(u64::MAX).outcome(), Outcome::CannotFit);
    /// assert_eq!(limiter.check(10).outcome(), Outcome::Admitted);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    #[inline]
    pub fn check(&self, cost: u64) -> Decision {
        self.check_at(cost, self.clock.now_ns())
    }

    /// [`check`](Self::check) at a caller-supplied time on this limiter's timeline.
    ///
    /// ```
    /// # use floodgate::{Limiter, Quota};
    /// let limiter = Limiter::new(Quota::per_second(1)?);
    /// assert!(limiter.check_at(1, 5_000_000_000).is_admitted());
    /// assert!(!limiter.check_at(1, 5_500_000_000).is_admitted());
    /// assert!(limiter.check_at(1, 6_000_000_000).is_admitted());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    #[inline]
    pub fn check_at(&self, cost: u64, now_ns: u64) -> Decision {
        self.update(|word, quota| gcra::evaluate(word, quota, now_ns, cost))
    }

    /// Delay instead of reject (Genera: "throttled or delayed"): if `cost`
    /// fits within `max_wait`, the capacity is reserved now and the decision
    /// is admitted with the [`delay`](Decision::delay) to wait before
    /// proceeding; past `max_wait` it is denied, with the wait after which
    /// the same reservation would be accepted. Cancel a reservation by
    /// [`refund`](Self::refund)ing its cost.
    ///
    /// ```
    /// # use floodgate::{Limiter, ManualClock, Quota};
    /// use std::time::Duration;
    /// let limiter = Limiter::with_clock(Quota::per_second(10)?, ManualClock::new());
    /// limiter.check(10);
    /// let reserved = limiter.reserve(1, Duration::from_secs(1));
    /// assert!(reserved.is_admitted());
    /// assert_eq!(reserved.delay(), Duration::from_millis(100));
    /// limiter.refund(1); // the caller gave up: cancel
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn reserve(&self, cost: u64, max_wait: Duration) -> Decision {
        self.reserve_at(cost, max_wait, self.clock.now_ns())
    }

    /// [`reserve`](Self::reserve) at a caller-supplied time.
    pub fn reserve_at(&self, cost: u64, max_wait: Duration, now_ns: u64) -> Decision {
        let max_wait_ns = u64::try_from(max_wait.as_nanos()).unwrap_or(u64::MAX);
        self.update(|word, quota| gcra::reserve(word, quota, now_ns, cost, max_wait_ns))
    }

    /// The bucket as it stands now, charging nothing (same as `check(0)`).
    ///
    /// ```
    /// # use floodgate::{Limiter, ManualClock, Quota};
    /// let limiter = Limiter::with_clock(Quota::per_second(5)?, ManualClock::new());
    /// limiter.check(2);
    /// assert_eq!(limiter.peek().remaining(), 3);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    #[inline]
    pub fn peek(&self) -> Decision {
        self.check(0)
    }

    /// [`peek`](Self::peek) at a caller-supplied time.
    #[inline]
    pub fn peek_at(&self, now_ns: u64) -> Decision {
        self.check_at(0, now_ns)
    }

    /// Gives back `amount` units (say, the downstream call failed) and returns
    /// the bucket afterwards. The bucket never ends up above its burst.
    ///
    /// ```
    /// # use floodgate::{Limiter, ManualClock, Quota};
    /// let limiter = Limiter::with_clock(Quota::per_second(5)?, ManualClock::new());
    /// limiter.check(3);
    /// assert_eq!(limiter.refund(1).remaining(), 3);
    /// assert_eq!(limiter.refund(100).remaining(), 5);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn refund(&self, amount: u64) -> Decision {
        self.refund_at(amount, self.clock.now_ns())
    }

    /// [`refund`](Self::refund) at a caller-supplied time.
    pub fn refund_at(&self, amount: u64, now_ns: u64) -> Decision {
        self.update(|word, quota| gcra::refund(word, quota, now_ns, amount))
    }

    /// The quota in force.
    ///
    /// ```
    /// # use floodgate::{Limiter, Quota};
    /// let quota = Quota::per_minute(600)?;
    /// assert_eq!(Limiter::new(quota).quota(), quota);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn quota(&self) -> Quota {
        // Acquire: the slot the word names must be visible (see `update`).
        let word = StateWord::from_bits(self.state.load(Ordering::Acquire));
        *self.quotas.get(word.generation())
    }

    /// Replaces the quota, from any thread, while checks go on. The next
    /// check uses the new quota. What was used is kept: the capacity in use,
    /// counted in requests, carries over, capped at the new burst.
    ///
    /// ```
    /// # use floodgate::{Limiter, ManualClock, Quota};
    /// let limiter = Limiter::with_clock(Quota::per_second(30)?.with_burst(60)?, ManualClock::new());
    /// limiter.check(40);
    /// limiter.reconfigure(Quota::per_second(50)?.with_burst(100)?);
    /// assert_eq!(limiter.peek().remaining(), 60); // 40 used of 100
    /// limiter.reconfigure(Quota::per_second(10)?.with_burst(20)?);
    /// assert_eq!(limiter.peek().remaining(), 0); // 40 used, capped at 20
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    ///
    /// Checks never wait for a reconfiguration; concurrent reconfigurations
    /// of the same limiter take turns.
    pub fn reconfigure(&self, quota: Quota) {
        self.reconfigure_at(quota, self.clock.now_ns())
    }

    /// [`reconfigure`](Self::reconfigure) at a caller-supplied time.
    pub fn reconfigure_at(&self, quota: Quota, now_ns: u64) {
        let mut writer = self.quotas.writer();
        // Relaxed: only writers change the generation, and the writer lock
        // orders us after the previous writer's install and conversion.
        let mut current = StateWord::from_bits(self.state.load(Ordering::Relaxed));
        let generation = current.next_generation();
        let to = writer.install(generation, quota);
        let from = self.quotas.get(current.generation());
        let backoff = Backoff::new();
        loop {
            let converted = gcra::convert(current, from, to, now_ns, generation);
            // Release: a check that reads the converted word must see the
            // quota just installed. Relaxed on failure: checks change only
            // the tat, never the generation, so `from` stays right.
            match self.state.compare_exchange_weak(
                current.into_bits(),
                converted.into_bits(),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => {
                    current = StateWord::from_bits(actual);
                    backoff.spin();
                }
            }
        }
    }

    /// What `check_at(cost, now_ns)` would decide, without charging.
    pub(crate) fn probe_at(&self, cost: u64, now_ns: u64) -> Decision {
        // Acquire: as in `update`.
        let word = StateWord::from_bits(self.state.load(Ordering::Acquire));
        gcra::evaluate(word, self.quotas.get(word.generation()), now_ns, cost).decision
    }

    /// The CAS loop every operation runs: read the word, decide in the units
    /// of the quota its generation names, store the result if it changed.
    #[inline(always)]
    fn update(&self, mut step: impl FnMut(StateWord, &Quota) -> Evaluation) -> Decision {
        // Acquire: a word converted by `reconfigure_at` names a slot whose
        // new pointer must be visible here; release sequences carry this
        // through the relaxed CASes of other checks. (Loom's model of Relaxed
        // loads is incomplete and passes Relaxed here; the slot load below
        // would then be free to return the slot's previous quota.)
        let mut current = StateWord::from_bits(self.state.load(Ordering::Acquire));
        let backoff = Backoff::new();
        loop {
            let evaluation = step(current, self.quotas.get(current.generation()));
            let Some(next) = evaluation.next else {
                return evaluation.decision;
            };
            // Relaxed on success: a check publishes nothing but the word.
            // Acquire on failure: the word read instead may be a conversion.
            match self.state.compare_exchange_weak(
                current.into_bits(),
                next.into_bits(),
                Ordering::Relaxed,
                Ordering::Acquire,
            ) {
                Ok(_) => return evaluation.decision,
                Err(actual) => {
                    current = StateWord::from_bits(actual);
                    backoff.spin();
                }
            }
        }
    }
}

impl<C: Clock> std::fmt::Debug for Limiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("quota", &self.quota())
            .finish_non_exhaustive()
    }
}
