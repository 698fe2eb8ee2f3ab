//! Quotas: a rate (count per period) and a burst capacity, kept exactly
//! where the state word can, and otherwise within 100 ppm below the rate.
//!
//! GCRA needs the emission interval `T = period / count`, which is rarely a
//! whole number of nanoseconds (30/s is 33_333_333.3 ns). Rounding it would
//! change the rate, so a quota measures time in *ticks* of `1/k` ns, where
//! `k = count / gcd(count, period_ns)`: then `T` is exactly `period_ns / gcd`
//! ticks and every sum the limiter does is exact integer arithmetic.
//!
//! The price of a finer tick is a shorter wrap-around span of the state word
//! (see `state.rs`), so `k` is capped at [`MAX_TICKS_PER_NS`]. A quota whose
//! `k` would be larger (say 1_000_003 per second) measures in ticks of 1/32 ns
//! and rounds `T` *up* to the next whole tick, by less than 1/32 ns. A longer
//! interval is a lower rate, so such a quota never admits more than
//! `count / period`, and admits less by `1 - T / T_rounded`:
//! [`Quota::rate_error_ppm`] reports it, [`Quota::is_exact`] says whether it
//! is zero. Rounding costs little when `T` spans many ticks (1_000_003 per
//! second loses 3 ppm) and a lot when it spans few (999_999_937 per second
//! would lose 3 %), so a quota that would lose more than
//! [`MAX_RATE_ERROR_PPM`] is refused with [`Error::InexactRate`]. Every rate
//! up to 3.2 million per second, and every rate whose reduced denominator is
//! at most 32, is accepted.

use crate::core::error::{Error, Result};
use crate::core::state::MAX_CAPACITY_TICKS;
use std::fmt;
use std::time::Duration;

/// The finest tick a quota uses: 1/32 ns. See the module docs for the trade-off.
pub const MAX_TICKS_PER_NS: u64 = 32;

/// The most, in parts per million, that a rounded quota may admit below its
/// `count / period`; a quota that would lose more is refused with
/// [`Error::InexactRate`].
pub const MAX_RATE_ERROR_PPM: u64 = 100;

const PARTS_PER_MILLION: u128 = 1_000_000;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// A rate limit: `count` requests per `period`, with up to `burst` at once.
///
/// ```
/// use floodgate::Quota;
/// use std::time::Duration;
///
/// // GenieOS per-key limit: 30 requests per second, bursts of 60.
/// let quota = Quota::per_second(30)?.with_burst(60)?;
/// assert_eq!((quota.count(), quota.period(), quota.burst()), (30, Duration::from_secs(1), 60));
/// assert!(quota.is_exact());
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    count: u64,
    period_ns: u64,
    burst: u64,
    ticks_per_ns: u64,
    token_ticks: u64,
    lockout_ticks: u64,
    exact: bool,
}

impl Quota {
    /// `count` requests per `period`, with a burst of `count`.
    ///
    /// ```
    /// use floodgate::{Error, Quota};
    /// use std::time::Duration;
    /// assert!(Quota::new(600, Duration::from_secs(60)).is_ok());
    /// assert_eq!(Quota::new(1, Duration::ZERO), Err(Error::ZeroPeriod));
    /// ```
    pub fn new(count: u64, period: Duration) -> Result<Self> {
        let period_ns = u64::try_from(period.as_nanos()).map_err(|_| Error::PeriodTooLong)?;
        Self::from_parts(count, period_ns, count)
    }

    /// `count` requests per `period` with a burst of `burst`, validated in one
    /// step: `new(..)?.with_burst(..)` can refuse a very long period whose
    /// default burst of `count` does not fit the state word though `burst` does.
    ///
    /// ```
    /// use floodgate::Quota;
    /// use std::time::Duration;
    /// let year = Duration::from_secs(365 * 86_400);
    /// assert!(Quota::per_period(19, year, 1).is_ok());
    /// assert!(Quota::new(19, year).is_err());
    /// ```
    pub fn per_period(count: u64, period: Duration, burst: u64) -> Result<Self> {
        let period_ns = u64::try_from(period.as_nanos()).map_err(|_| Error::PeriodTooLong)?;
        Self::from_parts(count, period_ns, burst)
    }

