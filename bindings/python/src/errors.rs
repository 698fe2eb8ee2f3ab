//! The exceptions the engine's errors become.

use floodgate::{Error, SharedMemory};
use pyo3::create_exception;
use pyo3::exceptions::{PyNotImplementedError, PyOSError, PyTimeoutError, PyValueError};
use pyo3::PyErr;

create_exception!(
    floodgate,
    FloodgateError,
    PyValueError,
    "An argument floodgate refused (a zero quota, a negative cost, a key \
     too long...): every out-of-range argument raises it, with the library's \
     message. A subclass of ValueError; the call that raised it changed no state."
);

/// `floodgate::Error` as a Python exception carrying the engine's message:
/// FloodgateError for a refused argument (a shared segment's settings that
/// differ from the build's and a bad segment name included); the failures
/// of shared mode that are not the caller's arguments as Python raises
/// its own (see [`segment_error`]).
pub(crate) fn engine_error(error: Error) -> PyErr {
    match error {
        Error::SegmentIo { errno, .. } => PyOSError::new_err((errno, error.to_string())),
        Error::SegmentNotReady => PyTimeoutError::new_err(error.to_string()),
        Error::SharedUnsupported => PyNotImplementedError::new_err(error.to_string()),
        other => FloodgateError::new_err(other.to_string()),
    }
}

/// An error of building in, or removing, the segment `memory`: the
/// system's failure as OSError (the subclass of its errno, say
/// PermissionError, with the file), a creator that did not finish within
/// the wait as TimeoutError (naming the file), a platform without shared
/// mode as NotImplementedError, the rest as [`engine_error`].
pub(crate) fn segment_error(error: Error, memory: &SharedMemory) -> PyErr {
    let path = memory.path().display().to_string();
    match error {
        Error::SegmentIo { errno, .. } => PyOSError::new_err((errno, error.to_string(), path)),
        Error::SegmentNotReady => PyTimeoutError::new_err(format!("{error}: {path}")),
        other => engine_error(other),
    }
}
