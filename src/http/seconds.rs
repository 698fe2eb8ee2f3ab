//! Durations as the decimal seconds clients read (`Retry-After: 0.6`),
//! always rounded up so a client never retries early.

/// How `Retry-After` (and `retry_after_seconds` in a body) writes a wait.
///
/// Both forms round **up**, so a wait is never reported shorter than it is
/// and a denial never says 0.
///
/// ```
/// use floodgate::RetryAfterFormat;
/// use std::time::Duration;
///
/// let wait = Duration::from_millis(533);
/// assert_eq!(RetryAfterFormat::Fractional { decimals: 1 }.format(wait), "0.6");
/// assert_eq!(RetryAfterFormat::Fractional { decimals: 3 }.format(wait), "0.533");
/// assert_eq!(RetryAfterFormat::WholeSeconds.format(wait), "1");
/// assert_eq!(RetryAfterFormat::Fractional { decimals: 1 }.format(Duration::from_secs(2)), "2");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RetryAfterFormat {
    /// Seconds with up to `decimals` digits after the point (1 to 9; 0 acts
    /// as [`WholeSeconds`](Self::WholeSeconds), above 9 as 9), trailing
    /// zeros dropped: `0.6`, `2`, `1.25`.
    Fractional {
        /// Digits after the decimal point.
        decimals: u8,
    },
    /// Whole seconds, the only form RFC 9110 defines: `1`, `60`.
    WholeSeconds,
}

impl Default for RetryAfterFormat {
    /// One decimal (`Retry-After: 0.6`): precise enough to pace a client,
    /// short enough to read.
    fn default() -> Self {
        Self::Fractional { decimals: 1 }
    }
}

impl RetryAfterFormat {
    /// `wait` in this format, rounded up.
    pub fn format(self, wait: std::time::Duration) -> String {
        let nanos = wait.as_nanos();
        let decimals = match self {
            Self::Fractional { decimals } => u32::from(decimals.min(9)),
            Self::WholeSeconds => 0,
        };
        let unit = 10u128.pow(9 - decimals);
        let units = nanos.div_ceil(unit);
        let scale = 10u128.pow(decimals);
        let (whole, fraction) = (units / scale, units % scale);
        if fraction == 0 {
            return whole.to_string();
        }
        let digits = format!("{fraction:0width$}", width = decimals as usize);
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// Whole seconds, rounded up: the `t` of the `RateLimit` field.
pub(crate) fn whole_seconds_up(nanos: u64) -> u64 {
    nanos.div_ceil(1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rounds_up_at_every_precision() {
        let one_ns = Duration::from_nanos(1);
        assert_eq!(RetryAfterFormat::default().format(one_ns), "0.1");
        assert_eq!(RetryAfterFormat::WholeSeconds.format(one_ns), "1");
        let nine = RetryAfterFormat::Fractional { decimals: 9 };
        assert_eq!(nine.format(one_ns), "0.000000001");
        assert_eq!(
            RetryAfterFormat::Fractional { decimals: 0 }.format(Duration::from_millis(1_001)),
            "2"
        );
        assert_eq!(
            RetryAfterFormat::Fractional { decimals: 2 }.format(Duration::from_millis(1_201)),
            "1.21"
        );
        assert_eq!(
            RetryAfterFormat::Fractional { decimals: 2 }.format(Duration::from_millis(1_200)),
            "1.2"
        );
        assert_eq!(RetryAfterFormat::default().format(Duration::ZERO), "0");
        assert_eq!(whole_seconds_up(1), 1);
        assert_eq!(whole_seconds_up(2_000_000_000), 2);
    }

    #[test]
    fn the_longest_wait_does_not_overflow() {
        let longest = Duration::new(u64::MAX, 999_999_999);
        assert_eq!(
            RetryAfterFormat::WholeSeconds.format(longest),
            "18446744073709551616"
        );
    }
}
