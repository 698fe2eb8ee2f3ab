//! What a check answers: may the request go, and the numbers a client reads.

use std::fmt;
use std::time::Duration;

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum Outcome {
    /// The request may go; its cost was charged.
    Admitted = 0,
    /// Not now: the same cost is admitted after [`Decision::retry_after`].
    Denied = 1,
    /// The cost exceeds the burst capacity, so it can never be admitted.
    CannotFit = 2,
    /// The key is suspended (not rate limited): nothing was charged.
    /// [`Decision::retry_after`] is the end of the suspension, `None` when
    /// it has none.
    Suspended = 3,
}

/// The answer to a check: the [`Outcome`] and the rate-limit metadata a
/// response carries (limit, remaining, reset, Retry-After).
///
/// ```
/// use floodgate::{Limiter, ManualClock, Outcome, Quota};
///
/// let limiter = Limiter::builder(Quota::per_second(30)?.with_burst(60)?)
///     .clock(ManualClock::new())
///     .build();
/// let decision = limiter.check(1);
/// assert_eq!(decision.outcome(), Outcome::Admitted);
/// assert_eq!((decision.limit(), decision.remaining()), (60, 59));
/// assert_eq!(decision.reset_after().as_nanos(), 33_333_334); // one interval, rounded up
/// assert_eq!(decision.retry_after(), None);
/// # Ok::<(), floodgate::Error>(())
/// ```
// Plain integers only, repr(C): a decision has no niche, so `Result<Decision,
// _>` and `Option<Decision>` keep their tag outside it and every copy of one
// (through layers and results) moves whole aligned words. With enum fields
// the compiler stored an error in the same bytes and copied `limit` in
// pieces, which stalled store-to-load forwarding (measured: a third of a
// layered check). The outcome takes a whole word for the same reason: as a
// byte, the seven padding bytes after it were copied as a 4-, 2- and 1-byte
// move that straddled the stores before them (6 ns of a Python check).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Decision {
    limit: u64,
    /// Ticks: capacity in use after the decision. Plain: remaining requests.
    used: u64,
    /// Ticks: ticks until the same cost fits (or the reservation's delay).
    /// Plain: the same wait in nanoseconds.
    wait: u64,
    /// Ticks: ticks one request refills. Plain: nanoseconds until full.
    unit: u64,
    /// Ticks per nanosecond of the figures; [`PLAIN`] for figures already in
    /// requests and nanoseconds.
    ticks_per_ns: u64,
    /// The [`Outcome`], as its discriminant.
    outcome: u64,
}

/// `ticks_per_ns` of a decision whose figures need no conversion. GCRA
/// decisions keep raw ticks so the hot path does no division: the accessors
/// divide.
const PLAIN: u64 = 0;

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
            limit,
            used: remaining,
            wait: retry_after_ns,
            unit: reset_after_ns,
            ticks_per_ns: PLAIN,
            outcome: outcome as u64,
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
        debug_assert!(ticks_per_ns != PLAIN);
        Self {
            limit,
            used: debt,
            wait,
            unit: token_ticks,
            ticks_per_ns,
            outcome: outcome as u64,
        }
    }

    /// The verdict.
    #[inline]
    pub fn outcome(&self) -> Outcome {
        Outcome::from_discriminant(self.outcome)
    }

    /// Whether the request may go.
    #[inline]
    pub fn is_admitted(&self) -> bool {
        self.outcome == Outcome::Admitted as u64
    }

    /// The burst capacity: what `X-RateLimit-Limit` reports.
    #[inline]
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Whole units of capacity left after this decision.
    #[inline]
    pub fn remaining(&self) -> u64 {
        if self.ticks_per_ns == PLAIN {
            return self.used;
        }
        (self.limit * self.unit).saturating_sub(self.used) / self.unit
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
        if self.ticks_per_ns == PLAIN {
            return (u128::from(self.used), 1);
        }
        (
            u128::from((self.limit * self.unit).saturating_sub(self.used)),
            u128::from(self.unit),
        )
    }

    /// Time until the bucket is full again.
    pub fn reset_after(&self) -> Duration {
        Duration::from_nanos(self.reset_after_ns())
    }

    /// [`reset_after`](Self::reset_after) in nanoseconds, rounded up.
    #[inline]
    pub fn reset_after_ns(&self) -> u64 {
        if self.ticks_per_ns == PLAIN {
            return self.unit;
        }
        self.used.div_ceil(self.ticks_per_ns)
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
        if self.is_admitted() {
            Duration::from_nanos(self.wait_ns())
        } else {
            Duration::ZERO
        }
    }

    /// Whether at most `threshold_percent` of the limit remains (GenieOS's
    /// warning zone, "log it, slow down", is
    /// [`presets::genieos::WARNING_ZONE_PERCENT`](crate::presets::genieos::WARNING_ZONE_PERCENT), 20 %).
    ///
    /// ```
    /// use floodgate::{Limiter, ManualClock, Quota};
    /// let limiter = Limiter::builder(Quota::per_second(30)?).clock(ManualClock::new()).build();
    /// assert!(!limiter.check(23).in_warning_zone(20)); // 7 left
    /// assert!(limiter.check(1).in_warning_zone(20)); // 6 left = 20 %
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
        match self.outcome() {
            Outcome::Denied | Outcome::Suspended => self.wait_ns(),
            _ => 0,
        }
    }

    /// The decision's wait (Retry-After when denied, delay when reserved).
    #[inline]
    fn wait_ns(&self) -> u64 {
        if self.ticks_per_ns == PLAIN {
            return self.wait;
        }
        self.wait.div_ceil(self.ticks_per_ns)
    }

    /// Ticks of capacity in use after a GCRA decision (0 for others).
    #[cfg(feature = "redis")]
    #[inline]
    pub(crate) fn used_ticks(&self) -> u64 {
        if self.ticks_per_ns == PLAIN {
            return 0;
        }
        self.used
    }

    /// The rate a token bucket's decision refills at, exactly, as
    /// `(requests, nanoseconds)`: ticks per ns over ticks per request. `None`
    /// for a decision with no refill rate (a sliding window's, an in-flight
    /// cap's, a suspension's, or one read back from the C ABI's figures).
    pub(crate) fn refill_rate(&self) -> Option<(u64, u64)> {
        (self.ticks_per_ns != PLAIN).then_some((self.ticks_per_ns, self.unit))
    }
}

impl Outcome {
    /// The outcome a [`Decision`] stored as `outcome as u64`.
    #[inline]
    fn from_discriminant(discriminant: u64) -> Self {
        match discriminant {
            0 => Outcome::Admitted,
            1 => Outcome::Denied,
            2 => Outcome::CannotFit,
            // Only `outcome as u64` is ever stored, so this is 3.
            _ => Outcome::Suspended,
        }
    }
}

impl fmt::Debug for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decision")
            .field("outcome", &self.outcome())
            .field("limit", &self.limit)
            .field("remaining", &self.remaining())
            .field("reset_after", &self.reset_after())
            .field("retry_after", &self.retry_after())
            .field("delay", &self.delay())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_survives_its_byte() {
        for outcome in [
            Outcome::Admitted,
            Outcome::Denied,
            Outcome::CannotFit,
            Outcome::Suspended,
        ] {
            assert_eq!(Decision::new(outcome, 1, 0, 0, 0).outcome(), outcome);
        }
    }

    #[test]
    fn a_result_of_a_decision_keeps_its_tag_outside() {
        // No niche in a decision: the result is one tag word bigger.
        assert_eq!(
            std::mem::size_of::<crate::Result<Decision>>(),
            std::mem::size_of::<Decision>() + 8
        );
    }
}