    /// `count` requests per second, with a burst of `count`.
    ///
    /// ```
    /// let quota = floodgate::Quota::per_second(400_000_000)?;
    /// assert_eq!(quota.count(), 400_000_000); // not rounded to 500M/s
    /// assert!(quota.is_exact());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn per_second(count: u64) -> Result<Self> {
        Self::from_parts(count, NANOS_PER_SECOND, count)
    }

    /// `count` requests per minute, with a burst of `count`.
    ///
    /// ```
    /// assert_eq!(floodgate::Quota::per_minute(600)?.burst(), 600);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn per_minute(count: u64) -> Result<Self> {
        Self::from_parts(count, 60 * NANOS_PER_SECOND, count)
    }

    /// `count` requests per hour, with a burst of `count`.
    ///
    /// ```
    /// assert_eq!(floodgate::Quota::per_hour(5_000)?.count(), 5_000);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn per_hour(count: u64) -> Result<Self> {
        Self::from_parts(count, 3_600 * NANOS_PER_SECOND, count)
    }

    /// `count` requests per day, with a burst of `count`.
    ///
    /// ```
    /// assert_eq!(floodgate::Quota::per_day(1)?.period().as_secs(), 86_400);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn per_day(count: u64) -> Result<Self> {
        Self::from_parts(count, 86_400 * NANOS_PER_SECOND, count)
    }

    /// The same rate with a different burst capacity.
    ///
    /// ```
    /// use floodgate::{Error, Quota};
    /// assert_eq!(Quota::per_second(15)?.with_burst(0), Err(Error::ZeroBurst));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn with_burst(self, burst: u64) -> Result<Self> {
        Self::from_parts(self.count, self.period_ns, burst)?.with_lockout_ticks(self.lockout_ticks)
    }

    /// Makes hammering counterproductive (GenieOS: "hammering during the
    /// cooldown re-arms the bucket and extends the lockout"). Each denied
    /// request is charged its cost as if it had been admitted, so every retry
    /// made during the cooldown pushes the cooldown further out; the debt
    /// never exceeds a full burst plus `max_lockout`, so a client that stops
    /// hammering waits at most `max_lockout` plus one request's interval past
    /// an empty bucket. `Duration::ZERO` turns it off (the default).
    ///
    /// ```
    /// use floodgate::{Limiter, ManualClock, Quota};
    /// use std::time::Duration;
    ///
    /// let quota = Quota::per_second(10)?.with_lockout(Duration::from_secs(5))?;
    /// let limiter = Limiter::builder(quota).clock(ManualClock::new()).build();
    /// limiter.check(10);
    /// let first = limiter.check(1).retry_after().unwrap();
    /// let second = limiter.check(1).retry_after().unwrap();
    /// assert!(second > first); // hammering extended the lockout
    /// for _ in 0..1_000 {
    ///     limiter.check(1);
    /// }
    /// assert_eq!(limiter.check(1).retry_after(), Some(Duration::from_millis(5_100)));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn with_lockout(self, max_lockout: Duration) -> Result<Self> {
        let nanos = u64::try_from(max_lockout.as_nanos()).map_err(|_| Error::LockoutTooLong)?;
        let ticks = nanos
            .checked_mul(self.ticks_per_ns)
            .ok_or(Error::LockoutTooLong)?;
        self.with_lockout_ticks(ticks)
    }

    fn with_lockout_ticks(self, lockout_ticks: u64) -> Result<Self> {
        match self.capacity_ticks().checked_add(lockout_ticks) {
            Some(span) if span <= MAX_CAPACITY_TICKS => Ok(Self {
                lockout_ticks,
                ..self
            }),
            _ => Err(Error::LockoutTooLong),
        }
    }

    /// The longest a denied client can be held past an empty bucket by
    /// hammering; zero when lockout is off.
    pub fn lockout(&self) -> Duration {
        Duration::from_nanos(self.lockout_ticks / self.ticks_per_ns)
    }

    /// The one constructor every other calls: validates and precomputes ticks.
    fn from_parts(count: u64, period_ns: u64, burst: u64) -> Result<Self> {
        if count == 0 {
            return Err(Error::ZeroCount);
        }
        if period_ns == 0 {
            return Err(Error::ZeroPeriod);
        }
        if burst == 0 {
            return Err(Error::ZeroBurst);
        }
        if count > period_ns {
            return Err(Error::RateTooHigh);
        }
        let divisor = gcd(count, period_ns);
        let reduced_count = count / divisor;
        let (ticks_per_ns, token_ticks, exact) = if reduced_count <= MAX_TICKS_PER_NS {
            (reduced_count, period_ns / divisor, true)
        } else {
            let scaled = u128::from(period_ns) * u128::from(MAX_TICKS_PER_NS);
            let token_ticks = scaled.div_ceil(u128::from(count));
            // Lost rate = 1 - scaled / (token_ticks * count); both products
            // are below 33 * 2^64, so the comparison is exact in u128.
            let rounded = token_ticks * u128::from(count);
            if (rounded - scaled) * PARTS_PER_MILLION > u128::from(MAX_RATE_ERROR_PPM) * rounded {
                return Err(Error::InexactRate);
            }
            // count <= period_ns bounds this by period_ns * 32 / 33 < 2^64.
            (MAX_TICKS_PER_NS, token_ticks as u64, false)
        };
        match burst.checked_mul(token_ticks) {
            Some(capacity) if capacity <= MAX_CAPACITY_TICKS => {}
            _ => return Err(Error::BurstTooLarge),
        }
        Ok(Self {
            count,
            period_ns,
            burst,
            ticks_per_ns,
            token_ticks,
            lockout_ticks: 0,
            exact,
        })
    }

    /// Requests allowed per [`period`](Self::period).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The period the count applies to.
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period_ns)
    }

    /// The period in nanoseconds.
    pub fn period_ns(&self) -> u64 {
        self.period_ns
    }

    /// How many requests may go at once from a full bucket.
    #[inline]
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// The time one unit of capacity takes to refill, rounded down to whole ns
    /// for display; the limiter itself keeps the exact fraction.
    ///
    /// ```
    /// let quota = floodgate::Quota::per_second(30)?;
    /// assert_eq!(quota.emission_interval().as_nanos(), 33_333_333);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn emission_interval(&self) -> Duration {
        Duration::from_nanos(self.period_ns / self.count)
    }

    /// Whether the limiter enforces exactly `count / period`. False only when
    /// the reduced fraction's denominator exceeds [`MAX_TICKS_PER_NS`]: the
    /// emission interval is then rounded up by less than 1/32 ns, so the rate
    /// is rounded down, by [`rate_error_ppm`](Self::rate_error_ppm).
    ///
    /// ```
    /// assert!(floodgate::Quota::per_second(30)?.is_exact());
    /// assert!(!floodgate::Quota::per_second(1_000_003)?.is_exact());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// How far below `count / period` the enforced rate is, in parts per
    /// million: 0 for an exact quota, at most [`MAX_RATE_ERROR_PPM`] for a
    /// rounded one (quotas that would lose more are refused). Never negative:
    /// rounding only lowers the rate.
    ///
    /// ```
    /// use floodgate::{Error, Quota};
    /// assert_eq!(Quota::per_second(30)?.rate_error_ppm(), 0.0);
    /// // 1_000_003/s: 999.997 ns per request, enforced as 1_000 ns.
    /// let near = Quota::per_second(1_000_003)?.rate_error_ppm();
    /// assert!(2.99 < near && near < 3.0);
    /// // 3_199_999/s: 312.5001 ns per request, enforced as 312.53125 ns.
    /// let borderline = Quota::per_second(3_199_999)?.rate_error_ppm();
    /// assert!(99.6 < borderline && borderline < 99.7);
    /// // 999_999_937/s: 1.00000006 ns per request would be enforced as 1.03125 ns.
    /// assert_eq!(Quota::per_second(999_999_937), Err(Error::InexactRate));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn rate_error_ppm(&self) -> f64 {
        let exact = u128::from(self.period_ns) * u128::from(self.ticks_per_ns);
        let rounded = u128::from(self.token_ticks) * u128::from(self.count);
        (rounded - exact) as f64 * 1e6 / rounded as f64
    }

    /// Ticks one unit of cost takes to refill.
    #[inline]
    pub(crate) fn token_ticks(&self) -> u64 {
        self.token_ticks
    }

    /// Ticks a whole burst takes to refill: the most debt a bucket may carry.
    #[inline]
    pub(crate) fn capacity_ticks(&self) -> u64 {
        // Validated in `from_parts` not to overflow.
        self.burst * self.token_ticks
    }

    /// The longest a bucket can take to be full again after a check, in ns
    /// (rounded up): a whole burst's refill plus the lockout. Only a
    /// reservation, borrowing capacity for requests it delays, owes more.
    pub(crate) fn longest_refill_ns(&self) -> u64 {
        // Both validated to sum to at most 2^59 ticks.
        (self.capacity_ticks() + self.lockout_ticks).div_ceil(self.ticks_per_ns)
    }

    /// The most debt hammering may build beyond a full burst.
    #[inline]
    pub(crate) fn lockout_ticks(&self) -> u64 {
        self.lockout_ticks
    }

    /// A nanosecond timestamp on this quota's tick scale, modulo the word's span.
    #[inline]
    pub(crate) fn ticks_at(&self, now_ns: u64) -> u64 {
        now_ns.wrapping_mul(self.ticks_per_ns)
    }

    /// Ticks per nanosecond of this quota's time scale.
    #[inline]
    pub(crate) fn ticks_per_ns(&self) -> u64 {
        self.ticks_per_ns
    }
}

