//! [`Limiter`]: one GCRA bucket whose whole state is one atomic word.

use crate::core::alloc::{Place, Placed, Shareable};
use crate::core::clock::{saturating_nanos, Clock, ManualClock, MonotonicClock};
use crate::core::decision::{Decision, Outcome};
use crate::core::error::Result;
use crate::core::gcra::{self, Evaluation};
use crate::core::quota::Quota;
use crate::core::quota_ring::QuotaRing;
use crate::core::state::StateWord;
use crate::shm::header::{Description, Kind, Limits};
use crate::shm::{segment, SharedMemory};
use crate::sync::{AtomicU64, Backoff, Ordering};
use crossbeam_utils::CachePadded;
use std::time::Duration;

/// A lock-free GCRA rate limiter for one bucket.
///
/// Every method takes `&self` and may be called from any number of threads at
/// once: the bucket is one atomic word updated by compare-and-swap, and no
/// call on the check path locks or allocates.
///
/// Built only by [`Limiter::builder`]: no kind in this crate has `new` or
/// another constructor.
///
/// ```
/// use floodgate::{Limiter, ManualClock, Outcome, Quota};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let limiter = Limiter::builder(Quota::per_second(30)?.with_burst(60)?)
///     .clock(clock.clone())
///     .build();
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
    bucket: Placed<Bucket>,
    clock: C,
}

/// Everything a limiter keeps: on the heap, or in a shared segment.
struct Bucket {
    hot: CachePadded<Hot>,
    quotas: QuotaRing,
}

// SAFETY: atomic words and a quota ring (`Shareable`): no pointer, no Drop.
unsafe impl Shareable for Bucket {}

/// What every check reads, on one cache line.
struct Hot {
    state: AtomicU64,
    /// The first timestamp at which the bucket is no longer suspended:
    /// [`NOT_SUSPENDED`] (0, in the past of every timestamp) or
    /// [`SUSPENDED_INDEFINITELY`].
    suspended_until: AtomicU64,
}

const NOT_SUSPENDED: u64 = 0;
const SUSPENDED_INDEFINITELY: u64 = u64::MAX;

/// Configures a [`Limiter`]; start with [`Limiter::builder`].
///
/// ```
/// use floodgate::{Limiter, ManualClock, Quota};
///
/// let limiter = Limiter::builder(Quota::per_second(5)?).clock(ManualClock::new()).build();
/// assert_eq!(limiter.peek().remaining(), 5);
/// # Ok::<(), floodgate::Error>(())
/// ```
#[must_use]
pub struct LimiterBuilder<C: Clock = MonotonicClock> {
    quota: Quota,
    clock: C,
}

impl Limiter<MonotonicClock> {
    /// A builder for a full bucket of `quota`, timed by a new
    /// [`MonotonicClock`] unless given another [`clock`](LimiterBuilder::clock).
    ///
    /// This builder is the only way to make a limiter, as for every kind in
    /// this crate. It is defined for the default clock so that
    /// `Limiter::builder(quota)` needs no type annotation; `.clock(c)` then
    /// changes the clock type.
    ///
    /// ```
    /// let limiter = floodgate::Limiter::builder(floodgate::Quota::per_second(15)?).build();
    /// assert!(limiter.check(1).is_admitted());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn builder(quota: Quota) -> LimiterBuilder {
        LimiterBuilder {
            quota,
            clock: MonotonicClock::new(),
        }
    }
}

impl<C: Clock> LimiterBuilder<C> {
    /// The clock checks without an explicit time read.
    pub fn clock<D: Clock>(self, clock: D) -> LimiterBuilder<D> {
        LimiterBuilder {
            quota: self.quota,
            clock,
        }
    }

    /// The limiter: a full bucket. Infallible, as its [`Quota`] was
    /// validated when it was made.
    pub fn build(self) -> Limiter<C> {
        Limiter::placed(self.quota, self.clock, &mut Place::heap())
            // 128 bytes the allocator refused: what `Box::new` does too.
            .unwrap_or_else(|_| std::alloc::handle_alloc_error(std::alloc::Layout::new::<Bucket>()))
    }

