//! Client side: how long to wait before retrying a rejected request.
//!
//! A server's `Retry-After` is honoured exactly; without one, the wait grows
//! exponentially with jitter, up to a cap and a number of retries. Jitter is
//! drawn from a seeded SplitMix64 stream keyed by the retry number, so a
//! policy with a fixed seed gives the same delays every time (tests), and
//! one seeded per process spreads clients apart.

use crate::core::error::{Error, Result};
use crate::http::Civil;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a backoff delay is randomised.
///
/// ```
/// use floodgate::{Jitter, RetryPolicy};
/// use std::time::Duration;
/// let policy = RetryPolicy::new(Duration::from_millis(250), 2, 5, Duration::from_secs(4), Jitter::Equal)?;
/// let policy = policy.with_jitter(Jitter::None);
/// assert_eq!(policy.delay(2, None), Some(Duration::from_secs(1)));
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Jitter {
    /// Exactly the nominal delay.
    None,
    /// Uniform between half the nominal delay and all of it.
    Equal,
    /// Uniform between zero and the nominal delay.
    Full,
}

/// When and how often to retry.
///
/// ```
/// use floodgate::{Jitter, RetryPolicy};
/// use std::time::Duration;
///
/// let (ms, s) = (Duration::from_millis, Duration::from_secs);
/// let policy = RetryPolicy::new(ms(250), 2, 5, s(4), Jitter::Equal)?.with_seed(7);
/// let mut retry = policy.start();
/// // The server said when: wait exactly that.
/// assert_eq!(retry.next_delay(Some(Duration::from_millis(600))), Some(Duration::from_millis(600)));
/// // It did not: 500 ms nominal for the second retry, jittered into [250, 500] ms.
/// let wait = retry.next_delay(None).unwrap();
/// assert!(wait >= Duration::from_millis(250) && wait <= Duration::from_millis(500));
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RetryPolicy {
    initial: Duration,
    factor: u32,
    max_retries: u32,
    max_delay: Duration,
    jitter: Jitter,
    seed: u64,
}

impl RetryPolicy {
    /// Retries after `initial`, `initial * factor`, `initial * factor^2`, ...
    /// each capped at `max_delay`, at most `max_retries` times, jittered.
    /// Seeded at random; see [`with_seed`](Self::with_seed). The providers'
    /// policies are in [`presets`](crate::presets).
    ///
    /// ```
    /// use floodgate::{Error, Jitter, RetryPolicy};
    /// use std::time::Duration;
    /// let s = Duration::from_secs;
    /// assert!(RetryPolicy::new(s(1), 2, 4, s(8), Jitter::None).is_ok());
    /// assert_eq!(RetryPolicy::new(s(1), 0, 4, s(8), Jitter::None).err(), Some(Error::InvalidRetryPolicy));
    /// assert_eq!(RetryPolicy::new(s(9), 2, 4, s(8), Jitter::None).err(), Some(Error::InvalidRetryPolicy));
    /// ```
    pub fn new(
        initial: Duration,
        factor: u32,
        max_retries: u32,
        max_delay: Duration,
        jitter: Jitter,
    ) -> Result<Self> {
        if factor == 0 || initial > max_delay {
            return Err(Error::InvalidRetryPolicy);
        }
        Ok(Self {
            initial,
            factor,
            max_retries,
            max_delay,
            jitter,
            seed: random_seed(),
        })
    }

    /// The same policy with `max_retries` retries.
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// The same policy with another jitter.
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The same policy drawing jitter from `seed`: equal seeds, equal delays.
    ///
    /// ```
    /// let a = floodgate::presets::genieos::retry_policy().with_seed(42);
    /// let b = floodgate::presets::genieos::retry_policy().with_seed(42);
    /// assert!((0..5).all(|n| a.delay(n, None) == b.delay(n, None)));
    /// ```
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How many retries the policy allows.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The nominal delay before the first retry.
    ///
    /// ```
    /// use floodgate::{Jitter, RetryPolicy};
    /// use std::time::Duration;
    /// let s = Duration::from_secs;
    /// let policy = RetryPolicy::new(s(1), 2, 4, s(8), Jitter::Equal)?;
    /// assert_eq!(policy.initial(), Duration::from_secs(1));
    /// assert_eq!((policy.factor(), policy.max_delay()), (2, Duration::from_secs(8)));
    /// assert_eq!(policy.jitter(), Jitter::Equal);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// What each nominal delay is multiplied by to give the next.
    pub fn factor(&self) -> u32 {
        self.factor
    }

