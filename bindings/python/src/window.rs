//! `floodgate.SlidingWindow`: a sliding-window counter in one atomic word.

use crate::args;
use crate::clock::{nanos_of, BindingClock, PyManualClock, Timed};
use crate::decision::PyDecision;
use crate::errors::engine_error;
use crate::shared;
use floodgate::{Clock, SlidingWindow};
use pyo3::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// At most `limit` units per sliding `window` (GenieOS: 600 per minute per
/// workspace), the previous window weighted by its overlap. Safe from any
/// number of threads. Shared (`Arc`) so a `Policy` layering it checks this
/// very counter.
#[pyclass(frozen, name = "SlidingWindow", module = "floodgate")]
pub(crate) struct PySlidingWindow(pub(crate) Arc<SlidingWindow<BindingClock>>);

#[pymethods]
impl PySlidingWindow {
    /// An empty counter of `limit` per `window` (seconds or a timedelta),
    /// timed by `clock` (a ManualClock) or the process's monotonic clock.
    /// With `shared` (a segment's name or path) the counter lives in that
    /// segment, one counter for every process that builds this window with
    /// it, on the machine's monotonic clock; `shared_wait` bounds the wait
    /// for another process creating it.
    #[new]
    #[pyo3(
        signature = (limit, window, *, clock = None, shared = None, shared_wait = None),
        text_signature = "(limit, window, *, clock=None, shared=None, shared_wait=None)"
    )]
    fn new(
        #[pyo3(from_py_with = args::limit)] limit: u64,
        #[pyo3(from_py_with = args::window)] window: Duration,
        clock: Option<&Bound<'_, PyManualClock>>,
        shared: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = shared::wait)] shared_wait: Option<Duration>,
    ) -> PyResult<Self> {
        let builder = SlidingWindow::builder(limit, window).clock(BindingClock::from_option(clock));
        let segment = shared::segment(shared, shared_wait)?;
        let window = shared::built(segment.as_ref(), |memory| match memory {
            None => builder.build(),
            Some(memory) => builder.shared(memory).build(),
        })?;
        Ok(Self(Arc::new(window)))
    }

    /// Decides a request of `cost` units, now or at `now_ns`.
    #[pyo3(signature = (cost = 1, now_ns = None))]
    fn check(
        &self,
        #[pyo3(from_py_with = args::cost)] cost: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyDecision {
        PyDecision(self.0.check_at(cost, self.0.at_or_now(now_ns)))
    }

    /// The counter as it stands, charging nothing.
    #[pyo3(signature = (now_ns = None))]
    fn peek(&self, #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>) -> PyDecision {
        PyDecision(self.0.peek_at(self.0.at_or_now(now_ns)))
    }

    /// Gives back `amount` units; counts never go below zero.
    #[pyo3(signature = (amount = 1, now_ns = None))]
    fn refund(
        &self,
        #[pyo3(from_py_with = args::amount)] amount: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyDecision {
        PyDecision(self.0.refund_at(amount, self.0.at_or_now(now_ns)))
    }

    /// Replaces the limit while checks go on; the counts are kept.
    fn reconfigure(&self, #[pyo3(from_py_with = args::limit)] limit: u64) -> PyResult<()> {
        self.0.reconfigure(limit).map_err(engine_error)
    }

    /// Whether the counter lives in a shared segment (built with `shared=`).
    #[getter]
    fn is_shared(&self) -> bool {
        self.0.is_shared()
    }

    /// Now on this window's timeline, in nanoseconds.
    fn now_ns(&self) -> u64 {
        self.0.clock().now_ns()
    }

    /// The limit in force.
    #[getter]
    fn limit(&self) -> u64 {
        self.0.limit()
    }

    /// The window length in seconds.
    #[getter]
    fn window(&self) -> f64 {
        self.0.window().as_secs_f64()
    }

    /// The window length in nanoseconds.
    #[getter]
    fn window_ns(&self) -> u64 {
        nanos_of(self.0.window())
    }

    fn __repr__(&self) -> String {
        format!(
            "SlidingWindow({}, {})",
            self.0.limit(),
            self.0.window().as_secs_f64()
        )
    }
}