    /// Keeps the limiter's bucket in the segment `shared`, so that every
    /// process building this limiter with it charges one bucket (see
    /// [`SharedMemory`]). A [`MonotonicClock`] moves to the machine's
    /// timeline ([`MonotonicClock::system`]).
    ///
    /// ```
    /// use floodgate::{Limiter, Quota, SharedMemory};
    /// let shared = SharedMemory::named(&format!("doc-limiter-{}", std::process::id()))?;
    /// let limiter = Limiter::builder(Quota::per_second(30)?.with_burst(60)?)
    ///     .shared(shared.clone())
    ///     .build()?;
    /// assert!(limiter.is_shared() && limiter.clock().is_system_wide());
    /// # shared.remove()?;
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn shared(self, shared: SharedMemory) -> SharedLimiterBuilder<C> {
        SharedLimiterBuilder {
            builder: self,
            shared,
        }
    }
}

/// A [`LimiterBuilder`] whose bucket goes to a shared segment; its `build`
/// can fail (the segment's file, a mismatch with an existing segment).
#[must_use]
pub struct SharedLimiterBuilder<C: Clock = MonotonicClock> {
    builder: LimiterBuilder<C>,
    shared: SharedMemory,
}

impl<C: Clock> SharedLimiterBuilder<C> {
    /// The limiter, its bucket in the segment: created there by the first
    /// process, found by the others; [`Error::SegmentMismatch`](crate::Error::SegmentMismatch)
    /// if the segment holds another kind or quota.
    pub fn build(self) -> Result<Limiter<C>> {
        let LimiterBuilder { quota, clock } = self.builder;
        let description = Description {
            kind: Kind::Limiter as u64,
            limits: Limits::Quota(quota),
            capacity: 0,
            options: 0,
        };
        segment::open(
            &self.shared,
            &description,
            |place| Limiter::placed(quota, ManualClock::new(), place).map(drop),
            |place, _| Limiter::placed(quota, clock.system_wide(), place),
        )
    }
}

impl<C: Clock> Limiter<C> {
    /// A full bucket of `quota` in `place`.
    pub(crate) fn placed(quota: Quota, clock: C, place: &mut Place) -> Result<Self> {
        Ok(Limiter {
            bucket: place.one(|| Bucket {
                hot: CachePadded::new(Hot {
                    state: AtomicU64::new(StateWord::FRESH.into_bits()),
                    suspended_until: AtomicU64::new(NOT_SUSPENDED),
                }),
                quotas: QuotaRing::new(quota),
            })?,
            clock,
        })
    }

    /// Whether the bucket lives in a shared segment.
    pub fn is_shared(&self) -> bool {
        self.bucket.is_shared()
    }
}

impl<C: Clock> Limiter<C> {
    /// The clock this limiter reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Decides a request of `cost` units now. A cost of 0 peeks; a cost above
    /// the burst returns [`Outcome::CannotFit`].
    ///
    /// ```
    /// # use floodgate::{Limiter, ManualClock, Outcome, Quota};
    /// let limiter = Limiter::builder(Quota::per_second(10)?).clock(ManualClock::new()).build();
    /// assert_eq!(limiter.check(u64::MAX).outcome(), Outcome::CannotFit);
    /// assert_eq!(limiter.check(10).outcome(), Outcome::Admitted);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    // Always inlined, like `check_at`: a caller that reads only the verdict
    // then pays for no field of the decision it does not read (measured:
    // an outlined call wrote the whole decision through memory).
    #[inline(always)]
    pub fn check(&self, cost: u64) -> Decision {
        self.check_at(cost, self.clock.now_ns())
    }

