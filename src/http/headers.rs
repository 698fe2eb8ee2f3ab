//! What clients read: response header fields and 429 bodies rendered from a
//! [`Decision`].
//!
//! Rendering allocates strings; it runs once per response, off the check
//! path. Wall-clock time enters only here (for `X-RateLimit-Reset`): the
//! limiters themselves run on a monotonic timeline.
//!
//! # The IETF draft fields of a token bucket
//!
//! The draft (draft-ietf-httpapi-ratelimit-headers-10) describes a quota of
//! `q` units per window of `w` seconds, and the current state as `r` units
//! remaining and `t` seconds until the quota resets. A token bucket has no
//! window: it refills continuously. [`RateLimitPolicy::from_quota`] therefore
//! advertises what a client can observe of it:
//!
//! * `q` is the burst: the most a full bucket admits at once, and the most
//!   `r` (the whole requests left in the bucket) can ever be;
//! * `w` is the time an empty bucket takes to be full again, burst x
//!   emission interval, plus the lockout if hammering can extend it, in whole
//!   seconds rounded up (at least 1); `t`, the seconds until the bucket is
//!   full again (rounded up), can never be more.
//!
//! So `r <= q` and `t <= w` hold in every `RateLimit` field rendered from a
//! check, peek or refund of that quota, and `q / w` never overstates the
//! rate. A 30/s bucket with a burst of 60 is `q=60;w=2`, not `q=30;w=1`
//! (which a bucket reading `r=59;t=2` would contradict). The one exception
//! is a reservation ([`Limiter::reserve`](crate::Limiter::reserve)): it
//! borrows capacity for the requests it delays, so while they wait `r` is 0
//! and `t` counts their delay too, and may exceed `w`.

use super::{Civil, RetryAfterFormat, Scope};
use crate::core::clock::saturating_nanos;
use crate::core::decision::{Decision, Outcome};
use crate::core::error::{Error, Result};
use crate::core::quota::Quota;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A named quota policy for the IETF draft `RateLimit-Policy` and
/// `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers-10):
/// `RateLimit-Policy: "default";q=100;w=60`.
///
/// ```
/// use floodgate::{Error, RateLimitPolicy, Quota};
/// use std::time::Duration;
///
/// let policy = RateLimitPolicy::new("workspace", 600, Duration::from_secs(60))?;
/// assert_eq!(policy.field(), r#""workspace";q=600;w=60"#);
/// assert_eq!(RateLimitPolicy::from_quota("key", &Quota::per_second(30)?)?.field(), r#""key";q=30;w=1"#);
/// assert_eq!(RateLimitPolicy::new("bad\n", 1, Duration::from_secs(1)).err(), Some(Error::InvalidPolicyName));
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RateLimitPolicy {
    name: String,
    quota: u64,
    window_seconds: u64,
}

impl RateLimitPolicy {
    /// `quota` units per `window`; the window is written in whole seconds,
    /// rounded up (at least 1). The name must be printable ASCII (it is
    /// written as a structured-field string). For a token bucket use
    /// [`from_quota`](Self::from_quota). A [`SlidingWindow`](crate::SlidingWindow)
    /// of `limit` per `window` is `new(name, limit, window)`; its `t` is the
    /// time until its counts have slid out, which can be up to two windows.
    pub fn new(name: &str, quota: u64, window: Duration) -> Result<Self> {
        if !name.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(Error::InvalidPolicyName);
        }
        let window_seconds = u64::try_from(window.as_nanos().div_ceil(1_000_000_000))
            .unwrap_or(u64::MAX)
            .max(1);
        Ok(Self {
            name: name.to_owned(),
            quota,
            window_seconds,
        })
    }

    /// The policy of a token-bucket [`Quota`]: its burst per the time an
    /// empty bucket takes to refill (lockout included), so the `RateLimit`
    /// field's `r` and `t` stay within `q` and `w` (see the module docs).
    ///
    /// ```
    /// use floodgate::{Quota, RateLimitPolicy};
    /// use std::time::Duration;
    ///
    /// // GenieOS per-key: 30/s with bursts of 60 refills in 2 s.
    /// let key = Quota::per_second(30)?.with_burst(60)?;
    /// assert_eq!(RateLimitPolicy::from_quota("key", &key)?.field(), r#""key";q=60;w=2"#);
    /// let hourly = Quota::per_hour(100)?.with_burst(10)?; // 36 s per request
    /// assert_eq!(RateLimitPolicy::from_quota("h", &hourly)?.field(), r#""h";q=10;w=360"#);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn from_quota(name: &str, quota: &Quota) -> Result<Self> {
        let refill = Duration::from_nanos(quota.longest_refill_ns());
        Self::new(name, quota.burst(), refill)
    }

    /// The `RateLimit-Policy` field value.
    pub fn field(&self) -> String {
        format!(
            "{};q={};w={}",
            quoted(&self.name),
            self.quota,
            self.window_seconds
        )
    }
}

