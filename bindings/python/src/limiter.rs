//! `floodgate.Limiter`: one lock-free GCRA bucket.

use crate::args;
use crate::clock::{BindingClock, PyManualClock, Timed};
use crate::decision::PyDecision;
use crate::quota::PyQuota;
use crate::shared;
use floodgate::{Clock, Limiter};
use pyo3::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// One rate-limited bucket, safe to call from any number of threads.
///
/// Methods keep the GIL: a check takes tens of nanoseconds, less than
/// releasing and re-taking the GIL would cost, and it never blocks.
///
/// The bucket is shared (`Arc`) so that a `Policy` layering it keeps using
/// the very bucket this object checks.
#[pyclass(frozen, name = "Limiter", module = "floodgate")]
pub(crate) struct PyLimiter(pub(crate) Arc<Limiter<BindingClock>>);

#[pymethods]
impl PyLimiter {
    /// A full bucket for `quota`, timed by `clock` (a ManualClock) or by the
    /// process's monotonic clock. With `shared` (a segment's name or path)
    /// the bucket lives in that segment, one bucket for every process that
    /// builds this limiter with it, on the machine's monotonic clock;
    /// `shared_wait` bounds the wait for another process creating it.
    #[new]
    #[pyo3(
        signature = (quota, *, clock = None, shared = None, shared_wait = None),
        text_signature = "(quota, *, clock=None, shared=None, shared_wait=None)"
    )]
    fn new(
        quota: &Bound<'_, PyQuota>,
        clock: Option<&Bound<'_, PyManualClock>>,
        shared: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = shared::wait)] shared_wait: Option<Duration>,
    ) -> PyResult<Self> {
        let builder = Limiter::builder(quota.get().0).clock(BindingClock::from_option(clock));
        let segment = shared::segment(shared, shared_wait)?;
        let limiter = shared::built(segment.as_ref(), |memory| match memory {
            None => Ok(builder.build()),
            Some(memory) => builder.shared(memory).build(),
        })?;
        Ok(Self(Arc::new(limiter)))
    }

    /// Decides a request of `cost` units, now or at `now_ns` (a timestamp
    /// on this limiter's timeline: see `now_ns()`).
    #[pyo3(signature = (cost = 1, now_ns = None))]
    fn check(
        &self,
        #[pyo3(from_py_with = args::cost)] cost: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyDecision {
        PyDecision(self.0.check_at(cost, self.0.at_or_now(now_ns)))
    }

    /// Delay instead of reject: when `cost` fits within `max_wait` (seconds
    /// or a timedelta), reserves it now and admits, with `delay` the wait
    /// before proceeding; otherwise denies and charges nothing. Cancel a
    /// reservation by refunding its cost.
    #[pyo3(signature = (cost, max_wait, now_ns = None))]
    fn reserve(
        &self,
        #[pyo3(from_py_with = args::cost)] cost: u64,
        #[pyo3(from_py_with = args::max_wait)] max_wait: Duration,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyDecision {
        PyDecision(self.0.reserve_at(cost, max_wait, self.0.at_or_now(now_ns)))
    }

    /// The bucket as it stands, charging nothing.
    #[pyo3(signature = (now_ns = None))]
    fn peek(&self, #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>) -> PyDecision {
        PyDecision(self.0.peek_at(self.0.at_or_now(now_ns)))
    }

    /// Gives back `amount` units; the bucket never ends above its burst.
    #[pyo3(signature = (amount = 1, now_ns = None))]
    fn refund(
        &self,
        #[pyo3(from_py_with = args::amount)] amount: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyDecision {
        PyDecision(self.0.refund_at(amount, self.0.at_or_now(now_ns)))
    }

    /// Replaces the quota while checks go on; capacity in use carries over,
    /// capped at the new burst.
    #[pyo3(signature = (quota, now_ns = None))]
    fn reconfigure(
        &self,
        quota: &Bound<'_, PyQuota>,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) {
        self.0
            .reconfigure_at(quota.get().0, self.0.at_or_now(now_ns));
    }

    /// Suspends the bucket until `until_ns` on its timeline, or
    /// indefinitely with None: checks answer SUSPENDED and charge nothing,
    /// and the bucket keeps its state for when the suspension ends.
    fn suspend_until(&self, #[pyo3(from_py_with = args::until_ns)] until_ns: Option<u64>) {
        self.0.suspend_until(until_ns);
    }

    /// Suspends the bucket for `seconds` (int, float or timedelta) from now.
    fn suspend_for(&self, #[pyo3(from_py_with = args::seconds)] seconds: Duration) {
        self.0.suspend_for(seconds);
    }

    /// Ends a suspension; the next check is decided by the bucket again.
    fn lift_suspension(&self) {
        self.0.lift_suspension();
    }

    /// Now on this limiter's timeline, in nanoseconds: its ManualClock's
    /// time, or the process's monotonic clock shared by every floodgate
    /// object built without one (a shared limiter's: the machine's one
    /// timeline, within some 10 ppm of `time.monotonic_ns()`).
    fn now_ns(&self) -> u64 {
        self.0.clock().now_ns()
    }

    /// The quota in force.
    #[getter]
    fn quota(&self) -> PyQuota {
        PyQuota(self.0.quota())
    }

    /// Whether the bucket lives in a shared segment (built with `shared=`).
    #[getter]
    fn is_shared(&self) -> bool {
        self.0.is_shared()
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
