//! Limits written as text, the notation of slowapi, Flask-Limiter and the
//! `limits` library: `"30/second"`, `"600 per minute"`, `"10/2 minutes"`,
//! several separated by `;` (`"5/minute;100/hour"`).

use std::time::Duration;

/// One limit: `count` requests per `period`, or why the text is not one.
pub(crate) fn parse_one(text: &str) -> Result<(u64, Duration), String> {
    let refuse = || {
        format!(
            "{text:?} is not a limit: write <count>/<unit> or <count> per <unit>, \
             with a unit of second, minute, hour or day (\"30/second\", \"600 per minute\", \"10/2 minutes\")"
        )
    };
    let lowered = text.trim().to_ascii_lowercase();
    let (count, per) = match lowered.split_once('/') {
        Some(split) => split,
        None => lowered.split_once(" per ").ok_or_else(refuse)?,
    };
    let count = number(count.trim()).ok_or_else(refuse)?;
    let per = per.trim();
    // An optional multiple before the unit: "2 minutes", "2minutes".
    let digits = per.bytes().take_while(u8::is_ascii_digit).count();
    let (multiple, unit) = per.split_at(digits);
    let multiple = if multiple.is_empty() {
        1
    } else {
        number(multiple).ok_or_else(refuse)?
    };
    let seconds = match unit.trim() {
        "s" | "sec" | "second" | "seconds" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        _ => return Err(refuse()),
    };
    let period = multiple.checked_mul(seconds).ok_or_else(refuse)?;
    Ok((count, Duration::from_secs(period)))
}

/// Every limit of `text`, in order, separated by `;`.
pub(crate) fn parse_many(text: &str) -> Result<Vec<(u64, Duration)>, String> {
    text.split(';').map(parse_one).collect()
}

/// Decimal digits only (no sign, no `_`): what a limit's numbers look like.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
