//! Python arguments into the engine's integers and durations, with the
//! `ValueError` / `TypeError` a Python caller expects instead of PyO3's
//! `OverflowError` for a negative int.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDelta, PyFloat, PyInt};
use std::time::Duration;

const NANOS_PER_SECOND: f64 = 1e9;

/// An int in `0..2**64`: a count, a cost or a timestamp named `name`.
pub(crate) fn unsigned(value: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    match value.extract::<u64>() {
        Ok(number) => Ok(number),
        Err(_) if value.is_instance_of::<PyInt>() => Err(PyValueError::new_err(format!(
            "{name} must be between 0 and 2**64 - 1, got {value}"
        ))),
        Err(_) => Err(type_error(value, name, "an int")),
    }
}

/// `cost=`: the units a check charges.
pub(crate) fn cost(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    unsigned(value, "cost")
}

/// `amount=`: the units a refund gives back.
pub(crate) fn amount(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    unsigned(value, "amount")
}

/// `now_ns=`: a caller-supplied timestamp, or `None` for the limiter's clock.
pub(crate) fn timestamp(value: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    if value.is_none() {
        return Ok(None);
    }
    unsigned(value, "now_ns").map(Some)
}

/// A span of time given as seconds (int or float) or a `datetime.timedelta`.
/// Float seconds round to the nearest nanosecond.
pub(crate) fn duration(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Duration> {
    if value.is_instance_of::<PyInt>() {
        return unsigned(value, name).map(Duration::from_secs);
    }
    if let Ok(float) = value.cast::<PyFloat>() {
        let nanos = (float.value() * NANOS_PER_SECOND).round();
        // 2^64 is exactly representable; anything at or above it, NaN and
        // negatives fail this test (NaN compares false).
        if !(0.0..18_446_744_073_709_551_616.0).contains(&nanos) {
            return Err(PyValueError::new_err(format!(
                "{name} must be between 0 and about 584 years in seconds, got {value}"
            )));
        }
        return Ok(Duration::from_nanos(nanos as u64));
    }
    if value.is_instance_of::<PyDelta>() {
        return value.extract::<Duration>().map_err(|_| {
            PyValueError::new_err(format!("{name} must not be negative, got {value}"))
        });
    }
    Err(type_error(
        value,
        name,
        "seconds (int or float) or a datetime.timedelta",
    ))
}

fn type_error(value: &Bound<'_, PyAny>, name: &str, expected: &str) -> PyErr {
    let found = value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |name| name.to_string());
    PyTypeError::new_err(format!("{name} must be {expected}, got {found}"))
}
