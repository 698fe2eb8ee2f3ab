//! What a check answers: may the request go, and the numbers a client reads.

use std::time::Duration;

/// GenieOS's warning zone: remaining at or below 20 % of the limit.
pub const WARNING_ZONE_PERCENT: u64 = 20;

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The request may go; its cost was charged.
    Admitted,
    /// Not now: the same cost is admitted after [`Decision::retry_after`].
    Denied,
    /// The cost exceeds the burst capacity, so it can never be admitted.
    CannotFit,
    /// The key is suspended (not rate limited): nothing was charged.
    /// [`Decision::retry_after`] is the end of the suspension, `None` when
    /// it has none.
    Suspended,
}

/// The answer to a check: the [`Outcome`] and the rate-limit metadata a
/// response carries (limit, remaining, reset, Retry-After).
///
/// ```
/// use floodgate::{Limiter, ManualClock, Outcome, Quota};
///
/// let limiter = Limiter::with_clock(Quota::per_second(30)?.with_burst(60)?, ManualClock::new());
/// let decision = limiter.check(1);
/// assert_eq!(decision.outcome(), Outcome::Admitted);
/// assert_eq!((decision.limit(), decision.remaining()), (60, 59));
/// assert_eq!(decision.reset_after().as_nanos(), 33_333_334); // one interval, rounded up
/// assert_eq!(decision.retry_after(), None);
/// # Ok::<(), floodgate::Error>(())
/// ```
// repr(C) with the one-byte outcome last: every copy of a decision (through
// `Result`s and layers) then moves aligned 8-byte words. Rust's own layout
// put the payload at odd offsets, and unaligned 16-byte copies of it stalled
// store-to-load forwarding (measured: half a layered check's time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Decision {
    limit: u64,
    figures: Figures,
    outcome: Outcome,
}

/// How a decision's numbers are kept until someone reads them. A GCRA check
/// keeps raw ticks so the hot path does no division: the accessors divide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C, u64)]
enum Figures {
    Ticks {
        /// Capacity in use after the decision.
        debt: u64,
        /// Ticks until the same cost fits (denied only).
        wait: u64,
        token_ticks: u64,
        ticks_per_ns: u64,
    },
    Plain {
        remaining: u64,
        reset_after_ns: u64,
        retry_after_ns: u64,
    },
}

impl Decision {
    /// A decision from figures already in requests and nanoseconds.
    pub(crate) fn new(
        outcome: Outcome,
        limit: u64,
        remaining: u64,
        reset_after_ns: u64,
        retry_after_ns: u64,
    ) -> Self {
        Self {
            outcome,
            limit,
            figures: Figures::Plain {
                remaining,
                reset_after_ns,
                retry_after_ns,
            },
        }
    }

    /// The answer of a layer that does not limit this request (an unlimited
    /// plan tier, a key that is not suspended): admitted, nothing to count.
    pub(crate) fn unlimited() -> Self {
        Self::new(Outcome::Admitted, u64::MAX, u64::MAX, 0, 0)
    }

    /// A GCRA decision in ticks: `debt` is the capacity in use afterwards,
    /// `wait` the ticks until the same cost fits.
    #[inline]
    pub(crate) fn from_ticks(
        outcome: Outcome,
        limit: u64,
        debt: u64,
        wait: u64,
        token_ticks: u64,
        ticks_per_ns: u64,
    ) -> Self {
        Self {
            outcome,
            limit,
            figures: Figures::Ticks {
                debt,
                wait,
                token_ticks,
                ticks_per_ns,
            },
        }
    }

    /// The verdict.
    #[inline]
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Whether the request may go.
    #[inline]
    pub fn is_admitted(&self) -> bool {
        self.outcome == Outcome::Admitted
    }

    /// The burst capacity: what `X-RateLimit-Limit` reports.
    #[inline]
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Whole units of capacity left after this decision.
    #[inline]
    pub fn remaining(&self) -> u64 {
        match self.figures {
            Figures::Ticks {
                debt, token_ticks, ..
            } => (self.limit * token_ticks).saturating_sub(debt) / token_ticks,
            Figures::Plain { remaining, .. } => remaining,
        }
    }

