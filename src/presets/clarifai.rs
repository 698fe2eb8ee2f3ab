//! Clarifai, as its rate-limit page describes it (../shared/seeds/002):
//! 15 requests per second for every user unless agreed otherwise, and a
//! throttled request answered with status `CONN_THROTTLED` (11005),
//! "exceeded limit of 15 requests per second".

use crate::{ErrorBody, LimitFigure, Result};

/// A Clarifai-shaped body: status code `CONN_THROTTLED`, description
/// "Making too many requests" and the given `details` template, whose
/// `{limit}` is the rate per second (not the burst):
/// `{"status":{"code":"CONN_THROTTLED","description":..,"details":..,"req_id":..}}`.
/// For the numeric code write `.field_number("code", 11005)`; for another
/// description `.field_text("description", ..)`.
///
/// ```
/// use floodgate::{presets::clarifai, Limiter, ManualClock, Quota, Scope};
/// let quota = Quota::per_second(15)?.with_burst(30)?;
/// let limiter = Limiter::builder(quota).clock(ManualClock::new()).build();
/// limiter.check(30);
/// let body = clarifai::error_body("exceeded limit of {limit} requests per second")?
///     .field_number("code", 11005)
///     .render(&limiter.check(1), Scope::Key, "abc");
/// assert_eq!(
///     body,
///     r#"{"status":{"code":11005,"description":"Making too many requests","details":"exceeded limit of 15 requests per second","req_id":"abc"}}"#
/// );
/// # Ok::<(), floodgate::Error>(())
/// ```
pub fn error_body(details: &str) -> Result<ErrorBody> {
    Ok(ErrorBody::new("status")
        .field_text("code", "CONN_THROTTLED")
        .field_text("description", "Making too many requests")
        .field_message("details", details)?
        .field_request_id("req_id")
        .with_limit_figure(LimitFigure::RatePerSecond))
}
