//! `floodgate.RedisInFlight`: a cap on the requests per key in flight at
//! once, kept in Redis for every process and host, its permits leases.

use crate::args;
use crate::errors::{engine_error, FloodgateError};
use crate::gil::without_gil;
use crate::store::{self, RemoteInFlight, StoreArgs};
use floodgate::store::RedisPermit;
use floodgate::Error;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// At most `limit` requests per key in flight at once, fleet-wide: every
/// process and host using the same store and prefix shares each key's cap.
/// See the stub.
#[pyclass(frozen, name = "RedisInFlight", module = "floodgate")]
pub(crate) struct PyRedisInFlight {
    caps: RemoteInFlight,
    limit: u64,
}

#[pymethods]
impl PyRedisInFlight {
    #[new]
    #[pyo3(signature = (limit, *, store, prefix = None, lease = None, deadline = None, on_failure = None))]
    fn new(
        #[pyo3(from_py_with = args::limit)] limit: u64,
        store: &Bound<'_, PyAny>,
        prefix: Option<&Bound<'_, PyAny>>,
        lease: Option<&Bound<'_, PyAny>>,
        deadline: Option<&Bound<'_, PyAny>>,
        on_failure: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let lease = lease
            .map(|value| args::duration(value, "lease"))
            .transpose()?;
        if lease.is_some_and(|lease| lease < Duration::from_micros(1)) {
            return Err(FloodgateError::new_err(
                "lease must be at least a microsecond",
            ));
        }
        let arguments = StoreArgs {
            store: Some(store),
            prefix,
            deadline,
            on_failure,
        };
        let caps = store::inflight(arguments, limit, lease)?
            .expect("store= is given, so the cap is kept in Redis");
        Ok(Self { caps, limit })
    }

    /// A permit for `key` (str or bytes) if fewer than `limit` are out
    /// fleet-wide, else None; waits for Redis without the GIL.
    fn try_acquire(&self, key: &Bound<'_, PyAny>) -> PyResult<Option<PyRedisPermit>> {
        let key = store::byte_key(key)?;
        let caps = self.caps.get()?;
        let acquisition = without_gil(|| caps.try_acquire(key)).map_err(engine_error)?;
        Ok(acquisition.permit().map(|permit| PyRedisPermit {
            in_flight: permit.in_flight(),
            limit: permit.limit(),
            lease_end_us: permit.lease_end_us(),
            permit: Mutex::new(Some(permit)),
        }))
    }

    /// The cap per key.
    #[getter]
    fn limit(&self) -> u64 {
        self.limit
    }

    /// How long a permit is held without being renewed, in seconds.
    #[getter]
    fn lease(&self) -> PyResult<f64> {
        Ok(self.caps.get()?.lease().as_secs_f64())
    }

    /// How many decisions Redis made and `on_failure` gave, and why.
    #[getter]
    fn store_counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        store::counters_dict(py, self.caps.get()?.counters())
    }

    fn __repr__(&self) -> String {
        format!("RedisInFlight({})", self.limit)
    }
}

/// A unit of a RedisInFlight cap, leased: see the stub.
#[pyclass(frozen, name = "RedisPermit", module = "floodgate")]
pub(crate) struct PyRedisPermit {
    /// None once released.
    permit: Mutex<Option<RedisPermit>>,
    in_flight: u64,
    limit: u64,
    lease_end_us: Option<u64>,
}

impl PyRedisPermit {
    /// Gives the permit back (None: Redis gave no answer, or it was this
    /// process's share's); refused once it was given back.
    fn give_back(&self) -> PyResult<Option<u64>> {
        let permit = self
            .permit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| engine_error(Error::PermitAlreadyReleased))?;
        without_gil(|| permit.release()).map_err(engine_error)
    }
}

#[pymethods]
impl PyRedisPermit {
    /// Gives the permit back: the permits of its key still out fleet-wide,
    /// or None when that is not known. A second release raises
    /// FloodgateError, as one whose lease had ended first does.
    fn release(&self) -> PyResult<Option<u64>> {
        self.give_back()
    }

    /// Renews the lease for another lease from now: whether Redis did.
    /// Raises FloodgateError when the lease had ended first.
    fn renew(&self) -> PyResult<bool> {
        let mut held = self.permit.lock().unwrap_or_else(PoisonError::into_inner);
        let permit = held
            .as_mut()
            .ok_or_else(|| engine_error(Error::PermitAlreadyReleased))?;
        without_gil(|| permit.renew()).map_err(engine_error)
    }

    /// Permits of the key out just after this one was taken (it included).
    #[getter]
    fn in_flight(&self) -> u64 {
        self.in_flight
    }

    #[getter]
    fn limit(&self) -> u64 {
        self.limit
    }

    #[getter]
    fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.in_flight)
    }

    /// The server microsecond the lease first ended at; None without a
    /// lease (granted by on_failure while Redis gave no answer).
    #[getter]
    fn lease_end_us(&self) -> Option<u64> {
        self.lease_end_us
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
        let held = self
            .permit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if held {
            self.give_back()?;
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "RedisPermit(in_flight={}, limit={})",
            self.in_flight, self.limit
        )
    }
}