/// How many `u64` words [`Quota::to_words`] packs a quota into.
pub(crate) const QUOTA_WORDS: usize = 6;

/// Where `exact` rides in the word holding `ticks_per_ns` (at most 32).
const EXACT_BIT: u64 = 1 << 63;

impl Quota {
    /// The quota as plain words, for slots that store quotas inline in
    /// atomics (`quota_ring.rs`); [`from_words`](Self::from_words) undoes it.
    #[inline]
    pub(crate) fn to_words(self) -> [u64; QUOTA_WORDS] {
        let scale = self.ticks_per_ns | if self.exact { EXACT_BIT } else { 0 };
        [
            self.count,
            self.period_ns,
            self.burst,
            scale,
            self.token_ticks,
            self.lockout_ticks,
        ]
    }

    /// The quota [`to_words`](Self::to_words) packed. Only words it returned
    /// may be given: nothing is validated again.
    #[inline]
    pub(crate) fn from_words(words: [u64; QUOTA_WORDS]) -> Self {
        let [count, period_ns, burst, scale, token_ticks, lockout_ticks] = words;
        Self {
            count,
            period_ns,
            burst,
            ticks_per_ns: scale & !EXACT_BIT,
            token_ticks,
            lockout_ticks,
            exact: scale & EXACT_BIT != 0,
        }
    }
}

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quota")
            .field("count", &self.count)
            .field("period", &self.period())
            .field("burst", &self.burst)
            .field("lockout", &self.lockout())
            .field("exact", &self.exact)
            .finish()
    }
}

