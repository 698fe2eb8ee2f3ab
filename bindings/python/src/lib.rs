//! The `floodgate._floodgate` extension module: Python classes over the
//! floodgate engine. The pure-Python package `floodgate` re-exports them.

mod args;
mod clock;
mod decision;
mod errors;
mod gil;
mod headers;
mod inflight;
mod keyed;
mod keyed_inflight;
mod keyed_windows;
mod lease;
mod limiter;
mod notation;
mod per_kind;
mod plans;
mod policy;
mod quota;
mod redis_inflight;
mod retry;
mod shared;
mod store;
mod suspensions;
mod window;

use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_floodgate")]
fn floodgate_module(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<quota::PyQuota>()?;
    module.add_class::<decision::PyOutcome>()?;
    module.add_class::<decision::PyDecision>()?;
    module.add_class::<clock::PyManualClock>()?;
    module.add_class::<limiter::PyLimiter>()?;
    module.add_class::<window::PySlidingWindow>()?;
    module.add_class::<keyed::PyKeyedLimiter>()?;
    module.add_class::<keyed_windows::PyKeyedWindows>()?;
    module.add_class::<policy::PyPolicy>()?;
    module.add_class::<policy::PyVerdict>()?;
    module.add_class::<inflight::PyInFlight>()?;
    module.add_class::<inflight::PyPermit>()?;
    module.add_class::<keyed_inflight::PyKeyedInFlight>()?;
    module.add_class::<suspensions::PySuspensions>()?;
    module.add_class::<plans::PyPlans>()?;
    module.add_class::<headers::PyRateLimitPolicy>()?;
    module.add_class::<headers::PyHeaders>()?;
    module.add_class::<headers::PyErrorBody>()?;
    module.add_class::<store::PyRedisLayers>()?;
    module.add_class::<redis_inflight::PyRedisInFlight>()?;
    module.add_class::<redis_inflight::PyRedisPermit>()?;
    module.add_class::<lease::PyLeasedLimiter>()?;
    module.add_class::<lease::PyLeasedLayers>()?;
    module.add_class::<retry::PyRetryPolicy>()?;
    module.add_class::<retry::PyRetry>()?;
    module.add_function(wrap_pyfunction!(retry::py_parse_retry_after, module)?)?;
    module.add_function(wrap_pyfunction!(shared::remove_segment, module)?)?;
    module.add("MAX_KEY_LEN", floodgate::MAX_KEY_LEN)?;
    module.add(
        "FloodgateError",
        module.py().get_type::<errors::FloodgateError>(),
    )?;
    Ok(())
}
