//! `floodgate.Headers`, `floodgate.RateLimitPolicy` and `floodgate.ErrorBody`: what a
//! client reads, rendered by the engine (one formatting for every binding).

use crate::args;
use crate::decision::PyDecision;
use crate::errors::{engine_error, FloodgateError};
use crate::quota::PyQuota;
use floodgate::presets::{clarifai, genieos};
use floodgate::{ErrorBody, Headers, RateLimitPolicy, RetryAfterFormat, Scope};
use pyo3::prelude::*;
use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// `scope` as the engine's Scope. Names other than the five built-in ones
/// are interned: each distinct name is leaked once (the engine keeps scope
/// names as `&'static str`; they come from configuration, so few).
pub(crate) fn scope(name: &str) -> Scope {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    match name {
        "key" => Scope::Key,
        "workspace" => Scope::Workspace,
        "ip" => Scope::Ip,
        "endpoint" => Scope::Endpoint,
        "token" => Scope::Token,
        other => {
            let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
            let names = names.get_or_insert_with(HashSet::new);
            let interned = match names.get(other) {
                Some(known) => *known,
                None => {
                    let leaked: &'static str = Box::leak(other.to_owned().into_boxed_str());
                    names.insert(leaked);
                    leaked
                }
            };
            Scope::Named(interned)
        }
    }
}

/// `retry_after_decimals`: None for whole seconds, else digits after the point.
fn retry_after_format(value: &Bound<'_, PyAny>) -> PyResult<RetryAfterFormat> {
    if value.is_none() {
        return Ok(RetryAfterFormat::WholeSeconds);
    }
    let decimals = args::unsigned(value, "retry_after_decimals")?;
    match u8::try_from(decimals) {
        Ok(decimals) if decimals <= 9 => Ok(RetryAfterFormat::Fractional { decimals }),
        _ => Err(FloodgateError::new_err(format!(
            "retry_after_decimals must be None or between 0 and 9, got {decimals}"
        ))),
    }
}

fn quota_count(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    args::unsigned(value, "quota")
}

fn numeric_code(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    args::unsigned(value, "code")
}

/// A named quota for the IETF draft `RateLimit-Policy` / `RateLimit` fields.
#[pyclass(frozen, name = "RateLimitPolicy", module = "floodgate")]
#[derive(Clone)]
pub(crate) struct PyRateLimitPolicy(RateLimitPolicy);

#[pymethods]
impl PyRateLimitPolicy {
    /// `quota` units per `window` (seconds or a timedelta) under `name`.
    #[new]
    fn new(
        name: &str,
        #[pyo3(from_py_with = quota_count)] quota: u64,
        #[pyo3(from_py_with = args::window)] window: std::time::Duration,
    ) -> PyResult<Self> {
        RateLimitPolicy::new(name, quota, window)
            .map(Self)
            .map_err(engine_error)
    }

    /// The policy of a token-bucket Quota: its burst per the time an empty
    /// bucket takes to refill (lockout included), so `r <= q` and `t <= w`.
    #[staticmethod]
    fn from_quota(name: &str, quota: &Bound<'_, PyQuota>) -> PyResult<Self> {
        RateLimitPolicy::from_quota(name, &quota.get().0)
            .map(Self)
            .map_err(engine_error)
    }

    /// The `RateLimit-Policy` field value.
    #[getter]
    fn field(&self) -> String {
        self.0.field()
    }

    fn __repr__(&self) -> String {
        format!("RateLimitPolicy({})", self.0.field())
    }
}

/// Which rate-limit header fields to render from a decision, and how.
#[pyclass(frozen, name = "Headers", module = "floodgate")]
pub(crate) struct PyHeaders(Headers);

