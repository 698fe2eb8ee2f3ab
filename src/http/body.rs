//! The JSON body of a 429: an envelope object whose fields a caller lays out.

use super::json::push_string;
use super::scope::Scope;
use super::seconds::RetryAfterFormat;
use super::template::{Field, Template};
use crate::core::decision::{Decision, Outcome};
use crate::core::error::Result;

/// The JSON error body a rejected request gets: `{"<envelope>":{...}}` with
/// the fields you add, in the order you first add them.
///
/// A field holds fixed text or a fixed number, or is filled per response:
/// the message explaining the denial, the wait in seconds (a JSON number,
/// `null` when there is none) or the request id. Messages are templates:
/// `{retry_after}` (seconds, in the body's [`RetryAfterFormat`]; a cost that
/// can never fit gets its own message, see
/// [`ErrorBody::with_cannot_fit_message`]), `{limit}` (see [`LimitFigure`]),
/// `{remaining}`, `{scope}`; `{{` and `}}` for braces. Every name and text is
/// JSON-escaped.
///
/// The providers' shapes in [`presets`](crate::presets) are built this way.
///
/// ```
/// use floodgate::{ErrorBody, Limiter, ManualClock, Quota, Scope};
///
/// let limiter = Limiter::builder(Quota::per_second(30)?.with_burst(60)?)
///     .clock(ManualClock::new())
///     .build();
/// limiter.check(60);
/// let body = ErrorBody::new("error")
///     .field_text("code", "too_many_requests")
///     .field_message("message", "{scope} limit of {limit} reached, retry after {retry_after}s")?
///     .field_retry_after("retry_after")
///     .field_request_id("id");
/// assert_eq!(
///     body.render(&limiter.check(1), Scope::Key, "req_1"),
///     r#"{"error":{"code":"too_many_requests","message":"key limit of 60 reached, retry after 0.1s","retry_after":0.1,"id":"req_1"}}"#
/// );
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ErrorBody {
    envelope: String,
    fields: Vec<(String, Value)>,
    limit_figure: LimitFigure,
    retry_after: RetryAfterFormat,
    /// Replaces every message for a cost above the burst, which no wait can fix.
    cannot_fit: Template,
}

/// What a message's `{limit}` prints.
///
/// ```
/// use floodgate::{ErrorBody, LimitFigure, Limiter, ManualClock, Quota, Scope};
/// let limiter = Limiter::builder(Quota::per_second(15)?.with_burst(30)?).clock(ManualClock::new()).build();
/// limiter.check(30);
/// let denied = limiter.check(1);
/// let body = ErrorBody::new("status").field_message("details", "limit {limit}")?;
/// assert_eq!(body.render(&denied, Scope::Key, ""), r#"{"status":{"details":"limit 30"}}"#);
/// let body = body.with_limit_figure(LimitFigure::RatePerSecond);
/// assert_eq!(body.render(&denied, Scope::Key, ""), r#"{"status":{"details":"limit 15"}}"#);
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum LimitFigure {
    /// The decision's limit: a bucket's burst (what `X-RateLimit-Limit`
    /// says), a window's count.
    #[default]
    Burst,
    /// The refill rate in requests per second, whatever the burst: a
    /// fraction is cut to three significant digits (5 per 3 s is `1.66`),
    /// never rounded up. A decision with no refill rate (a sliding window's,
    /// or one read back from the C ABI's `fg_decision`, which has no rate
    /// field) prints its limit.
    RatePerSecond,
}

/// What one field holds.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Value {
    Text(String),
    Number(u64),
    Message(Template),
    RetryAfter,
    RequestId,
}

/// The default message for [`Outcome::CannotFit`].
const CANNOT_FIT: &str =
    "Request cost exceeds the {scope} limit of {limit}; it can never be admitted.";

