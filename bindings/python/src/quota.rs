//! `floodgate.Quota`: a rate and a burst, validated by the engine.

use crate::args;
use crate::errors::engine_error;
use floodgate::Quota;
use pyo3::prelude::*;
use std::time::Duration;

/// `count` requests per `period`, with up to `burst` at once.
#[pyclass(frozen, eq, hash, name = "Quota", module = "floodgate")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PyQuota(pub(crate) Quota);

impl PyQuota {
    /// `quota` with `burst` in place of its own when one is given.
    fn burst_or_default(quota: floodgate::Result<Quota>, burst: Option<u64>) -> PyResult<Self> {
        let quota = quota.map_err(engine_error)?;
        match burst {
            Some(burst) => quota.with_burst(burst).map(Self).map_err(engine_error),
            None => Ok(Self(quota)),
        }
    }
}

fn optional_burst(value: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    if value.is_none() {
        return Ok(None);
    }
    args::unsigned(value, "burst").map(Some)
}

fn count(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    args::unsigned(value, "count")
}

fn period(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    args::duration(value, "period")
}

fn period_ns(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    args::unsigned(value, "period_ns")
}

fn seconds(nanos: u64) -> f64 {
    Duration::from_nanos(nanos).as_secs_f64()
}

#[pymethods]
impl PyQuota {
    /// `count` requests per `period` (seconds or a timedelta); the burst
    /// defaults to `count`.
    #[new]
    #[pyo3(signature = (count, period, *, burst = None))]
    fn new(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = period)] period: Duration,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
    ) -> PyResult<Self> {
        Self::burst_or_default(Quota::new(count, period), burst)
    }

    /// `count` requests per `period_ns` nanoseconds.
    #[staticmethod]
    #[pyo3(signature = (count, period_ns, *, burst = None))]
    fn per_period_ns(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = period_ns)] period_ns: u64,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
    ) -> PyResult<Self> {
        Self::burst_or_default(Quota::new(count, Duration::from_nanos(period_ns)), burst)
    }

    /// `count` requests per second.
    #[staticmethod]
    #[pyo3(signature = (count, *, burst = None))]
    fn per_second(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
    ) -> PyResult<Self> {
        Self::burst_or_default(Quota::per_second(count), burst)
    }

    /// `count` requests per minute.
    #[staticmethod]
    #[pyo3(signature = (count, *, burst = None))]
    fn per_minute(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
    ) -> PyResult<Self> {
        Self::burst_or_default(Quota::per_minute(count), burst)
    }

    /// `count` requests per hour.
    #[staticmethod]
    #[pyo3(signature = (count, *, burst = None))]
    fn per_hour(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
    ) -> PyResult<Self> {
        Self::burst_or_default(Quota::per_hour(count), burst)
    }

    /// `count` requests per day.
    #[staticmethod]
    #[pyo3(signature = (count, *, burst = None))]
    fn per_day(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
    ) -> PyResult<Self> {
        Self::burst_or_default(Quota::per_day(count), burst)
    }

    /// The same rate with a different burst.
    fn with_burst(&self, #[pyo3(from_py_with = required_burst)] burst: u64) -> PyResult<Self> {
        self.0.with_burst(burst).map(Self).map_err(engine_error)
    }

    /// Requests allowed per period.
    #[getter]
    fn count(&self) -> u64 {
        self.0.count()
    }

    /// The period in seconds.
    #[getter]
    fn period(&self) -> f64 {
        seconds(self.0.period_ns())
    }

    /// The period in nanoseconds.
    #[getter]
    fn period_ns(&self) -> u64 {
        self.0.period_ns()
    }

    /// How many requests may go at once from a full bucket.
    #[getter]
    fn burst(&self) -> u64 {
        self.0.burst()
    }

    /// Seconds one unit of capacity takes to refill (display value).
    #[getter]
    fn emission_interval(&self) -> f64 {
        self.0.emission_interval().as_secs_f64()
    }

    /// Nanoseconds one unit takes to refill, rounded down (display value).
    #[getter]
    fn emission_interval_ns(&self) -> u64 {
        // A Duration built from u64 nanoseconds and divided always fits.
        u64::try_from(self.0.emission_interval().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether the limiter enforces exactly count / period.
    #[getter]
    fn is_exact(&self) -> bool {
        self.0.is_exact()
    }

    fn __repr__(&self) -> String {
        format!(
            "Quota.per_period_ns({}, {}, burst={})",
            self.0.count(),
            self.0.period_ns(),
            self.0.burst()
        )
    }
}

fn required_burst(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    args::unsigned(value, "burst")
}
