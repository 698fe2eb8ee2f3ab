//! GenieOS, as its rate-limit page describes it (../shared/seeds/001): a
//! token bucket per API key and a sliding window per workspace, sized by
//! plan; 429s with `X-RateLimit-*` headers, a fractional `Retry-After` and a
//! JSON error body; a warning zone; the SDKs' retry policy.

use crate::{
    ErrorBody, Headers, Jitter, LayerKeyKind, MonotonicClock, Plans, PlansBuilder, Quota, Result,
    RetryAfterFormat, RetryPolicy, TierLimits,
};
use std::time::Duration;

/// GenieOS's warning zone: `X-RateLimit-Remaining` at or below 20 % of the
/// limit ("log it, slow down, scale out"), for
/// [`Decision::in_warning_zone`](crate::Decision::in_warning_zone).
///
/// ```
/// use floodgate::{presets::genieos, Limiter, ManualClock, Quota};
/// let limiter = Limiter::builder(Quota::per_second(30)?.with_burst(60)?).clock(ManualClock::new()).build();
/// assert!(limiter.check(48).in_warning_zone(genieos::WARNING_ZONE_PERCENT)); // 12 of 60 left
/// # Ok::<(), floodgate::Error>(())
/// ```
pub const WARNING_ZONE_PERCENT: u64 = 20;

/// How GenieOS writes a wait: seconds with one decimal (`Retry-After: 0.6`).
pub const RETRY_AFTER_FORMAT: RetryAfterFormat = RetryAfterFormat::Fractional { decimals: 1 };

/// The plan table: per key 60, 30, 60 and 120 requests per second for
/// Sandbox, Hobby, Pro and Scale, each with a burst of twice its rate (the
/// page gives 60 for Hobby's 30/s); per workspace unlimited, 600, 1,800 and
/// 6,000 per minute; Sandbox keys are not limited at all. Enterprise is
/// bespoke: add it with [`PlansBuilder::tier`].
///
/// ```
/// use floodgate::{presets::genieos, ManualClock, Plans};
/// let plans: Plans<str, u64, _> = genieos::plans()?.clock(ManualClock::new()).build()?;
/// let hobby = plans.tier("hobby").unwrap();
/// assert_eq!(plans.check(hobby, "gos_live_a", &7, 1)?.decision().limit(), 60);
/// # Ok::<(), floodgate::Error>(())
/// ```
pub fn plans<K, W>() -> Result<PlansBuilder<K, W, MonotonicClock>>
where
    K: LayerKeyKind + ?Sized,
    W: LayerKeyKind + ?Sized,
{
    let tier = |per_second: Option<u64>, per_workspace| -> Result<TierLimits> {
        let per_key = per_second
            .map(|rate| Quota::per_second(rate)?.with_burst(2 * rate))
            .transpose()?;
        Ok(TierLimits {
            per_key,
            per_workspace,
        })
    };
    Ok(Plans::builder(Duration::from_secs(60))
        .tier("sandbox", tier(None, None)?)
        .tier("hobby", tier(Some(30), Some(600))?)
        .tier("pro", tier(Some(60), Some(1_800))?)
        .tier("scale", tier(Some(120), Some(6_000))?))
}

/// A GenieOS-shaped body with your `code` and `message` template:
/// `{"error":{"type":"rate_limit_exceeded","code":..,"message":..,"retry_after_seconds":0.6,"request_id":..}}`.
/// Change the type with `.field_text("type", ..)`.
///
/// ```
/// use floodgate::{presets::genieos, Error};
/// assert!(genieos::error_body("ip_rate_limit", "Slow down ({scope}).").is_ok());
/// assert_eq!(genieos::error_body("x", "{oops}").err(), Some(Error::InvalidTemplate));
/// ```
pub fn error_body(code: &str, message: &str) -> Result<ErrorBody> {
    Ok(ErrorBody::new("error")
        .field_text("type", "rate_limit_exceeded")
        .field_text("code", code)
        .field_message("message", message)?
        .field_retry_after("retry_after_seconds")
        .field_request_id("request_id")
        .with_retry_after_format(RETRY_AFTER_FORMAT))
}

