//! Python arguments into the engine's integers and durations, with the
//! errors a Python caller expects instead of PyO3's `OverflowError` for a
//! negative int: `TypeError` for the wrong type (`bool` included: `True`
//! is an int to Python, but never a count or a cost), `FloodgateError` (a
//! `ValueError`) for a value out of range, as the engine's own refusals.

use crate::errors::FloodgateError;
use floodgate::{FullTable, LayerKey};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDelta, PyFloat, PyInt, PyString};
use std::time::Duration;

const NANOS_PER_SECOND: f64 = 1e9;

/// An int in `0..2**64`: a count, a cost or a timestamp named `name`.
pub(crate) fn unsigned(value: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    int_up_to(value, name, "2**64 - 1")
}

/// An int that `T` holds (from 0 to `max`, as the message writes it).
fn int_up_to<'py, T: FromPyObjectOwned<'py>>(
    value: &Bound<'py, PyAny>,
    name: &str,
    max: &str,
) -> PyResult<T> {
    if value.is_instance_of::<PyBool>() {
        return Err(type_error(value, name, "an int"));
    }
    match value.extract::<T>() {
        Ok(number) => Ok(number),
        Err(_) if value.is_instance_of::<PyInt>() => Err(FloodgateError::new_err(format!(
            "{name} must be between 0 and {max}, got {value}"
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

/// `limit=`: the units a window or cap allows.
pub(crate) fn limit(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    unsigned(value, "limit")
}

/// `capacity=`: the keys a table holds (of each kind, for a keyed limit).
pub(crate) fn capacity(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    size(value, "capacity")
}

/// `window=`: a sliding window's length.
pub(crate) fn window(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    duration(value, "window")
}

/// `max_wait=`: how long a reservation may make its caller wait.
pub(crate) fn max_wait(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    duration(value, "max_wait")
}

/// `seconds=`: a span from now (a suspension, a clock's step).
pub(crate) fn seconds(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    duration(value, "seconds")
}

/// `until_ns=`: a suspension's end, or `None` for one without an end.
pub(crate) fn until_ns(value: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    optional_unsigned(value, "until_ns")
}

/// `None`, or what `required` makes of `value`.
pub(crate) fn optional<'py, T>(
    value: &Bound<'py, PyAny>,
    required: impl FnOnce(&Bound<'py, PyAny>) -> PyResult<T>,
) -> PyResult<Option<T>> {
    if value.is_none() {
        return Ok(None);
    }
    required(value).map(Some)
}

/// `None`, or an int in `0..2**64` named `name`.
pub(crate) fn optional_unsigned(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Option<u64>> {
    optional(value, |value| unsigned(value, name))
}

/// `now_ns=`: a caller-supplied timestamp, or `None` for the limiter's clock.
pub(crate) fn timestamp(value: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    optional_unsigned(value, "now_ns")
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
            return Err(FloodgateError::new_err(format!(
                "{name} must be between 0 and about 584 years in seconds, got {value}"
            )));
        }
        return Ok(Duration::from_nanos(nanos as u64));
    }
    if value.is_instance_of::<PyDelta>() {
        return value.extract::<Duration>().map_err(|_| {
            FloodgateError::new_err(format!("{name} must not be negative, got {value}"))
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

/// A key of a keyed limiter: `str` (its UTF-8 bytes, borrowed from the
/// string), `bytes`, or an int in `0..2**64`. A str and the bytes of its
/// UTF-8 encoding are one key; ints are keys of their own kind. Empty and
/// oversized byte keys are the engine's to refuse; a str with a lone
/// surrogate has no UTF-8 bytes, and is out of range like them.
pub(crate) fn key<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<Key<'a>> {
    if let Ok(text) = value.cast::<PyString>() {
        let utf8 = text.to_str().map_err(|_| {
            FloodgateError::new_err("key must be valid Unicode: a lone surrogate has no UTF-8 form")
        })?;
        return Ok(Key::Bytes(utf8.as_bytes()));
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(Key::Bytes(bytes.as_bytes()));
    }
    // A bool is an int to Python, but as a key it is a mistake.
    if value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>() {
        return unsigned(value, "key").map(Key::Id);
    }
    Err(type_error(value, "key", "str, bytes or int"))
}

/// The two kinds of key a Python keyed limit takes.
#[derive(Clone, Copy)]
pub(crate) enum Key<'a> {
    Id(u64),
    Bytes(&'a [u8]),
}

impl<'a> Key<'a> {
    /// The same key as a policy layer is asked about it.
    pub(crate) fn layer_key(self) -> LayerKey<'a> {
        match self {
            Self::Id(id) => LayerKey::Id(id),
            Self::Bytes(bytes) => LayerKey::Bytes(bytes),
        }
    }
}

/// A policy layer's key: None for an unkeyed layer, else as [`key`].
pub(crate) fn layer_key<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<LayerKey<'a>> {
    if value.is_none() {
        return Ok(LayerKey::Unkeyed);
    }
    key(value).map(Key::layer_key)
}

/// `on_full=`: what a new key gets when the table has no slot for it.
pub(crate) fn full_table(value: &Bound<'_, PyAny>) -> PyResult<FullTable> {
    let Ok(name) = value.cast::<PyString>() else {
        return Err(type_error(value, "on_full", "a str"));
    };
    match name.to_str()? {
        "deny" => Ok(FullTable::Deny),
        "admit" => Ok(FullTable::Admit),
        "overflow" => Ok(FullTable::Overflow),
        other => Err(FloodgateError::new_err(format!(
            "on_full must be 'deny', 'admit' or 'overflow', got {other:?}"
        ))),
    }
}

/// `capacity=` and other sizes.
pub(crate) fn size(value: &Bound<'_, PyAny>, name: &str) -> PyResult<usize> {
    let size = unsigned(value, name)?;
    usize::try_from(size).map_err(|_| {
        FloodgateError::new_err(format!("{name} must fit this platform's usize, got {size}"))
    })
}

/// A count that fits in 32 bits: retries, growth factors.
pub(crate) fn small(value: &Bound<'_, PyAny>, name: &str) -> PyResult<u32> {
    int_up_to(value, name, "2**32 - 1")
}