    /// The cap on every nominal delay.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// How nominal delays are randomised.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The un-jittered delay before retry number `retry` (0 is the first),
    /// or `None` once retries are used up.
    ///
    /// ```
    /// use floodgate::presets::genieos;
    /// use std::time::Duration;
    /// assert_eq!(genieos::retry_policy().backoff(4), Some(Duration::from_secs(4)));
    /// assert_eq!(genieos::retry_policy().with_max_retries(9).backoff(8), Some(Duration::from_secs(4)));
    /// ```
    pub fn backoff(&self, retry: u32) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let cap = self.max_delay.as_nanos();
        let mut nanos = self.initial.as_nanos();
        for _ in 0..retry {
            if nanos >= cap {
                break;
            }
            nanos = nanos.saturating_mul(u128::from(self.factor));
        }
        Some(nanos_to_duration(nanos.min(cap)))
    }

    /// The wait before retry number `retry` (0 is the first): exactly
    /// `retry_after` when the server sent one, else the jittered backoff;
    /// `None` once retries are used up.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = floodgate::presets::genieos::retry_policy();
    /// assert_eq!(policy.delay(0, Some(Duration::from_secs(30))), Some(Duration::from_secs(30)));
    /// assert_eq!(policy.delay(5, Some(Duration::from_secs(1))), None);
    /// ```
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let nominal = self.backoff(retry)?;
        if let Some(exact) = retry_after {
            return Some(exact);
        }
        let nanos = nominal.as_nanos();
        let draw = split_mix(self.seed ^ u64::from(retry));
        let jittered = match self.jitter {
            Jitter::None => nanos,
            Jitter::Full => fraction_of(nanos, draw),
            Jitter::Equal => nanos - fraction_of(nanos / 2, draw),
        };
        Some(nanos_to_duration(jittered))
    }

    /// A retry sequence following this policy, for one request.
    pub fn start(&self) -> Retry {
        Retry {
            policy: self.clone(),
            retries: 0,
        }
    }
}

/// One request's retries under a [`RetryPolicy`]: ask for the next delay
/// after each rejection, passing the server's `Retry-After` if it sent one.
///
/// ```
/// use floodgate::{parse_retry_after, presets::genieos};
/// use std::time::{Duration, SystemTime};
///
/// let mut retry = genieos::retry_policy().with_seed(1).start();
/// let header = parse_retry_after("0.6", SystemTime::now())?;
/// assert_eq!(retry.next_delay(Some(header)), Some(Duration::from_millis(600)));
/// assert_eq!(retry.retries(), 1);
/// while retry.next_delay(None).is_some() {}
/// assert_eq!(retry.retries(), 5);
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Retry {
    policy: RetryPolicy,
    retries: u32,
}

impl Retry {
    /// The wait before the next retry, or `None` when the policy says stop.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        let delay = self.policy.delay(self.retries, retry_after)?;
        self.retries += 1;
        Some(delay)
    }

    /// Retries granted so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }
}

/// Reads a `Retry-After` value: whole seconds (`120`), fractional seconds
/// (`0.6`, rounded up to the nanosecond) or an HTTP date (IMF-fixdate, RFC
/// 850 or asctime form, as RFC 9110 asks recipients to accept), which
/// becomes the wait from `now` (zero if already past).
///
/// ```
/// use floodgate::{parse_retry_after, Error};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_767); // 1994-11-06T08:49:27Z
/// assert_eq!(parse_retry_after("0.6", now), Ok(Duration::from_millis(600)));
/// assert_eq!(parse_retry_after("120", now), Ok(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Ok(Duration::from_secs(10)));
/// assert_eq!(parse_retry_after("-1", now), Err(Error::InvalidRetryAfter));
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Result<Duration> {
    let value = value.trim();
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        return parse_seconds(value);
    }
    let at = parse_http_date(value).ok_or(Error::InvalidRetryAfter)?;
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(Duration::from_secs(at).saturating_sub(now))
}

