//! The error type every fallible floodgate call returns.

use std::fmt;

/// Why a floodgate call refused its input. A call that returns an error has
/// changed no state.
///
/// ```
/// use floodgate::{Error, Quota};
/// assert_eq!(Quota::per_second(0), Err(Error::ZeroCount));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// A quota's count of requests per period was zero.
    ZeroCount,
    /// A quota's period was zero.
    ZeroPeriod,
    /// A quota's burst capacity was zero.
    ZeroBurst,
    /// The period does not fit in 64 bits of nanoseconds (about 584 years).
    PeriodTooLong,
    /// The rate is above one request per nanosecond (10^9 per second).
    RateTooHigh,
    /// Burst times the emission interval exceeds the span the state word can
    /// hold (2^59 ticks: about 18 years of refill time at one tick per ns).
    BurstTooLarge,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::ZeroCount => "quota count must be at least 1",
            Error::ZeroPeriod => "quota period must be at least 1 ns",
            Error::ZeroBurst => "quota burst must be at least 1",
            Error::PeriodTooLong => "quota period must fit in 2^64 ns",
            Error::RateTooHigh => "quota rate must not exceed 1 per ns (1e9 per second)",
            Error::BurstTooLarge => "quota burst x emission interval exceeds 2^59 ticks",
        })
    }
}

impl std::error::Error for Error {}

/// Shorthand for results whose error is [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
