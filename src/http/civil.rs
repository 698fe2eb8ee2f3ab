//! Unix time to and from the proleptic Gregorian calendar (UTC), for the
//! ISO-8601 `X-RateLimit-Reset` and HTTP dates in `Retry-After`.
//!
//! The conversion counts in 400-year eras of exactly 146,097 days, so it is
//! exact for every date from 1970 on without tables or floating point.

const SECONDS_PER_DAY: u64 = 86_400;
const DAYS_PER_ERA: u64 = 146_097;
/// Days from 0000-03-01 (the start of an era, counting years from March so
/// the leap day falls last) to 1970-01-01.
const EPOCH_SHIFT_DAYS: u64 = 719_468;

/// A UTC calendar date and time of day.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Civil {
    pub(crate) year: u64,
    pub(crate) month: u64,
    pub(crate) day: u64,
    pub(crate) hour: u64,
    pub(crate) minute: u64,
    pub(crate) second: u64,
}

impl Civil {
    /// The calendar date and time `unix_seconds` after 1970-01-01T00:00:00Z.
    pub(crate) fn from_unix(unix_seconds: u64) -> Self {
        let days = unix_seconds / SECONDS_PER_DAY;
        let of_day = unix_seconds % SECONDS_PER_DAY;
        // Cannot overflow: unix_seconds / 86_400 is far below u64::MAX - shift.
        let shifted = days + EPOCH_SHIFT_DAYS;
        let era = shifted / DAYS_PER_ERA;
        let day_of_era = shifted % DAYS_PER_ERA;
        // Years of 365 days, minus the leap days before this one in the era.
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        // Months from March: 31,30,31,30,31 repeat in 153-day groups of five.
        let march_month = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * march_month + 2) / 5 + 1;
        let month = if march_month < 10 {
            march_month + 3
        } else {
            march_month - 9
        };
        let year = era * 400 + year_of_era + u64::from(month <= 2);
        Self {
            year,
            month,
            day,
            hour: of_day / 3_600,
            minute: of_day / 60 % 60,
            second: of_day % 60,
        }
    }

    /// Seconds since 1970-01-01T00:00:00Z, or `None` for a date before it or
    /// fields out of range (a day beyond the month's end included).
    pub(crate) fn to_unix(self) -> Option<u64> {
        let valid = (1..=12).contains(&self.month)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60;
        if !valid {
            return None;
        }
        let year = self.year.checked_sub(u64::from(self.month <= 2))?;
        let era = year / 400;
        let year_of_era = year % 400;
        let march_month = (self.month + 9) % 12;
        let day_of_year = (153 * march_month + 2) / 5 + self.day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era
            .checked_mul(DAYS_PER_ERA)?
            .checked_add(day_of_era)?
            .checked_sub(EPOCH_SHIFT_DAYS)?;
        days.checked_mul(SECONDS_PER_DAY)?
            .checked_add(self.hour * 3_600 + self.minute * 60 + self.second)
    }

    /// `2026-04-20T12:34:00Z`.
    pub(crate) fn iso8601(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn civil(year: u64, month: u64, day: u64, hour: u64, minute: u64, second: u64) -> Civil {
        Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(Civil::from_unix(0), civil(1970, 1, 1, 0, 0, 0));
        assert_eq!(Civil::from_unix(951_782_400), civil(2000, 2, 29, 0, 0, 0));
        assert_eq!(
            Civil::from_unix(1_776_688_440).iso8601(),
            "2026-04-20T12:34:00Z"
        );
        assert_eq!(
            Civil::from_unix(4_107_542_399),
            civil(2100, 2, 28, 23, 59, 59)
        );
        assert_eq!(Civil::from_unix(4_107_542_400), civil(2100, 3, 1, 0, 0, 0));
    }

    #[test]
    fn round_trips_every_day_for_a_thousand_years() {
        let mut previous = None;
        for day in 0..366_000u64 {
            let seconds = day * SECONDS_PER_DAY + day % SECONDS_PER_DAY;
            let date = Civil::from_unix(seconds);
            assert_eq!(date.to_unix(), Some(seconds));
            if let Some(previous) = previous {
                assert!(date > previous);
            }
            previous = Some(date);
        }
    }

    #[test]
    fn refuses_impossible_dates() {
        assert_eq!(civil(2026, 2, 29, 0, 0, 0).to_unix(), None);
        assert_eq!(civil(2024, 2, 30, 0, 0, 0).to_unix(), None);
        assert_eq!(civil(1969, 12, 31, 23, 59, 59).to_unix(), None);
        assert_eq!(civil(2026, 13, 1, 0, 0, 0).to_unix(), None);
        assert_eq!(civil(2026, 4, 20, 24, 0, 0).to_unix(), None);
        assert!(civil(2024, 2, 29, 0, 0, 0).to_unix().is_some());
    }
}