impl ErrorBody {
    /// A body with no fields yet inside the object named `envelope`.
    ///
    /// ```
    /// use floodgate::{ErrorBody, Limiter, Quota, Scope};
    /// let decision = Limiter::builder(Quota::per_second(1)?).build().check(1);
    /// assert_eq!(ErrorBody::new("error").render(&decision, Scope::Key, "r"), r#"{"error":{}}"#);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn new(envelope: &str) -> Self {
        Self {
            envelope: envelope.to_owned(),
            fields: Vec::new(),
            limit_figure: LimitFigure::default(),
            retry_after: RetryAfterFormat::default(),
            cannot_fit: Template::parse(CANNOT_FIT).expect("a valid built-in template"),
        }
    }

    /// Sets field `name` to `value`: in its place if the body has that
    /// field, else after the others.
    fn field(mut self, name: &str, value: Value) -> Self {
        match self.fields.iter_mut().find(|(known, _)| known == name) {
            Some((_, existing)) => *existing = value,
            None => self.fields.push((name.to_owned(), value)),
        }
        self
    }

    /// Sets field `name` to the string `value` (`"code":"CONN_THROTTLED"`);
    /// a field already set keeps its place.
    pub fn field_text(self, name: &str, value: &str) -> Self {
        self.field(name, Value::Text(value.to_owned()))
    }

    /// Sets field `name` to the number `value` (`"code":11005`).
    ///
    /// ```
    /// use floodgate::{ErrorBody, Limiter, Quota, Scope};
    /// let decision = Limiter::builder(Quota::per_second(1)?).build().check(1);
    /// let body = ErrorBody::new("status").field_text("code", "X").field_number("code", 11005);
    /// assert_eq!(body.render(&decision, Scope::Key, "r"), r#"{"status":{"code":11005}}"#);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn field_number(self, name: &str, value: u64) -> Self {
        self.field(name, Value::Number(value))
    }

    /// Sets field `name` to the message explaining the decision, from
    /// `template`.
    ///
    /// ```
    /// use floodgate::{Error, ErrorBody};
    /// assert!(ErrorBody::new("error").field_message("message", "Slow down ({scope}).").is_ok());
    /// assert_eq!(ErrorBody::new("error").field_message("message", "{oops}").err(), Some(Error::InvalidTemplate));
    /// ```
    pub fn field_message(self, name: &str, template: &str) -> Result<Self> {
        Ok(self.field(name, Value::Message(Template::parse(template)?)))
    }

    /// Sets field `name` to the wait in seconds, a JSON number in the body's
    /// [`RetryAfterFormat`], or `null` when the decision has none.
    pub fn field_retry_after(self, name: &str) -> Self {
        self.field(name, Value::RetryAfter)
    }

    /// Sets field `name` to the id of the request answered.
    pub fn field_request_id(self, name: &str) -> Self {
        self.field(name, Value::RequestId)
    }

    /// Replaces the template of every message field.
    ///
    /// ```
    /// use floodgate::{Error, ErrorBody};
    /// let body = ErrorBody::new("error").field_message("message", "Too fast")?;
    /// let body = body.with_message("Too fast, wait {retry_after}s")?;
    /// assert_eq!(body.with_message("{").err(), Some(Error::InvalidTemplate));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn with_message(mut self, template: &str) -> Result<Self> {
        let parsed = Template::parse(template)?;
        for (_, value) in &mut self.fields {
            if let Value::Message(message) = value {
                *message = parsed.clone();
            }
        }
        Ok(self)
    }

    /// Replaces the message used when the cost can never fit (default:
    /// "Request cost exceeds the {scope} limit of {limit}; it can never be
    /// admitted.", whose `{limit}` is always the burst); the wait is then
    /// `null`.
    ///
    /// ```
    /// use floodgate::{ErrorBody, Limiter, ManualClock, Quota, Scope};
    /// let limiter = Limiter::builder(Quota::per_second(15)?).clock(ManualClock::new()).build();
    /// let body = ErrorBody::new("error")
    ///     .field_message("message", "Retry after {retry_after}s.")?
    ///     .field_retry_after("retry_after_seconds");
    /// let rendered = body.render(&limiter.check(16), Scope::Key, "req_1");
    /// assert!(rendered.contains("exceeds the key limit of 15; it can never be admitted."));
    /// assert!(rendered.contains(r#""retry_after_seconds":null"#));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn with_cannot_fit_message(mut self, template: &str) -> Result<Self> {
        self.cannot_fit = Template::parse(template)?;
        Ok(self)
    }

    /// How waits are written in the body (default: one decimal, rounded up).
    pub fn with_retry_after_format(mut self, format: RetryAfterFormat) -> Self {
        self.retry_after = format;
        self
    }

    /// What `{limit}` prints in a message (default: the burst).
    pub fn with_limit_figure(mut self, figure: LimitFigure) -> Self {
        self.limit_figure = figure;
        self
    }

    /// The body for `decision` from `scope`, answering request `request_id`.
    pub fn render(&self, decision: &Decision, scope: Scope, request_id: &str) -> String {
        self.render_at_rate(decision, decision.refill_rate(), scope, request_id)
    }

    /// [`render`](Self::render) for a decision whose refill rate, as
    /// `(requests, nanoseconds)`, is known to the caller rather than carried
    /// by the decision (one read back from the C ABI's figures).
    pub(crate) fn render_at_rate(
        &self,
        decision: &Decision,
        refill_rate: Option<(u64, u64)>,
        scope: Scope,
        request_id: &str,
    ) -> String {
        let retry_after = decision
            .retry_after()
            .map(|wait| self.retry_after.format(wait));
        let burst = decision.limit().to_string();
        // A cost that can never fit is explained by its own message,
        // measured against the burst it exceeds.
        let (cannot_fit, limit) = if decision.outcome() == Outcome::CannotFit {
            (true, burst)
        } else {
            let limit = match (self.limit_figure, refill_rate) {
                (LimitFigure::RatePerSecond, Some((requests, ns))) => per_second(requests, ns),
                _ => burst,
            };
            (false, limit)
        };
        let explain = |message: &Template| {
            let template = if cannot_fit {
                &self.cannot_fit
            } else {
                message
            };
            template.fill(|field| match field {
                Field::RetryAfter => retry_after.clone().unwrap_or_default(),
                Field::Limit => limit.clone(),
                Field::Remaining => decision.remaining().to_string(),
                Field::Scope => scope.as_str().to_owned(),
            })
        };
        let mut out = String::with_capacity(192);
        out.push('{');
        push_string(&mut out, &self.envelope);
        out.push_str(":{");
        for (at, (name, value)) in self.fields.iter().enumerate() {
            if at > 0 {
                out.push(',');
            }
            push_string(&mut out, name);
            out.push(':');
            match value {
                Value::Text(text) => push_string(&mut out, text),
                Value::Number(number) => out.push_str(&number.to_string()),
                Value::Message(message) => push_string(&mut out, &explain(message)),
                // A decimal of digits and at most one point: a JSON number.
                Value::RetryAfter => out.push_str(retry_after.as_deref().unwrap_or("null")),
                Value::RequestId => push_string(&mut out, request_id),
            }
        }
        out.push_str("}}");
        out
    }
}

