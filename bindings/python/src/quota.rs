//! `floodgate.Quota`: a rate and a burst, validated by the engine.

use crate::args;
use crate::clock::{nanos_of, seconds_of};
use crate::errors::{engine_error, FloodgateError};
use crate::notation;
use floodgate::Quota;
use pyo3::prelude::*;
use std::time::Duration;

/// `count` requests per `period`, with up to `burst` at once.
#[pyclass(frozen, eq, hash, name = "Quota", module = "floodgate")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PyQuota(pub(crate) Quota);

impl PyQuota {
    /// `quota` with `burst` in place of its own when one is given, and with
    /// `lockout` when one is given.
    fn build(
        quota: floodgate::Result<Quota>,
        burst: Option<u64>,
        lockout: Option<Duration>,
    ) -> PyResult<Self> {
        let mut quota = quota.map_err(engine_error)?;
        if let Some(burst) = burst {
            quota = quota.with_burst(burst).map_err(engine_error)?;
        }
        if let Some(lockout) = lockout {
            quota = quota.with_lockout(lockout).map_err(engine_error)?;
        }
        Ok(Self(quota))
    }
}

fn optional_burst(value: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    args::optional(value, required_burst)
}

fn optional_lockout(value: &Bound<'_, PyAny>) -> PyResult<Option<Duration>> {
    args::optional(value, lockout)
}

fn lockout(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    args::duration(value, "lockout")
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

#[pymethods]
impl PyQuota {
    /// `count` requests per `period` (seconds or a timedelta); the burst
    /// defaults to `count`. With `lockout` (seconds or a timedelta), requests
    /// made while denied are charged too, so hammering pushes the wait out,
    /// by at most `lockout` past an empty bucket.
    #[new]
    #[pyo3(signature = (count, period, *, burst = None, lockout = None))]
    fn new(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = period)] period: Duration,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
        #[pyo3(from_py_with = optional_lockout)] lockout: Option<Duration>,
    ) -> PyResult<Self> {
        Self::build(Quota::new(count, period), burst, lockout)
    }

    /// `count` requests per `period_ns` nanoseconds.
    #[staticmethod]
    #[pyo3(signature = (count, period_ns, *, burst = None, lockout = None))]
    fn per_period_ns(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = period_ns)] period_ns: u64,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
        #[pyo3(from_py_with = optional_lockout)] lockout: Option<Duration>,
    ) -> PyResult<Self> {
        Self::build(
            Quota::new(count, Duration::from_nanos(period_ns)),
            burst,
            lockout,
        )
    }

    /// `count` requests per second.
    #[staticmethod]
    #[pyo3(signature = (count, *, burst = None, lockout = None))]
    fn per_second(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
        #[pyo3(from_py_with = optional_lockout)] lockout: Option<Duration>,
    ) -> PyResult<Self> {
        Self::build(Quota::per_second(count), burst, lockout)
    }

    /// `count` requests per minute.
    #[staticmethod]
    #[pyo3(signature = (count, *, burst = None, lockout = None))]
    fn per_minute(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
        #[pyo3(from_py_with = optional_lockout)] lockout: Option<Duration>,
    ) -> PyResult<Self> {
        Self::build(Quota::per_minute(count), burst, lockout)
    }

    /// `count` requests per hour.
    #[staticmethod]
    #[pyo3(signature = (count, *, burst = None, lockout = None))]
    fn per_hour(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
        #[pyo3(from_py_with = optional_lockout)] lockout: Option<Duration>,
    ) -> PyResult<Self> {
        Self::build(Quota::per_hour(count), burst, lockout)
    }

    /// `count` requests per day.
    #[staticmethod]
    #[pyo3(signature = (count, *, burst = None, lockout = None))]
    fn per_day(
        #[pyo3(from_py_with = count)] count: u64,
        #[pyo3(from_py_with = optional_burst)] burst: Option<u64>,
        #[pyo3(from_py_with = optional_lockout)] lockout: Option<Duration>,
    ) -> PyResult<Self> {
        Self::build(Quota::per_day(count), burst, lockout)
    }

    /// The limits written in `text`, in order, each with a burst of its
    /// count: `"30/second"`, `"600 per minute"`, `"10/2 minutes"`, several
    /// separated by `;` (`"5/minute;100/hour"`). Units: second, minute,
    /// hour, day (plurals and s, m, h, d too). Raises FloodgateError for
    /// text that is no limit or a count of 0.
    #[staticmethod]
    fn parse(text: &str) -> PyResult<Vec<Self>> {
        notation::parse_many(text)
            .map_err(FloodgateError::new_err)?
            .into_iter()
            .map(|(count, period)| Self::build(Quota::new(count, period), None, None))
            .collect()
    }

    /// The same rate with a different burst.
    fn with_burst(&self, #[pyo3(from_py_with = required_burst)] burst: u64) -> PyResult<Self> {
        self.0.with_burst(burst).map(Self).map_err(engine_error)
    }

    /// The same quota with a lockout of at most `lockout` (0 turns it off).
    fn with_lockout(&self, #[pyo3(from_py_with = lockout)] lockout: Duration) -> PyResult<Self> {
        self.0.with_lockout(lockout).map(Self).map_err(engine_error)
    }

    /// The longest hammering can hold a client past an empty bucket, in
    /// seconds; 0.0 when lockout is off.
    #[getter]
    fn lockout(&self) -> f64 {
        self.0.lockout().as_secs_f64()
    }

    /// `lockout` in nanoseconds.
    #[getter]
    fn lockout_ns(&self) -> u64 {
        nanos_of(self.0.lockout())
    }

    /// Requests allowed per period.
    #[getter]
    fn count(&self) -> u64 {
        self.0.count()
    }

    /// The period in seconds.
    #[getter]
    fn period(&self) -> f64 {
        seconds_of(self.0.period_ns())
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
        nanos_of(self.0.emission_interval())
    }

    /// Whether the limiter enforces exactly count / period.
    #[getter]
    fn is_exact(&self) -> bool {
        self.0.is_exact()
    }

    fn __repr__(&self) -> String {
        let lockout = match self.0.lockout() {
            std::time::Duration::ZERO => String::new(),
            lockout => format!(", lockout={:?}", lockout.as_secs_f64()),
        };
        format!(
            "Quota.per_period_ns({}, {}, burst={}{lockout})",
            self.0.count(),
            self.0.period_ns(),
            self.0.burst()
        )
    }
}

fn required_burst(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    args::unsigned(value, "burst")
}