    /// Whether this decision leaves less capacity than `other`, compared
    /// exactly (fractions included) and without dividing: the tightest of a
    /// layered check's layers is found on the hot path.
    #[inline]
    pub(crate) fn leaves_less_than(&self, other: &Decision) -> bool {
        let (mine, my_unit) = self.capacity_left();
        let (theirs, their_unit) = other.capacity_left();
        mine * their_unit < theirs * my_unit
    }

    /// Capacity left as a fraction: (amount, units per request).
    #[inline]
    fn capacity_left(&self) -> (u128, u128) {
        match self.figures {
            Figures::Ticks {
                debt, token_ticks, ..
            } => (
                u128::from((self.limit * token_ticks).saturating_sub(debt)),
                u128::from(token_ticks),
            ),
            Figures::Plain { remaining, .. } => (u128::from(remaining), 1),
        }
    }

    /// Time until the bucket is full again.
    pub fn reset_after(&self) -> Duration {
        Duration::from_nanos(self.reset_after_ns())
    }

    /// [`reset_after`](Self::reset_after) in nanoseconds, rounded up.
    #[inline]
    pub fn reset_after_ns(&self) -> u64 {
        match self.figures {
            Figures::Ticks {
                debt, ticks_per_ns, ..
            } => debt.div_ceil(ticks_per_ns),
            Figures::Plain { reset_after_ns, .. } => reset_after_ns,
        }
    }

    /// When denied, the wait after which the same cost is admitted (never
    /// zero); when suspended until a time, the wait until then; `None`
    /// otherwise, including for [`Outcome::CannotFit`] and an open-ended
    /// suspension.
    pub fn retry_after(&self) -> Option<Duration> {
        let wait = self.retry_after_ns();
        (wait > 0).then(|| Duration::from_nanos(wait))
    }

    /// For an admitted reservation ([`Limiter::reserve`](crate::Limiter::reserve)),
    /// how long to wait before proceeding; zero for everything else.
    #[inline]
    pub fn delay(&self) -> Duration {
        if self.outcome == Outcome::Admitted {
            Duration::from_nanos(self.wait_ns())
        } else {
            Duration::ZERO
        }
    }

    /// Whether at most `threshold_percent` of the limit remains: GenieOS's
    /// warning zone is [`WARNING_ZONE_PERCENT`] (20 %), "log it, slow down".
    ///
    /// ```
    /// use floodgate::{Limiter, ManualClock, Quota, WARNING_ZONE_PERCENT};
    /// let limiter = Limiter::with_clock(Quota::per_second(30)?, ManualClock::new());
    /// assert!(!limiter.check(23).in_warning_zone(WARNING_ZONE_PERCENT)); // 7 left
    /// assert!(limiter.check(1).in_warning_zone(WARNING_ZONE_PERCENT)); // 6 left = 20 %
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    #[inline]
    pub fn in_warning_zone(&self, threshold_percent: u64) -> bool {
        u128::from(self.remaining()) * 100 <= u128::from(threshold_percent) * u128::from(self.limit)
    }

    /// [`retry_after`](Self::retry_after) in nanoseconds (rounded up, so
    /// never 0 while denied), 0 when there is none.
    #[inline]
    pub fn retry_after_ns(&self) -> u64 {
        match self.outcome {
            Outcome::Denied | Outcome::Suspended => self.wait_ns(),
            _ => 0,
        }
    }

    /// The decision's wait (Retry-After when denied, delay when reserved).
    #[inline]
    fn wait_ns(&self) -> u64 {
        match self.figures {
            Figures::Ticks {
                wait, ticks_per_ns, ..
            } => wait.div_ceil(ticks_per_ns),
            Figures::Plain { retry_after_ns, .. } => retry_after_ns,
        }
    }
}
