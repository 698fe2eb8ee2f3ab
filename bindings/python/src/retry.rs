//! `floodgate.RetryPolicy`, `floodgate.Retry` and `floodgate.parse_retry_after`:
//! the client side, how long to wait before retrying a rejected request.

use crate::args;
use crate::errors::{engine_error, FloodgateError};
use floodgate::{parse_retry_after, Jitter, Retry, RetryPolicy};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn jitter(value: &Bound<'_, PyAny>) -> PyResult<Jitter> {
    let name = value
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err("jitter must be 'none', 'equal' or 'full'"))?;
    match name.to_str()? {
        "none" => Ok(Jitter::None),
        "equal" => Ok(Jitter::Equal),
        "full" => Ok(Jitter::Full),
        other => Err(FloodgateError::new_err(format!(
            "jitter must be 'none', 'equal' or 'full', got {other:?}"
        ))),
    }
}

fn initial(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    args::duration(value, "initial")
}

fn max_delay(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    args::duration(value, "max_delay")
}

fn factor(value: &Bound<'_, PyAny>) -> PyResult<u32> {
    args::small(value, "factor")
}

fn max_retries(value: &Bound<'_, PyAny>) -> PyResult<u32> {
    args::small(value, "max_retries")
}

fn retry_number(value: &Bound<'_, PyAny>) -> PyResult<u32> {
    args::small(value, "retry")
}

fn seed(value: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    args::optional_unsigned(value, "seed")
}

fn retry_after(value: &Bound<'_, PyAny>) -> PyResult<Option<Duration>> {
    args::optional(value, |value| args::duration(value, "retry_after"))
}

fn seconds(wait: Option<Duration>) -> Option<f64> {
    wait.map(|wait| wait.as_secs_f64())
}

/// When and how often to retry: the server's Retry-After exactly when it
/// sent one, else exponential backoff with jitter, capped, for a bounded
/// number of retries. Equal seeds give equal delays (tests).
#[pyclass(frozen, name = "RetryPolicy", module = "floodgate")]
pub(crate) struct PyRetryPolicy(RetryPolicy);

#[pymethods]
impl PyRetryPolicy {
    /// Retries after `initial`, `initial * factor`, ... (seconds or
    /// timedeltas) each capped at `max_delay`, at most `max_retries` times,
    /// jittered ('none', 'equal': between half and all, 'full': between 0
    /// and all); seeded at random unless `seed` is given.
    #[new]
    #[pyo3(signature = (initial, factor, max_retries, max_delay, *, jitter = Jitter::Equal, seed = None),
           text_signature = "(initial, factor, max_retries, max_delay, *, jitter='equal', seed=None)")]
    fn new(
        #[pyo3(from_py_with = initial)] initial: Duration,
        #[pyo3(from_py_with = factor)] factor: u32,
        #[pyo3(from_py_with = max_retries)] max_retries: u32,
        #[pyo3(from_py_with = max_delay)] max_delay: Duration,
        #[pyo3(from_py_with = jitter)] jitter: Jitter,
        #[pyo3(from_py_with = seed)] seed: Option<u64>,
    ) -> PyResult<Self> {
        let policy = RetryPolicy::new(initial, factor, max_retries, max_delay, jitter)
            .map_err(engine_error)?;
        Ok(Self(match seed {
            Some(seed) => policy.with_seed(seed),
            None => policy,
        }))
    }

    /// The GenieOS SDKs' policy: 250 ms, 500 ms, 1 s, 2 s, 4 s; equal jitter.
    #[staticmethod]
    fn genieos() -> Self {
        Self(floodgate::presets::genieos::retry_policy())
    }

    /// The license API's advice: 1 s, 2 s, 4 s, 8 s; equal jitter.
    #[staticmethod]
    fn license_api() -> Self {
        Self(floodgate::presets::license_api::retry_policy())
    }

    /// The same policy with `max_retries` retries.
    fn with_max_retries(&self, #[pyo3(from_py_with = max_retries)] max_retries: u32) -> Self {
        Self(self.0.clone().with_max_retries(max_retries))
    }

    /// The same policy with another jitter.
    fn with_jitter(&self, #[pyo3(from_py_with = jitter)] jitter: Jitter) -> Self {
        Self(self.0.clone().with_jitter(jitter))
    }

    /// The same policy drawing its jitter from `seed`.
    fn with_seed(&self, #[pyo3(from_py_with = required_seed)] seed: u64) -> Self {
        Self(self.0.clone().with_seed(seed))
    }

    /// How many retries the policy allows.
    #[getter]
    fn max_retries(&self) -> u32 {
        self.0.max_retries()
    }

    /// The un-jittered wait in seconds before retry number `retry` (0 is the
    /// first), or None once retries are used up.
    fn backoff(&self, #[pyo3(from_py_with = retry_number)] retry: u32) -> Option<f64> {
        seconds(self.0.backoff(retry))
    }

    /// The wait in seconds before retry number `retry`: exactly
    /// `retry_after` when the server sent one, else the jittered backoff;
    /// None once retries are used up.
    #[pyo3(signature = (retry, retry_after = None))]
    fn delay(
        &self,
        #[pyo3(from_py_with = retry_number)] retry: u32,
        #[pyo3(from_py_with = self::retry_after)] retry_after: Option<Duration>,
    ) -> Option<f64> {
        seconds(self.0.delay(retry, retry_after))
    }

    /// A retry sequence following this policy, for one request.
    fn start(&self) -> PyRetry {
        PyRetry(Mutex::new(self.0.start()))
    }
}

fn required_seed(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    args::unsigned(value, "seed")
}

/// One request's retries: after each rejection, `next_delay` with the
/// server's Retry-After if it sent one.
#[pyclass(frozen, name = "Retry", module = "floodgate")]
pub(crate) struct PyRetry(Mutex<Retry>);

impl PyRetry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Retry> {
        // Nothing panics while holding it; the counter stays whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl PyRetry {
    /// The wait in seconds before the next retry, or None when the policy
    /// says stop.
    #[pyo3(signature = (retry_after = None))]
    fn next_delay(
        &self,
        #[pyo3(from_py_with = self::retry_after)] retry_after: Option<Duration>,
    ) -> Option<f64> {
        seconds(self.lock().next_delay(retry_after))
    }

    /// Retries granted so far.
    #[getter]
    fn retries(&self) -> u32 {
        self.lock().retries()
    }
}

/// A Retry-After value in seconds: whole (`120`) or fractional (`0.6`)
/// seconds, or an HTTP date, counted from `now_unix_ns` (default: now).
/// Raises FloodgateError for anything else.
#[pyfunction(name = "parse_retry_after")]
#[pyo3(signature = (value, now_unix_ns = None))]
pub(crate) fn py_parse_retry_after(
    value: &str,
    #[pyo3(from_py_with = args::timestamp)] now_unix_ns: Option<u64>,
) -> PyResult<f64> {
    let now = match now_unix_ns {
        Some(nanos) => UNIX_EPOCH + Duration::from_nanos(nanos),
        None => SystemTime::now(),
    };
    parse_retry_after(value, now)
        .map(|wait| wait.as_secs_f64())
        .map_err(engine_error)
}