    /// [`check`](Self::check) at a caller-supplied time on this limiter's timeline.
    ///
    /// ```
    /// # use floodgate::{Limiter, Quota};
    /// let limiter = Limiter::builder(Quota::per_second(1)?).build();
    /// assert!(limiter.check_at(1, 5_000_000_000).is_admitted());
    /// assert!(!limiter.check_at(1, 5_500_000_000).is_admitted());
    /// assert!(limiter.check_at(1, 6_000_000_000).is_admitted());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    #[inline]
    pub fn check_at(&self, cost: u64, now_ns: u64) -> Decision {
        if let Some(suspended) = self.suspended(now_ns) {
            return suspended;
        }
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
    /// let limiter = Limiter::builder(Quota::per_second(10)?).clock(ManualClock::new()).build();
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
        if let Some(suspended) = self.suspended(now_ns) {
            return suspended;
        }
        let max_wait_ns = saturating_nanos(max_wait);
        self.update(|word, quota| gcra::reserve(word, quota, now_ns, cost, max_wait_ns))
    }

    /// The bucket as it stands now, charging nothing (same as `check(0)`).
    ///
    /// ```
    /// # use floodgate::{Limiter, ManualClock, Quota};
    /// let limiter = Limiter::builder(Quota::per_second(5)?).clock(ManualClock::new()).build();
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
    /// let limiter = Limiter::builder(Quota::per_second(5)?).clock(ManualClock::new()).build();
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
    /// assert_eq!(Limiter::builder(quota).build().quota(), quota);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn quota(&self) -> Quota {
        self.load().1
    }

    /// Replaces the quota, from any thread, while checks go on. The next
    /// check uses the new quota. What was used is kept: the capacity in use,
    /// counted in requests, carries over, capped at the new burst.
    ///
    /// ```
    /// # use floodgate::{Limiter, ManualClock, Quota};
    /// let limiter = Limiter::builder(Quota::per_second(30)?.with_burst(60)?)
    ///     .clock(ManualClock::new())
    ///     .build();
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
        let mut writer = self.bucket.quotas.writer();
        // Relaxed: only writers change the generation, and the writer lock
        // orders us after the previous writer's install and conversion.
        let mut current = StateWord::from_bits(self.bucket.hot.state.load(Ordering::Relaxed));
        let generation = current.next_generation();
        writer.install(generation, quota);
        let from = writer.named(current.generation());
        let backoff = Backoff::new();
        loop {
            let converted = gcra::convert(current, &from, &quota, now_ns, generation);
            // Release: a check that reads the converted word must see the
            // quota just installed. Relaxed on failure: checks change only
            // the tat, never the generation, so `from` stays right.
            match self.bucket.hot.state.compare_exchange_weak(
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
        if let Some(suspended) = self.suspended(now_ns) {
            return suspended;
        }
        let (word, quota) = self.load();
        gcra::evaluate(word, &quota, now_ns, cost).decision
    }

    /// Suspends the bucket (Genera: "non-compliance can suspend access")
    /// until `until_ns` on its timeline, or indefinitely with `None`. Checks
    /// meanwhile answer [`Outcome::Suspended`] and
    /// charge nothing; the bucket keeps its state for when it is lifted.
    ///
    /// ```
    /// # use floodgate::{Limiter, ManualClock, Outcome, Quota};
    /// use std::time::Duration;
    /// let clock = ManualClock::new();
    /// let limiter = Limiter::builder(Quota::per_second(10)?).clock(clock.clone()).build();
    /// limiter.suspend_until(Some(5_000_000_000));
    /// let decision = limiter.check(1);
    /// assert_eq!(decision.outcome(), Outcome::Suspended);
    /// assert_eq!(decision.retry_after(), Some(Duration::from_secs(5)));
    /// limiter.suspend_until(None);
    /// assert_eq!(limiter.check(1).retry_after(), None); // no end in sight
    /// limiter.lift_suspension();
    /// assert!(limiter.check(1).is_admitted());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn suspend_until(&self, until_ns: Option<u64>) {
        let until = until_ns.map_or(SUSPENDED_INDEFINITELY, |until| until.min(u64::MAX - 1));
        // Relaxed: the flag publishes nothing but itself.
        self.bucket
            .hot
            .suspended_until
            .store(until, Ordering::Relaxed);
    }

    /// Suspends the bucket for `duration` from now on its clock.
    pub fn suspend_for(&self, duration: Duration) {
        self.suspend_for_at(duration, self.clock.now_ns());
    }

    /// [`suspend_for`](Self::suspend_for) from a caller-supplied time.
    ///
    /// ```
    /// # use floodgate::{Limiter, ManualClock, Outcome, Quota};
    /// # use std::time::Duration;
    /// let limiter = Limiter::builder(Quota::per_second(10)?).clock(ManualClock::new()).build();
    /// limiter.suspend_for_at(Duration::from_secs(2), 1_000_000_000);
    /// assert_eq!(limiter.check_at(1, 2_999_999_999).outcome(), Outcome::Suspended);
    /// assert!(limiter.check_at(1, 3_000_000_000).is_admitted());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn suspend_for_at(&self, duration: Duration, now_ns: u64) {
        self.suspend_until(Some(now_ns.saturating_add(saturating_nanos(duration))));
    }

    /// Ends a suspension; the next check is decided by the bucket again.
    pub fn lift_suspension(&self) {
        // Relaxed: see `suspend_until`.
        self.bucket
            .hot
            .suspended_until
            .store(NOT_SUSPENDED, Ordering::Relaxed);
    }

    /// The suspension's end if the bucket is suspended at `now_ns`:
    /// `Some(None)` for an open-ended one.
    pub fn suspension_at(&self, now_ns: u64) -> Option<Option<u64>> {
        // Relaxed: see `suspend_until`.
        match self.bucket.hot.suspended_until.load(Ordering::Relaxed) {
            SUSPENDED_INDEFINITELY => Some(None),
            until if now_ns < until => Some(Some(until)),
            _ => None,
        }
    }

    /// The suspended answer at `now_ns`, if the bucket is suspended.
    #[inline]
    fn suspended(&self, now_ns: u64) -> Option<Decision> {
        let until = self.suspension_at(now_ns)?;
        let quota = self.quota();
        let wait = until.map_or(0, |until| until - now_ns);
        Some(Decision::new(
            Outcome::Suspended,
            quota.burst(),
            0,
            wait,
            wait,
        ))
    }

    /// The word and the quota it is measured in, read together.
    #[inline(always)]
    fn load(&self) -> (StateWord, Quota) {
        // Acquire: a word converted by `reconfigure_at` names a slot whose
        // new quota must be visible here; release sequences carry this
        // through the relaxed CASes of other checks. (Loom's model of Relaxed
        // loads is incomplete and passes Relaxed here; the slot read would
        // then be free to return the slot's previous quota.)
        self.measured(StateWord::from_bits(
            self.bucket.hot.state.load(Ordering::Acquire),
        ))
    }

    /// `word` with the quota its generation names; if that slot was being
    /// rewritten, `word` was stale: the word as it is now, with its quota.
    #[inline(always)]
    fn measured(&self, mut word: StateWord) -> (StateWord, Quota) {
        loop {
            if let Some(quota) = self.bucket.quotas.get(word.generation()) {
                return (word, quota);
            }
            // The failed read made the rewriter's conversion visible, so
            // this load returns a newer word: no waiting on the writer.
            // Acquire: as in `load`.
            word = StateWord::from_bits(self.bucket.hot.state.load(Ordering::Acquire));
        }
    }

    /// The CAS loop every operation runs: read the word, decide in the units
    /// of the quota its generation names, store the result if it changed.
    #[inline(always)]
    fn update(&self, mut step: impl FnMut(StateWord, &Quota) -> Evaluation) -> Decision {
        let (mut current, mut quota) = self.load();
        let backoff = Backoff::new();
        loop {
            let evaluation = step(current, &quota);
            let Some(next) = evaluation.next else {
                return evaluation.decision;
            };
            // Relaxed on success: a check publishes nothing but the word.
            // Acquire on failure: the word read instead may be a conversion.
            match self.bucket.hot.state.compare_exchange_weak(
                current.into_bits(),
                next.into_bits(),
                Ordering::Relaxed,
                Ordering::Acquire,
            ) {
                Ok(_) => return evaluation.decision,
                Err(actual) => {
                    (current, quota) = self.measured(StateWord::from_bits(actual));
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
