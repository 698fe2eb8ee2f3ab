//! The one exception type the engine's errors become.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

create_exception!(
    floodgate,
    FloodgateError,
    PyValueError,
    "An argument floodgate refused (a zero quota, a negative cost, a key \
     too long...): every out-of-range argument raises it, with the library's \
     message. A subclass of ValueError; the call that raised it changed no state."
);

/// `floodgate::Error` as a Python exception carrying the engine's message.
pub(crate) fn engine_error(error: floodgate::Error) -> PyErr {
    FloodgateError::new_err(error.to_string())
}