/// A structured-field string: quoted, with `"` and `\` escaped.
fn quoted(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Which header fields to render from a decision, and how.
///
/// By default: `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
/// `X-RateLimit-Reset` (ISO-8601 UTC), `X-RateLimit-Scope`,
/// and `Retry-After` when denied, with one decimal rounded up. Add a
/// [`RateLimitPolicy`] to also render the IETF draft `RateLimit-Policy` and
/// `RateLimit` fields.
///
/// ```
/// use floodgate::{Headers, Limiter, ManualClock, Quota, Scope};
/// use std::time::Duration;
///
/// let limiter = Limiter::builder(Quota::per_second(30)?.with_burst(60)?)
///     .clock(ManualClock::new())
///     .build();
/// for _ in 0..60 { limiter.check(1); }
/// let denied = limiter.check(1);
/// let now_unix_ns = 1_776_688_439_500_000_000; // 2026-04-20T12:33:59.5Z
/// let headers = Headers::new().render_at(&denied, Scope::Key, now_unix_ns);
/// assert_eq!(headers.get("Retry-After"), Some("0.1"));
/// assert_eq!(headers.get("X-RateLimit-Limit"), Some("60"));
/// assert_eq!(headers.get("X-RateLimit-Remaining"), Some("0"));
/// assert_eq!(headers.get("X-RateLimit-Reset"), Some("2026-04-20T12:34:02Z"));
/// assert_eq!(headers.get("X-RateLimit-Scope"), Some("key"));
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Headers {
    legacy: bool,
    policy: Option<RateLimitPolicy>,
    retry_after: RetryAfterFormat,
}

impl Default for Headers {
    fn default() -> Self {
        Self::new()
    }
}

impl Headers {
    /// `X-RateLimit-*` and `Retry-After` with one decimal (the set
    /// [`presets::genieos::headers`](crate::presets::genieos::headers) names).
    pub fn new() -> Self {
        Self {
            legacy: true,
            policy: None,
            retry_after: RetryAfterFormat::default(),
        }
    }

    /// Also render `RateLimit-Policy` and `RateLimit` for `policy`.
    ///
    /// ```
    /// use floodgate::{Headers, ManualClock, RateLimitPolicy, Scope, SlidingWindow};
    /// use std::time::Duration;
    /// let window = SlidingWindow::builder(100, Duration::from_secs(60))
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// window.check(58);
    /// let decision = window.check_at(0, 43_000_000_000);
    /// let headers = Headers::new()
    ///     .with_policy(RateLimitPolicy::new("default", 100, Duration::from_secs(60))?)
    ///     .render_at(&decision, Scope::Workspace, 0);
    /// assert_eq!(headers.get("RateLimit-Policy"), Some(r#""default";q=100;w=60"#));
    /// assert_eq!(headers.get("RateLimit"), Some(r#""default";r=42;t=77"#));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn with_policy(mut self, policy: RateLimitPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Leave out the `X-RateLimit-*` fields (render only the draft fields
    /// and `Retry-After`).
    pub fn without_legacy_fields(mut self) -> Self {
        self.legacy = false;
        self
    }

    /// How `Retry-After` writes the wait.
    ///
    /// ```
    /// use floodgate::{Headers, Limiter, ManualClock, Quota, RetryAfterFormat, Scope};
    /// let limiter = Limiter::builder(Quota::per_second(30)?).clock(ManualClock::new()).build();
    /// limiter.check(30);
    /// let headers = Headers::new()
    ///     .with_retry_after_format(RetryAfterFormat::WholeSeconds)
    ///     .render_at(&limiter.check(1), Scope::Key, 0);
    /// assert_eq!(headers.get("Retry-After"), Some("1"));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn with_retry_after_format(mut self, format: RetryAfterFormat) -> Self {
        self.retry_after = format;
        self
    }

    /// Renders `decision` from `scope`, with `now` the current wall-clock
    /// time (a time before 1970 counts as 1970).
    pub fn render(&self, decision: &Decision, scope: Scope, now: SystemTime) -> RenderedHeaders {
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let now_unix_ns = saturating_nanos(since_epoch);
        self.render_at(decision, scope, now_unix_ns)
    }

    /// [`render`](Self::render) with the wall-clock time as Unix nanoseconds.
    ///
    /// `X-RateLimit-Reset` is the instant the limit is fully reset
    /// (`now + reset_after`), rounded up to the whole second.
    pub fn render_at(
        &self,
        decision: &Decision,
        scope: Scope,
        now_unix_ns: u64,
    ) -> RenderedHeaders {
        let mut fields = Vec::with_capacity(7);
        if decision.outcome() == Outcome::Denied {
            if let Some(wait) = decision.retry_after() {
                fields.push(("Retry-After", self.retry_after.format(wait)));
            }
        }
        if self.legacy {
            let reset_unix_ns = now_unix_ns.saturating_add(decision.reset_after_ns());
            let reset = Civil::from_unix(super::seconds::whole_seconds_up(reset_unix_ns));
            fields.push(("X-RateLimit-Limit", decision.limit().to_string()));
            fields.push(("X-RateLimit-Remaining", decision.remaining().to_string()));
            fields.push(("X-RateLimit-Reset", reset.iso8601()));
            fields.push(("X-RateLimit-Scope", scope.as_str().to_owned()));
        }
        if let Some(policy) = &self.policy {
            fields.push(("RateLimit-Policy", policy.field()));
            fields.push((
                "RateLimit",
                format!(
                    "{};r={};t={}",
                    quoted(&policy.name),
                    decision.remaining(),
                    super::seconds::whole_seconds_up(decision.reset_after_ns())
                ),
            ));
        }
        RenderedHeaders { fields }
    }
}

/// Header fields rendered by [`Headers`], in a stable order.
///
/// ```
/// use floodgate::{Headers, Limiter, Quota, Scope};
/// let decision = Limiter::builder(Quota::per_second(15)?).build().check(1);
/// let headers = Headers::new().render_at(&decision, Scope::Token, 0);
/// for (name, value) in headers.iter() {
///     assert!(name.starts_with("X-RateLimit-") && !value.is_empty());
/// }
/// assert_eq!(headers.len(), 4); // no Retry-After when admitted
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RenderedHeaders {
    fields: Vec<(&'static str, String)>,
}

impl RenderedHeaders {
    /// The value of field `name` (ASCII case-insensitive), if rendered.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every field as `(name, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.fields
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
    }

    /// How many fields were rendered.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether no field was rendered.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}