/// `requests` per `ns` nanoseconds as requests per second: whole, or cut
/// (never rounded up) to three significant digits, trailing zeros dropped.
fn per_second(requests: u64, ns: u64) -> String {
    const SIGNIFICANT: usize = 3;
    let numerator = u128::from(requests) * 1_000_000_000;
    let denominator = u128::from(ns);
    let whole = numerator / denominator;
    let mut rest = numerator % denominator;
    let mut out = whole.to_string();
    let mut significant = if whole == 0 { 0 } else { out.len() };
    let mut decimals = String::new();
    // Each digit ends the loop sooner: a rate is at least 1 per 2^64 ns, so
    // at most 10 zeros lead the first significant digit.
    while rest != 0 && significant < SIGNIFICANT {
        rest *= 10;
        let digit = rest / denominator;
        rest %= denominator;
        if significant > 0 || digit > 0 {
            significant += 1;
        }
        decimals.push(char::from(b'0' + digit as u8));
    }
    let decimals = decimals.trim_end_matches('0');
    if !decimals.is_empty() {
        out.push('.');
        out.push_str(decimals);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_per_second_are_cut_to_three_significant_digits() {
        assert_eq!(per_second(3, 200_000_000), "15");
        assert_eq!(per_second(1, 1), "1000000000");
        assert_eq!(per_second(5, 3_000_000_000), "1.66");
        assert_eq!(per_second(1, 3_000_000), "333");
        assert_eq!(per_second(2, 1_000_000_001), "1.99");
        assert_eq!(per_second(1, 2_000_000_000), "0.5");
        assert_eq!(per_second(1, 86_400_000_000_000), "0.0000115");
        assert_eq!(per_second(1, u64::MAX), "0.0000000000542");
    }
}