#[pymethods]
impl PyHeaders {
    /// X-RateLimit-* (unless `legacy` is False) and Retry-After when denied,
    /// with `retry_after_decimals` digits (None: whole seconds); with a
    /// `policy`, also the draft RateLimit-Policy and RateLimit fields.
    #[new]
    #[pyo3(
        signature = (*, retry_after_decimals = RetryAfterFormat::default(), policy = None, legacy = true),
        text_signature = "(*, retry_after_decimals=1, policy=None, legacy=True)"
    )]
    fn new(
        #[pyo3(from_py_with = retry_after_format)] retry_after_decimals: RetryAfterFormat,
        policy: Option<&Bound<'_, PyRateLimitPolicy>>,
        legacy: bool,
    ) -> Self {
        let mut headers = Headers::new().with_retry_after_format(retry_after_decimals);
        if let Some(policy) = policy {
            headers = headers.with_policy(policy.get().0.clone());
        }
        if !legacy {
            headers = headers.without_legacy_fields();
        }
        Self(headers)
    }

    /// The fields for `decision` from layer `scope`, as (name, value) pairs;
    /// `now_unix_ns` is the wall-clock time X-RateLimit-Reset counts from
    /// (default: now).
    #[pyo3(signature = (decision, scope = "key", now_unix_ns = None))]
    fn render(
        &self,
        decision: &Bound<'_, PyDecision>,
        scope: &str,
        #[pyo3(from_py_with = args::timestamp)] now_unix_ns: Option<u64>,
    ) -> Vec<(&'static str, String)> {
        let decision = &decision.get().0;
        let scope = self::scope(scope);
        let rendered = match now_unix_ns {
            Some(now) => self.0.render_at(decision, scope, now),
            None => self.0.render(decision, scope, std::time::SystemTime::now()),
        };
        rendered
            .iter()
            .map(|(name, value)| (name, value.to_owned()))
            .collect()
    }
}

/// The JSON body of a 429 response (GenieOS or Clarifai shape).
#[pyclass(frozen, name = "ErrorBody", module = "floodgate")]
#[derive(Clone)]
pub(crate) struct PyErrorBody {
    body: ErrorBody,
    /// GenieOS bodies write every code as a string and have a `type`;
    /// Clarifai's have a `description` and may take a numeric code.
    genieos: bool,
}

impl PyErrorBody {
    fn from_genieos(body: ErrorBody) -> Self {
        Self {
            body,
            genieos: true,
        }
    }

    /// The same shape around `body`.
    fn with(&self, body: ErrorBody) -> Self {
        Self {
            body,
            genieos: self.genieos,
        }
    }
}

#[pymethods]
impl PyErrorBody {
    /// GenieOS shape, type `rate_limit_exceeded`, with `code` and a `message`
    /// template ({retry_after}, {limit}, {remaining}, {scope}).
    #[staticmethod]
    #[pyo3(name = "genieos")]
    fn genieos_body(code: &str, message: &str) -> PyResult<Self> {
        genieos::error_body(code, message)
            .map(Self::from_genieos)
            .map_err(engine_error)
    }

    /// GenieOS's per-key body (code `key_rate_limit`).
    #[staticmethod]
    fn genieos_key() -> Self {
        Self::from_genieos(genieos::key_body())
    }

    /// GenieOS's per-workspace body (code `workspace_rate_limit`).
    #[staticmethod]
    fn genieos_workspace() -> Self {
        Self::from_genieos(genieos::workspace_body())
    }

    /// Clarifai shape (`CONN_THROTTLED`) with a `details` template.
    #[staticmethod]
    fn clarifai(details: &str) -> PyResult<Self> {
        let body = clarifai::error_body(details).map_err(engine_error)?;
        Ok(Self {
            body,
            genieos: false,
        })
    }

    /// The same body with another error type.
    fn with_type(&self, kind: &str) -> Self {
        if !self.genieos {
            return self.clone();
        }
        self.with(self.body.clone().field_text("type", kind))
    }

    /// The same body with another code.
    fn with_code(&self, code: &str) -> Self {
        self.with(self.body.clone().field_text("code", code))
    }

    /// The same body with a numeric code (Clarifai's 11005).
    fn with_numeric_code(&self, #[pyo3(from_py_with = numeric_code)] code: u64) -> Self {
        let body = self.body.clone();
        self.with(if self.genieos {
            body.field_text("code", &code.to_string())
        } else {
            body.field_number("code", code)
        })
    }

    /// The same body with another message template.
    fn with_message(&self, template: &str) -> PyResult<Self> {
        let body = self.body.clone().with_message(template);
        Ok(self.with(body.map_err(engine_error)?))
    }

    /// The same body with another description (Clarifai shape).
    fn with_description(&self, text: &str) -> Self {
        if self.genieos {
            return self.clone();
        }
        self.with(self.body.clone().field_text("description", text))
    }

    /// The same body writing waits with `decimals` digits (None: whole seconds).
    fn with_retry_after_decimals(
        &self,
        #[pyo3(from_py_with = retry_after_format)] decimals: RetryAfterFormat,
    ) -> Self {
        self.with(self.body.clone().with_retry_after_format(decimals))
    }

    /// The JSON body for `decision` from layer `scope`, answering `request_id`.
    #[pyo3(signature = (decision, scope = "key", request_id = ""))]
    fn render(&self, decision: &Bound<'_, PyDecision>, scope: &str, request_id: &str) -> String {
        self.body
            .render(&decision.get().0, self::scope(scope), request_id)
    }
}