impl fmt::Display for Quota {
    /// `30/1s burst 60`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:?} burst {}", self.count, self.period(), self.burst)
    }
}

pub(crate) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_the_rate_to_exact_ticks() {
        let q = Quota::per_second(30).unwrap();
        assert_eq!((q.ticks_per_ns, q.token_ticks()), (3, 100_000_000));
        let q = Quota::per_second(400_000_000).unwrap();
        assert_eq!((q.ticks_per_ns, q.token_ticks()), (2, 5));
        let q = Quota::per_second(1_000_000_000).unwrap();
        assert_eq!((q.ticks_per_ns, q.token_ticks()), (1, 1));
        let q = Quota::per_minute(600).unwrap();
        assert_eq!((q.ticks_per_ns, q.token_ticks()), (1, 100_000_000));
    }

    #[test]
    fn rounds_a_fine_denominator_up_never_down() {
        let q = Quota::per_second(1_000_003).unwrap();
        assert!(!q.is_exact());
        assert_eq!(q.ticks_per_ns, MAX_TICKS_PER_NS);
        // exact interval is 999.997 ns = 31_999.904 ticks of 1/32 ns
        assert_eq!(q.token_ticks(), 32_000);
    }

    #[test]
    fn refuses_a_rate_rounding_would_cut_by_more_than_100_ppm() {
        // exact interval 32.000002 ticks, rounded to 33: 3 % fewer requests
        assert_eq!(Quota::per_second(999_999_937), Err(Error::InexactRate));
        // 100.002 ppm: just over the line
        assert_eq!(Quota::per_second(3_201_921), Err(Error::InexactRate));
        let q = Quota::per_second(3_199_999).unwrap();
        assert_eq!(q.token_ticks(), 10_001);
        let ppm = q.rate_error_ppm();
        assert!(99.67 < ppm && ppm < 99.68, "{ppm}");
        // with_burst re-validates through the same constructor
        assert_eq!(
            Quota::per_second(3_199_999)
                .unwrap()
                .with_burst(7)
                .unwrap()
                .rate_error_ppm(),
            ppm
        );
    }

    #[test]
    fn rejects_bad_quotas() {
        assert_eq!(Quota::per_second(0), Err(Error::ZeroCount));
        assert_eq!(Quota::per_second(2_000_000_000), Err(Error::RateTooHigh));
        assert_eq!(
            Quota::new(1, Duration::from_secs(u64::MAX)),
            Err(Error::PeriodTooLong)
        );
        assert_eq!(
            Quota::per_day(1).unwrap().with_burst(u64::MAX),
            Err(Error::BurstTooLarge)
        );
    }

    #[test]
    fn packs_into_words_and_back() {
        for q in [
            Quota::per_second(30).unwrap().with_burst(60).unwrap(),
            Quota::per_second(1_000_003).unwrap(),
            Quota::per_minute(7)
                .unwrap()
                .with_lockout(Duration::from_secs(9))
                .unwrap(),
        ] {
            assert_eq!(Quota::from_words(q.to_words()), q);
        }
    }

    #[test]
    fn displays_rate_and_burst() {
        let q = Quota::per_second(30).unwrap().with_burst(60).unwrap();
        assert_eq!(q.to_string(), "30/1s burst 60");
    }
}
