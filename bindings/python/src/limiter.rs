//! `floodgate.Limiter`: one lock-free GCRA bucket.

use crate::args;
use crate::clock::{BindingClock, PyManualClock};
use crate::decision::PyDecision;
use crate::quota::PyQuota;
use floodgate::Limiter;
use pyo3::prelude::*;

/// One rate-limited bucket, safe to call from any number of threads.
///
/// Methods keep the GIL: a check takes tens of nanoseconds, less than
/// releasing and re-taking the GIL would cost, and it never blocks.
#[pyclass(frozen, name = "Limiter", module = "floodgate")]
pub(crate) struct PyLimiter(Limiter<BindingClock>);

#[pymethods]
impl PyLimiter {
    /// A full bucket for `quota`, timed by `clock` (a ManualClock) or by a
    /// monotonic clock of its own.
    #[new]
    #[pyo3(signature = (quota, *, clock = None))]
    fn new(quota: &Bound<'_, PyQuota>, clock: Option<&Bound<'_, PyManualClock>>) -> Self {
        Self(Limiter::with_clock(
            quota.get().0,
            BindingClock::from_option(clock),
        ))
    }

    /// Decides a request of `cost` units, now or at `now_ns` (a timestamp
    /// on this limiter's own timeline: feed one limiter from one clock).
    #[pyo3(signature = (cost = 1, now_ns = None))]
    fn check(
        &self,
        #[pyo3(from_py_with = args::cost)] cost: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyDecision {
        PyDecision(match now_ns {
            Some(now_ns) => self.0.check_at(cost, now_ns),
            None => self.0.check(cost),
        })
    }

    /// The bucket as it stands, charging nothing.
    #[pyo3(signature = (now_ns = None))]
    fn peek(&self, #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>) -> PyDecision {
        PyDecision(match now_ns {
            Some(now_ns) => self.0.peek_at(now_ns),
            None => self.0.peek(),
        })
    }

    /// Gives back `amount` units; the bucket never ends above its burst.
    #[pyo3(signature = (amount = 1, now_ns = None))]
    fn refund(
        &self,
        #[pyo3(from_py_with = args::amount)] amount: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyDecision {
        PyDecision(match now_ns {
            Some(now_ns) => self.0.refund_at(amount, now_ns),
            None => self.0.refund(amount),
        })
    }

    /// Replaces the quota while checks go on; capacity in use carries over,
    /// capped at the new burst.
    #[pyo3(signature = (quota, now_ns = None))]
    fn reconfigure(
        &self,
        quota: &Bound<'_, PyQuota>,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) {
        let quota = quota.get().0;
        match now_ns {
            Some(now_ns) => self.0.reconfigure_at(quota, now_ns),
            None => self.0.reconfigure(quota),
        }
    }

    /// The quota in force.
    #[getter]
    fn quota(&self) -> PyQuota {
        PyQuota(self.0.quota())
    }

    fn __repr__(&self) -> String {
        let quota = self.0.quota();
        format!(
            "Limiter(Quota.per_period_ns({}, {}, burst={}))",
            quota.count(),
            quota.period_ns(),
            quota.burst()
        )
    }
}
