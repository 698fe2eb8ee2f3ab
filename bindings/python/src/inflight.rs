//! `floodgate.InFlight` and `floodgate.Permit`: a cap on concurrent requests.

use crate::args;
use crate::errors::engine_error;
use crate::keyed_inflight::{OwnedKey, PyKeyedInFlight};
use crate::shared;
use floodgate::{Error, InFlight, PermitToken};
use pyo3::prelude::*;
use std::time::Duration;

/// At most `limit` permits out at once (GenieOS: 4 batch calls in flight per
/// workspace). Lock-free and safe from any number of threads.
#[pyclass(frozen, name = "InFlight", module = "floodgate")]
pub(crate) struct PyInFlight(InFlight);

/// One unit of an InFlight or KeyedInFlight cap. Give it back with
/// `release()`, by leaving a `with` block, or by dropping the last reference
/// to it.
#[pyclass(frozen, name = "Permit", module = "floodgate")]
pub(crate) struct PyPermit {
    source: PermitSource,
    token: PermitToken,
    in_flight: u64,
    limit: u64,
}

/// The cap a permit goes back to.
enum PermitSource {
    Cap(Py<PyInFlight>),
    Keyed {
        caps: Py<PyKeyedInFlight>,
        key: OwnedKey,
    },
}

/// A permit's unit and the figures its getters report, taken out of the
/// engine's borrowed `Permit`.
pub(crate) struct Taken {
    token: PermitToken,
    in_flight: u64,
    limit: u64,
}

impl From<floodgate::Permit<'_>> for Taken {
    fn from(permit: floodgate::Permit<'_>) -> Self {
        let (in_flight, limit) = (permit.in_flight(), permit.limit());
        Self {
            token: permit.into_token(),
            in_flight,
            limit,
        }
    }
}

impl PyPermit {
    /// A permit taken from `source`.
    fn taken(source: PermitSource, taken: Taken) -> Self {
        Self {
            source,
            token: taken.token,
            in_flight: taken.in_flight,
            limit: taken.limit,
        }
    }

    /// A permit of `key`'s cap in `caps`.
    pub(crate) fn keyed(caps: Py<PyKeyedInFlight>, key: OwnedKey, taken: Taken) -> Self {
        Self::taken(PermitSource::Keyed { caps, key }, taken)
    }

    /// Gives the unit back to its cap; the cap refuses a second release.
    fn give_back(&self) -> floodgate::Result<u64> {
        match &self.source {
            PermitSource::Cap(cap) => cap.get().0.release(self.token),
            PermitSource::Keyed { caps, key } => caps.get().release(key, self.token),
        }
    }
}

#[pymethods]
impl PyInFlight {
    /// A cap of `limit` concurrent permits, none out. With `shared` (a
    /// segment's name or path) the permits live in that segment, one cap
    /// for every process that builds it with it (a dead process's permits
    /// come back); `shared_wait` bounds the wait for another process
    /// creating it.
    #[new]
    #[pyo3(
        signature = (limit, *, shared = None, shared_wait = None),
        text_signature = "(limit, *, shared=None, shared_wait=None)"
    )]
    fn new(
        #[pyo3(from_py_with = args::limit)] limit: u64,
        shared: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = shared::wait)] shared_wait: Option<Duration>,
    ) -> PyResult<Self> {
        let builder = InFlight::builder(limit);
        let segment = shared::segment(shared, shared_wait)?;
        shared::built(segment.as_ref(), |memory| match memory {
            None => builder.build(),
            Some(memory) => builder.shared(memory).build(),
        })
        .map(Self)
    }

    /// A permit if fewer than `limit` are out, else None.
    fn try_acquire(slf: &Bound<'_, Self>) -> Option<PyPermit> {
        let permit = slf.get().0.try_acquire().permit()?;
        Some(PyPermit::taken(
            PermitSource::Cap(slf.clone().unbind()),
            permit.into(),
        ))
    }

    /// The cap.
    #[getter]
    fn limit(&self) -> u64 {
        self.0.limit()
    }

    /// Permits out right now (a snapshot: other threads move it).
    #[getter]
    fn in_flight(&self) -> u64 {
        self.0.in_flight()
    }

    /// Whether the permits live in a shared segment (built with `shared=`).
    #[getter]
    fn is_shared(&self) -> bool {
        self.0.is_shared()
    }

    fn __repr__(&self) -> String {
        format!(
            "InFlight({}, in_flight={})",
            self.0.limit(),
            self.0.in_flight()
        )
    }
}

#[pymethods]
impl PyPermit {
    /// Gives the permit back; returns the permits out afterwards. A second
    /// release raises FloodgateError and changes nothing.
    fn release(&self) -> PyResult<u64> {
        self.give_back().map_err(engine_error)
    }

    /// Permits out just after this one was taken, this one included.
    #[getter]
    fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// The cap's limit.
    #[getter]
    fn limit(&self) -> u64 {
        self.limit
    }

    /// Permits that could still be taken just after this one was.
    #[getter]
    fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.in_flight)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Releases the permit unless the block already did; never swallows the
    /// block's exception.
    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        match self.give_back() {
            Ok(_) | Err(Error::PermitAlreadyReleased) => Ok(false),
            Err(other) => Err(engine_error(other)),
        }
    }

    fn __repr__(&self) -> String {
        format!("Permit(in_flight={}, limit={})", self.in_flight, self.limit)
    }
}

impl Drop for PyPermit {
    /// A permit dropped while held gives its unit back, as Rust's Permit does;
    /// one already released is refused by the cap and nothing changes.
    fn drop(&mut self) {
        let _already_released_is_fine = self.give_back();
    }
}
