//! `floodgate.Decision` and `floodgate.Outcome`: what a check answers.

use crate::args;
use crate::clock::{nanos_of, seconds_of};
use floodgate::presets::genieos::WARNING_ZONE_PERCENT;
use floodgate::{Decision, Outcome};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The verdict of one check.
#[pyclass(frozen, eq, eq_int, hash, name = "Outcome", module = "floodgate")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PyOutcome {
    /// The request may go; its cost was charged.
    #[pyo3(name = "ADMITTED")]
    Admitted,
    /// Not now: the same cost is admitted after `retry_after`.
    #[pyo3(name = "DENIED")]
    Denied,
    /// The cost exceeds the burst, so it can never be admitted.
    #[pyo3(name = "CANNOT_FIT")]
    CannotFit,
    /// The key is suspended, not rate limited: nothing was charged;
    /// `retry_after` is the suspension's end, None when it has none.
    #[pyo3(name = "SUSPENDED")]
    Suspended,
}

impl PyOutcome {
    fn from_engine(outcome: Outcome) -> PyResult<Self> {
        match outcome {
            Outcome::Admitted => Ok(Self::Admitted),
            Outcome::Denied => Ok(Self::Denied),
            Outcome::CannotFit => Ok(Self::CannotFit),
            Outcome::Suspended => Ok(Self::Suspended),
            // The engine's enum is non-exhaustive: an outcome added there
            // must be added here, and until then says so instead of lying.
            other => Err(PyRuntimeError::new_err(format!(
                "floodgate returned an outcome this binding does not know: {other:?}"
            ))),
        }
    }

    fn python_name(self) -> &'static str {
        match self {
            Self::Admitted => "ADMITTED",
            Self::Denied => "DENIED",
            Self::CannotFit => "CANNOT_FIT",
            Self::Suspended => "SUSPENDED",
        }
    }
}

/// The answer to a check: the outcome and the numbers a response carries.
/// Truthy when admitted.
///
/// One is made per check, from Python's own allocator: PyO3 0.30's
/// `freelist` guards its list with a mutex locked on every allocation and
/// every release, which cost a str-key check 16 ns (BENCHMARKS.md, "Python").
#[pyclass(frozen, eq, hash, name = "Decision", module = "floodgate")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PyDecision(pub(crate) Decision);

fn percent(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    args::unsigned(value, "percent")
}

#[pymethods]
impl PyDecision {
    /// Whether the request may go.
    #[getter]
    fn admitted(&self) -> bool {
        self.0.is_admitted()
    }

    /// The verdict.
    #[getter]
    fn outcome(&self) -> PyResult<PyOutcome> {
        PyOutcome::from_engine(self.0.outcome())
    }

    /// The burst capacity: what X-RateLimit-Limit reports.
    #[getter]
    fn limit(&self) -> u64 {
        self.0.limit()
    }

    /// Whole units of capacity left after this decision.
    #[getter]
    fn remaining(&self) -> u64 {
        self.0.remaining()
    }

    /// Seconds until the bucket is full again.
    #[getter]
    fn reset_after(&self) -> f64 {
        seconds_of(self.0.reset_after_ns())
    }

    /// Nanoseconds until the bucket is full again.
    #[getter]
    fn reset_after_ns(&self) -> u64 {
        self.0.reset_after_ns()
    }

    /// When denied, seconds until the same cost is admitted (never 0); when
    /// suspended until a time, seconds until then; None otherwise, including
    /// for CANNOT_FIT and an open-ended suspension.
    #[getter]
    fn retry_after(&self) -> Option<f64> {
        self.0.retry_after().map(|wait| wait.as_secs_f64())
    }

    /// `retry_after` in nanoseconds, 0 when not denied.
    #[getter]
    fn retry_after_ns(&self) -> u64 {
        self.0.retry_after_ns()
    }

    /// For an admitted reservation (`reserve`), seconds to wait before
    /// proceeding; 0.0 for everything else.
    #[getter]
    fn delay(&self) -> f64 {
        self.0.delay().as_secs_f64()
    }

    /// `delay` in nanoseconds.
    #[getter]
    fn delay_ns(&self) -> u64 {
        nanos_of(self.0.delay())
    }

    /// Whether at most `percent` % of the limit remains (GenieOS's warning
    /// zone: 20 %, "log it, slow down").
    #[pyo3(signature = (percent = WARNING_ZONE_PERCENT), text_signature = "($self, percent=20)")]
    fn in_warning_zone(&self, #[pyo3(from_py_with = percent)] percent: u64) -> bool {
        self.0.in_warning_zone(percent)
    }

    fn __bool__(&self) -> bool {
        self.0.is_admitted()
    }

    fn __repr__(&self) -> String {
        let outcome = match PyOutcome::from_engine(self.0.outcome()) {
            Ok(known) => known.python_name().to_owned(),
            Err(_) => format!("{:?}", self.0.outcome()),
        };
        format!(
            "Decision(outcome=Outcome.{outcome}, limit={}, remaining={}, reset_after_ns={}, retry_after_ns={})",
            self.0.limit(),
            self.0.remaining(),
            self.0.reset_after_ns(),
            self.0.retry_after_ns()
        )
    }
}
