//! Shared mode in Python: the `shared=` and `shared_wait=` arguments, the
//! segments they name, and `floodgate.remove_segment`.
//!
//! Every kind takes them, and builds through [`built`] (an unkeyed kind,
//! Plans) or its per-kind tables (`PerKind::open_bytes`). A segment is
//! named by a `str` (`SharedMemory::named`: a file in /dev/shm) or by an
//! `os.PathLike` (`SharedMemory::at`: that file). A keyed limit keeps its
//! int keys in a table of their own, which the engine places in a segment
//! of its own: the file beside the named one, with ".int" appended.

use crate::args;
use crate::clock::BindingClock;
use crate::errors::{engine_error, segment_error};
use crate::gil::without_gil;
use floodgate::{Clock, Result, SharedMemory};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// The segment a `shared=` argument names, with the wait `shared_wait=`
/// gives (the engine's default without one).
#[derive(Clone)]
pub(crate) struct Segment {
    memory: SharedMemory,
    wait: Option<Duration>,
}

impl Segment {
    fn new(memory: SharedMemory, wait: Option<Duration>) -> Self {
        let memory = match wait {
            Some(wait) => memory.wait(wait),
            None => memory,
        };
        Self { memory, wait }
    }

    /// The segment itself: an unkeyed kind's state, every table of a
    /// Plans, a keyed limit's byte keys.
    pub(crate) fn memory(&self) -> &SharedMemory {
        &self.memory
    }

    /// The segment of a keyed limit's int keys, beside this one.
    pub(crate) fn int_keys(&self) -> SharedMemory {
        let mut path = OsString::from(self.memory.path());
        path.push(".int");
        Self::new(SharedMemory::at(path), self.wait).memory
    }
}

/// A segment's name (`str`) or path (`os.PathLike`), named `argument` in
/// the messages.
fn named(value: &Bound<'_, PyAny>, argument: &str) -> PyResult<SharedMemory> {
    if let Ok(name) = value.cast::<PyString>() {
        return SharedMemory::named(name.to_str()?).map_err(engine_error);
    }
    let path_like = value.py().import("os")?.getattr("PathLike")?;
    if value.is_instance(&path_like)? {
        return Ok(SharedMemory::at(value.extract::<PathBuf>()?));
    }
    let found = value.get_type().name()?;
    Err(PyTypeError::new_err(format!(
        "{argument} must be a segment name (str) or a path (os.PathLike), got {found}"
    )))
}

/// `shared_wait=`: seconds (int or float) or a timedelta, or None.
pub(crate) fn wait(value: &Bound<'_, PyAny>) -> PyResult<Option<Duration>> {
    args::optional(value, |value| args::duration(value, "shared_wait"))
}

/// `shared=` and `shared_wait=` of a limiter's constructor: the segment
/// its state lives in, or None for state of its own.
pub(crate) fn segment(
    shared: Option<&Bound<'_, PyAny>>,
    wait: Option<Duration>,
) -> PyResult<Option<Segment>> {
    match shared {
        Some(shared) => Ok(Some(Segment::new(named(shared, "shared")?, wait))),
        None if wait.is_some() => Err(PyTypeError::new_err(
            "shared_wait is the wait for a shared segment: give shared= too",
        )),
        None => Ok(None),
    }
}

/// What `build` makes in `segment` (given its memory), or of its own
/// without one (given None). It runs without the GIL: it may write a large
/// table, or wait for another process creating the segment. Its errors in
/// a segment name the segment's file ([`segment_error`]).
pub(crate) fn built<T: Send>(
    segment: Option<&Segment>,
    build: impl Send + FnOnce(Option<SharedMemory>) -> Result<T>,
) -> PyResult<T> {
    let memory = segment.map(Segment::memory);
    without_gil(|| build(memory.cloned())).map_err(|error| match memory {
        Some(memory) => segment_error(error, memory),
        None => engine_error(error),
    })
}

/// The timeline of a limit kept in `segment`: the machine's, which every
/// process charging it reads, for a monotonic clock (a ManualClock stays
/// the caller's); `clock` itself for a limit of its own. The engine moves a
/// shared table to it when building; a keyed limit's recipe, which answers
/// `now_ns()` before its tables are built, moves with it.
pub(crate) fn timeline(clock: BindingClock, segment: Option<&Segment>) -> BindingClock {
    match segment {
        Some(_) => clock.system_wide(),
        None => clock,
    }
}

/// Deletes the segment `shared` names (a str name or an os.PathLike path)
/// and the segment of int keys beside it, if they exist. Processes that
/// have them mapped keep using them; the next limiter built with this
/// name creates new ones, so remove a segment once every process using it
/// has stopped (or to start afresh after changing its limiter's settings).
#[pyfunction]
pub(crate) fn remove_segment(shared: &Bound<'_, PyAny>) -> PyResult<()> {
    let segment = Segment::new(named(shared, "the segment")?, None);
    let int_keys = segment.int_keys();
    for memory in [segment.memory(), &int_keys] {
        memory
            .remove()
            .map_err(|error| segment_error(error, memory))?;
    }
    Ok(())
}
