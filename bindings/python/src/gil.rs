//! Long engine work without the GIL.
//!
//! Building a keyed table writes every slot: 206 ms for 2^25 slots, during
//! which no other Python thread could run if the builder kept the GIL.

use pyo3::marker::Ungil;
use pyo3::prelude::*;

/// Runs `work` with the GIL released (the calling thread is attached, as
/// every call from Python is; `attach` then only hands out the token).
pub(crate) fn without_gil<T: Ungil>(work: impl Ungil + FnOnce() -> T) -> T {
    Python::attach(|py| py.detach(work))
}
