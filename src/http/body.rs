//! The JSON body of a 429: GenieOS's and Clarifai's shapes, configurable.

use super::json::push_string;
use super::scope::Scope;
use super::seconds::RetryAfterFormat;
use super::template::{Field, Template};
use crate::core::decision::{Decision, Outcome};
use crate::core::error::Result;

/// The JSON error body a rejected request gets, in one of two shapes.
///
/// GenieOS:
/// `{"error":{"type":..,"code":..,"message":..,"retry_after_seconds":0.6,"request_id":".."}}`;
/// Clarifai:
/// `{"status":{"code":"CONN_THROTTLED","description":..,"details":..,"req_id":".."}}`
/// (or `"code":11005`). Messages are templates: `{retry_after}` (seconds,
/// in the body's [`RetryAfterFormat`]; a cost that can never fit gets its own
/// message, see [`ErrorBody::with_cannot_fit_message`]),
/// `{limit}`, `{remaining}`, `{scope}`; `{{` and `}}` for braces.
///
/// `{limit}` is the limit the message talks about. In a GenieOS message and
/// in the cannot-fit message it is the burst (what `X-RateLimit-Limit` and a
/// too-large cost are measured against). In a Clarifai `details` it is the
/// rate in requests per second, as Clarifai words it ("exceeded limit of 15
/// requests per second"), whatever the bucket's burst: a fraction is cut to
/// three significant digits (5 per 3 s is `1.66`), never rounded up. A
/// decision with no refill rate (a sliding window's, or one read back from
/// the C ABI's `fg_decision`, which has no rate field) prints its limit.
///
/// ```
/// use floodgate::{ErrorBody, Limiter, ManualClock, Quota, Scope};
///
/// let limiter = Limiter::builder(Quota::per_second(30)?.with_burst(60)?)
///     .clock(ManualClock::new())
///     .build();
/// limiter.check(60);
/// let denied = limiter.check(1);
/// let body = ErrorBody::genieos_key().render(&denied, Scope::Key, "req_01JABC");
/// assert_eq!(
///     body,
///     r#"{"error":{"type":"rate_limit_exceeded","code":"key_rate_limit","message":"API key exceeded its rate limit. Retry after 0.1s.","retry_after_seconds":0.1,"request_id":"req_01JABC"}}"#
/// );
/// # Ok::<(), floodgate::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ErrorBody {
    shape: Shape,
    retry_after: RetryAfterFormat,
    /// The message (GenieOS) or details (Clarifai) for a cost above the
    /// burst, which no wait can fix.
    cannot_fit: Template,
}

/// The default message for [`Outcome::CannotFit`](crate::Outcome::CannotFit).
const CANNOT_FIT: &str =
    "Request cost exceeds the {scope} limit of {limit}; it can never be admitted.";

#[derive(Clone, PartialEq, Eq, Debug)]
enum Shape {
    GenieOs {
        kind: String,
        code: String,
        message: Template,
    },
    Clarifai {
        code: ClarifaiCode,
        description: String,
        details: Template,
    },
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum ClarifaiCode {
    Name(String),
    Number(u64),
}

impl ErrorBody {
    /// A GenieOS-shaped body with `type` `rate_limit_exceeded` and the given
    /// `code` and `message` template.
    ///
    /// ```
    /// use floodgate::{Error, ErrorBody};
    /// assert!(ErrorBody::genieos("ip_rate_limit", "Slow down ({scope}).").is_ok());
    /// assert_eq!(ErrorBody::genieos("x", "{oops}").err(), Some(Error::InvalidTemplate));
    /// ```
    pub fn genieos(code: &str, message: &str) -> Result<Self> {
        Ok(Self {
            shape: Shape::GenieOs {
                kind: "rate_limit_exceeded".to_owned(),
                code: code.to_owned(),
                message: Template::parse(message)?,
            },
            retry_after: RetryAfterFormat::default(),
            cannot_fit: Template::parse(CANNOT_FIT)?,
        })
    }

    /// GenieOS's per-key body: code `key_rate_limit`, "API key exceeded its
    /// rate limit. Retry after {retry_after}s.".
    pub fn genieos_key() -> Self {
        Self::genieos(
            "key_rate_limit",
            "API key exceeded its rate limit. Retry after {retry_after}s.",
        )
        .expect("a valid built-in template")
    }

    /// GenieOS's per-workspace body: code `workspace_rate_limit`,
    /// "Workspace exceeded its rate limit. Retry after {retry_after}s.".
    ///
    /// ```
    /// use floodgate::{ErrorBody, ManualClock, Scope, SlidingWindow};
    /// use std::time::Duration;
    /// let workspace = SlidingWindow::builder(600, Duration::from_secs(60))
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// workspace.check(600);
    /// let body = ErrorBody::genieos_workspace().render(&workspace.check(1), Scope::Workspace, "req_1");
    /// assert!(body.contains(r#""retry_after_seconds":60.1"#));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn genieos_workspace() -> Self {
        Self::genieos(
            "workspace_rate_limit",
            "Workspace exceeded its rate limit. Retry after {retry_after}s.",
        )
        .expect("a valid built-in template")
    }

