//! What a check answers: may the request go, and the numbers a client reads.

use std::time::Duration;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    outcome: Outcome,
    limit: u64,
    remaining: u64,
    reset_after_ns: u64,
    retry_after_ns: u64,
}

impl Decision {
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
            remaining,
            reset_after_ns,
            retry_after_ns,
        }
    }

    /// The verdict.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Whether the request may go.
    pub fn is_admitted(&self) -> bool {
        self.outcome == Outcome::Admitted
    }

    /// The burst capacity: what `X-RateLimit-Limit` reports.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Whole units of capacity left after this decision.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Time until the bucket is full again.
    pub fn reset_after(&self) -> Duration {
        Duration::from_nanos(self.reset_after_ns)
    }

    /// [`reset_after`](Self::reset_after) in nanoseconds.
    pub fn reset_after_ns(&self) -> u64 {
        self.reset_after_ns
    }

    /// When denied, the wait after which the same cost is admitted (never
    /// zero); `None` otherwise, including for [`Outcome::CannotFit`].
    pub fn retry_after(&self) -> Option<Duration> {
        (self.outcome == Outcome::Denied).then(|| Duration::from_nanos(self.retry_after_ns))
    }

    /// [`retry_after`](Self::retry_after) in nanoseconds, 0 when not denied.
    pub fn retry_after_ns(&self) -> u64 {
        self.retry_after_ns
    }
}