/// The per-key body: code `key_rate_limit`, "API key exceeded its rate
/// limit. Retry after {retry_after}s.".
///
/// ```
/// use floodgate::{presets::genieos, Limiter, ManualClock, Quota, Scope};
///
/// let limiter = Limiter::builder(Quota::per_second(30)?.with_burst(60)?).clock(ManualClock::new()).build();
/// limiter.check(60);
/// let body = genieos::key_body().render(&limiter.check(1), Scope::Key, "req_01JABC");
/// assert_eq!(
///     body,
///     r#"{"error":{"type":"rate_limit_exceeded","code":"key_rate_limit","message":"API key exceeded its rate limit. Retry after 0.1s.","retry_after_seconds":0.1,"request_id":"req_01JABC"}}"#
/// );
/// # Ok::<(), floodgate::Error>(())
/// ```
pub fn key_body() -> ErrorBody {
    error_body(
        "key_rate_limit",
        "API key exceeded its rate limit. Retry after {retry_after}s.",
    )
    .expect("a valid built-in template")
}

/// The per-workspace body: code `workspace_rate_limit`, "Workspace exceeded
/// its rate limit. Retry after {retry_after}s.".
///
/// ```
/// use floodgate::{presets::genieos, ManualClock, Scope, SlidingWindow};
/// use std::time::Duration;
/// let workspace = SlidingWindow::builder(600, Duration::from_secs(60)).clock(ManualClock::new()).build()?;
/// workspace.check(600);
/// let body = genieos::workspace_body().render(&workspace.check(1), Scope::Workspace, "req_1");
/// assert!(body.contains(r#""retry_after_seconds":60.1"#));
/// # Ok::<(), floodgate::Error>(())
/// ```
pub fn workspace_body() -> ErrorBody {
    error_body(
        "workspace_rate_limit",
        "Workspace exceeded its rate limit. Retry after {retry_after}s.",
    )
    .expect("a valid built-in template")
}

/// The response headers: `X-RateLimit-Limit`, `-Remaining`, `-Reset`
/// (ISO-8601 UTC), `-Scope`, and `Retry-After` with one decimal.
///
/// ```
/// use floodgate::{presets::genieos, Limiter, ManualClock, Quota, Scope};
/// let limiter = Limiter::builder(Quota::per_second(30)?.with_burst(60)?).clock(ManualClock::new()).build();
/// limiter.check(60);
/// let headers = genieos::headers().render_at(&limiter.check(1), Scope::Key, 0);
/// assert_eq!(headers.get("Retry-After"), Some("0.1"));
/// assert_eq!(headers.get("X-RateLimit-Scope"), Some("key"));
/// # Ok::<(), floodgate::Error>(())
/// ```
pub fn headers() -> Headers {
    Headers::new().with_retry_after_format(RETRY_AFTER_FORMAT)
}

/// The SDKs' retry policy: the server's `Retry-After` exactly, else 250 ms,
/// 500 ms, 1 s, 2 s, 4 s with equal jitter, five retries.
///
/// ```
/// use floodgate::{presets::genieos, Jitter};
/// use std::time::Duration;
/// let policy = genieos::retry_policy().with_jitter(Jitter::None);
/// let delays: Vec<_> = (0..6).map(|n| policy.delay(n, None)).collect();
/// let ms = |n| Some(Duration::from_millis(n));
/// assert_eq!(delays, [ms(250), ms(500), ms(1_000), ms(2_000), ms(4_000), None]);
/// ```
pub fn retry_policy() -> RetryPolicy {
    RetryPolicy::new(
        Duration::from_millis(250),
        2,
        5,
        Duration::from_secs(4),
        Jitter::Equal,
    )
    .expect("a valid built-in policy")
}