    /// A Clarifai-shaped body: status code `CONN_THROTTLED`, description
    /// "Making too many requests" and the given `details` template, whose
    /// `{limit}` is the rate per second (not the burst).
    ///
    /// ```
    /// use floodgate::{ErrorBody, Limiter, ManualClock, Quota, Scope};
    /// let quota = Quota::per_second(15)?.with_burst(30)?;
    /// let limiter = Limiter::builder(quota).clock(ManualClock::new()).build();
    /// limiter.check(30);
    /// let body = ErrorBody::clarifai("exceeded limit of {limit} requests per second")?
    ///     .with_numeric_code(11005)
    ///     .render(&limiter.check(1), Scope::Key, "abc");
    /// assert_eq!(
    ///     body,
    ///     r#"{"status":{"code":11005,"description":"Making too many requests","details":"exceeded limit of 15 requests per second","req_id":"abc"}}"#
    /// );
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn clarifai(details: &str) -> Result<Self> {
        Ok(Self {
            shape: Shape::Clarifai {
                code: ClarifaiCode::Name("CONN_THROTTLED".to_owned()),
                description: "Making too many requests".to_owned(),
                details: Template::parse(details)?,
            },
            retry_after: RetryAfterFormat::default(),
            cannot_fit: Template::parse(CANNOT_FIT)?,
        })
    }

    /// Replaces the GenieOS `type` (ignored by a Clarifai body).
    pub fn with_type(mut self, kind: &str) -> Self {
        if let Shape::GenieOs { kind: k, .. } = &mut self.shape {
            *k = kind.to_owned();
        }
        self
    }

    /// Replaces the code with a string (`"code":"CONN_THROTTLED"`).
    ///
    /// ```
    /// let body = floodgate::ErrorBody::genieos_key().with_code("ip_rate_limit");
    /// # let _ = body;
    /// ```
    pub fn with_code(mut self, code: &str) -> Self {
        match &mut self.shape {
            Shape::GenieOs { code: c, .. } => *c = code.to_owned(),
            Shape::Clarifai { code: c, .. } => *c = ClarifaiCode::Name(code.to_owned()),
        }
        self
    }

    /// Makes a Clarifai body's code a number (`"code":11005`); a GenieOS
    /// body's code becomes its decimal string.
    pub fn with_numeric_code(mut self, code: u64) -> Self {
        match &mut self.shape {
            Shape::GenieOs { code: c, .. } => *c = code.to_string(),
            Shape::Clarifai { code: c, .. } => *c = ClarifaiCode::Number(code),
        }
        self
    }

    /// Replaces the message template (GenieOS `message`, Clarifai `details`).
    ///
    /// ```
    /// use floodgate::{Error, ErrorBody};
    /// let body = ErrorBody::genieos_key().with_message("Too fast, wait {retry_after}s")?;
    /// assert_eq!(body.with_message("{").err(), Some(Error::InvalidTemplate));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn with_message(mut self, template: &str) -> Result<Self> {
        let parsed = Template::parse(template)?;
        match &mut self.shape {
            Shape::GenieOs { message, .. } => *message = parsed,
            Shape::Clarifai { details, .. } => *details = parsed,
        }
        Ok(self)
    }

    /// Replaces a Clarifai body's description (ignored by a GenieOS body).
    pub fn with_description(mut self, text: &str) -> Self {
        if let Shape::Clarifai { description, .. } = &mut self.shape {
            *description = text.to_owned();
        }
        self
    }

    /// Replaces the message used when the cost can never fit (default:
    /// "Request cost exceeds the {scope} limit of {limit}; it can never be
    /// admitted."); `retry_after_seconds` is then `null`.
    ///
    /// ```
    /// use floodgate::{ErrorBody, Limiter, ManualClock, Quota, Scope};
    /// let limiter = Limiter::builder(Quota::per_second(15)?).clock(ManualClock::new()).build();
    /// let body = ErrorBody::genieos_key().render(&limiter.check(16), Scope::Key, "req_1");
    /// assert!(body.contains("exceeds the key limit of 15; it can never be admitted."));
    /// assert!(body.contains(r#""retry_after_seconds":null"#));
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
        // The message that explains `decision`: `usual` with `{limit}` as
        // `usual_limit`, or the cannot-fit message, measured by the burst.
        let explain = |usual: &Template, usual_limit: String| {
            let (template, limit) = if decision.outcome() == Outcome::CannotFit {
                (&self.cannot_fit, burst.clone())
            } else {
                (usual, usual_limit)
            };
            template.fill(|field| match field {
                Field::RetryAfter => retry_after.clone().unwrap_or_default(),
                Field::Limit => limit.clone(),
                Field::Remaining => decision.remaining().to_string(),
                Field::Scope => scope.as_str().to_owned(),
            })
        };
        let mut out = String::with_capacity(192);
        match &self.shape {
            Shape::GenieOs {
                kind,
                code,
                message,
            } => {
                out.push_str(r#"{"error":{"type":"#);
                push_string(&mut out, kind);
                out.push_str(r#","code":"#);
                push_string(&mut out, code);
                out.push_str(r#","message":"#);
                push_string(&mut out, &explain(message, burst.clone()));
                out.push_str(r#","retry_after_seconds":"#);
                // A decimal of digits and at most one point: a JSON number.
                out.push_str(retry_after.as_deref().unwrap_or("null"));
                out.push_str(r#","request_id":"#);
                push_string(&mut out, request_id);
            }
            Shape::Clarifai {
                code,
                description,
                details,
            } => {
                out.push_str(r#"{"status":{"code":"#);
                match code {
                    ClarifaiCode::Name(name) => push_string(&mut out, name),
                    ClarifaiCode::Number(number) => out.push_str(&number.to_string()),
                }
                out.push_str(r#","description":"#);
                push_string(&mut out, description);
                out.push_str(r#","details":"#);
                let rate = refill_rate
                    .map_or_else(|| burst.clone(), |(requests, ns)| per_second(requests, ns));
                push_string(&mut out, &explain(details, rate));
                out.push_str(r#","req_id":"#);
                push_string(&mut out, request_id);
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