/// `12`, `0.6`, `1.000000001`; digits beyond the ninth decimal round up.
fn parse_seconds(value: &str) -> Result<Duration> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(Error::InvalidRetryAfter);
    }
    if value.contains('.') && fraction.is_empty() {
        return Err(Error::InvalidRetryAfter);
    }
    let seconds: u64 = whole.parse().map_err(|_| Error::InvalidRetryAfter)?;
    let (kept, dropped) = fraction.split_at(fraction.len().min(9));
    let mut nanos: u32 = format!("{kept:0<9}")
        .parse()
        .map_err(|_| Error::InvalidRetryAfter)?;
    if dropped.bytes().any(|b| b != b'0') {
        nanos += 1;
    }
    let carry = u64::from(nanos / 1_000_000_000);
    let seconds = seconds.checked_add(carry).ok_or(Error::InvalidRetryAfter)?;
    Ok(Duration::new(seconds, nanos % 1_000_000_000))
}

/// Unix seconds of an HTTP date in any of RFC 9110's three forms.
fn parse_http_date(value: &str) -> Option<u64> {
    let tokens: Vec<&str> = value
        .split([' ', ',', '-'])
        .filter(|token| !token.is_empty())
        .collect();
    let (day, month, year, time) = match tokens.as_slice() {
        // Sun, 06 Nov 1994 08:49:37 GMT  |  Sunday, 06-Nov-94 08:49:37 GMT
        [_, day, month, year, time, "GMT"] => (*day, *month, *year, *time),
        // Sun Nov  6 08:49:37 1994
        [_, month, day, time, year] => (*day, *month, *year, *time),
        _ => return None,
    };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let year = match (year.len(), number(year)?) {
        // RFC 850's two-digit years: the nearest century to 1970-2069.
        (2, short) if short < 70 => 2000 + short,
        (2, short) => 1900 + short,
        (4, full) => full,
        _ => return None,
    };
    let month = 1 + [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|name| *name == month)? as u64;
    let mut clock = time.split(':');
    let (hour, minute, second) = (clock.next()?, clock.next()?, clock.next()?);
    if clock.next().is_some() || [hour, minute, second].iter().any(|part| part.len() != 2) {
        return None;
    }
    Civil {
        year,
        month,
        day: number(day).filter(|_| day.len() <= 2)?,
        hour: number(hour)?,
        minute: number(minute)?,
        second: number(second)?,
    }
    .to_unix()
}

/// `nanos * draw / 2^64` (draw / 2^64 is uniform in [0, 1)), for any
/// `nanos` below 2^94 (every Duration), without overflowing u128.
fn fraction_of(nanos: u128, draw: u64) -> u128 {
    let (high, low) = (nanos >> 64, nanos & u128::from(u64::MAX));
    high * u128::from(draw) + ((low * u128::from(draw)) >> 64)
}

fn nanos_to_duration(nanos: u128) -> Duration {
    // Below 2^94 ns: the seconds fit in u64.
    Duration::new(
        (nanos / 1_000_000_000) as u64,
        (nanos % 1_000_000_000) as u32,
    )
}

/// SplitMix64's output function: a well-mixed 64-bit value from any input.
fn split_mix(input: u64) -> u64 {
    // Wrapping arithmetic is the generator's definition, not an overflow.
    let mut z = input.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A per-policy random seed from std's randomly keyed hasher.
fn random_seed() -> u64 {
    RandomState::new().build_hasher().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_http_date_form() {
        let at = 784_111_777;
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(form), Some(at), "{form}");
        }
        for bad in [
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn seconds_round_up_past_nanoseconds() {
        assert_eq!(parse_seconds("0.0000000001"), Ok(Duration::from_nanos(1)));
        assert_eq!(parse_seconds("1.9999999999"), Ok(Duration::from_secs(2)));
        assert_eq!(
            parse_seconds("0.10000000000"),
            Ok(Duration::from_millis(100))
        );
        for bad in ["1.", ".5", "1.2.3", "1e3", "99999999999999999999"] {
            assert_eq!(parse_seconds(bad), Err(Error::InvalidRetryAfter), "{bad}");
        }
    }
}
