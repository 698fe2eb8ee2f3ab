//! `floodgate.KeyedInFlight`: a cap on concurrent requests per key.

use crate::args::{self, Key};
use crate::errors::engine_error;
use crate::inflight::{PyPermit, Taken};
use crate::per_kind::{KeyKind, PerKind, Recipe};
use floodgate::{Error, KeyedInFlight, PermitToken, Result};
use pyo3::prelude::*;

/// What both tables of caps are built from.
pub(crate) struct CapsRecipe {
    limit: u64,
    capacity: usize,
}

impl Recipe for CapsRecipe {
    type Table<K: floodgate::Key + ?Sized> = KeyedInFlight<K>;

    fn build<K: KeyKind + ?Sized>(&self) -> Result<KeyedInFlight<K>> {
        KeyedInFlight::builder(self.limit)
            .capacity(self.capacity)
            .build()
    }
}

/// A permit's key, kept so the permit finds its cap again on release.
pub(crate) enum OwnedKey {
    Id(u64),
    Bytes(Box<[u8]>),
}

impl From<Key<'_>> for OwnedKey {
    fn from(key: Key<'_>) -> Self {
        match key {
            Key::Id(id) => Self::Id(id),
            Key::Bytes(bytes) => Self::Bytes(bytes.into()),
        }
    }
}

/// At most `limit` permits out at once per key (GenieOS: 4 batch calls in
/// flight per workspace). Keys are str, bytes or int, as for KeyedLimiter;
/// a key's cap is made by its first acquire and kept.
#[pyclass(frozen, name = "KeyedInFlight", module = "floodgate")]
pub(crate) struct PyKeyedInFlight {
    caps: PerKind<CapsRecipe>,
    limit: u64,
    capacity: usize,
}

impl PyKeyedInFlight {
    /// Gives `token` back to `key`'s cap.
    pub(crate) fn release(&self, key: &OwnedKey, token: PermitToken) -> Result<u64> {
        match key {
            OwnedKey::Id(id) => self.caps.ints()?.release(id, token),
            OwnedKey::Bytes(bytes) => self.caps.bytes()?.release(bytes, token),
        }
    }
}

#[pymethods]
impl PyKeyedInFlight {
    /// Caps of `limit` concurrent permits for up to `capacity` keys of each
    /// kind (int; str and bytes).
    #[new]
    fn new(
        #[pyo3(from_py_with = args::limit)] limit: u64,
        #[pyo3(from_py_with = args::capacity)] capacity: usize,
    ) -> PyResult<Self> {
        // The tables are built at first use; refuse a bad limit or capacity
        // now, as their builder would.
        floodgate::InFlight::builder(limit)
            .build()
            .map_err(engine_error)?;
        if capacity == 0 {
            return Err(engine_error(Error::ZeroCapacity));
        }
        Ok(Self {
            caps: PerKind::new(CapsRecipe { limit, capacity }),
            limit,
            capacity,
        })
    }

    /// A permit for `key` if it holds fewer than `limit`, else None. Raises
    /// FloodgateError when a new key finds no room in the table.
    fn try_acquire(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<Option<PyPermit>> {
        let key: Key<'_> = args::key(key)?;
        let permit = key
            .dispatch(
                &slf.get().caps,
                |table, id| Ok(table.try_acquire(&id)?.permit().map(Taken::from)),
                |table, bytes| Ok(table.try_acquire(bytes)?.permit().map(Taken::from)),
            )
            .map_err(engine_error)?;
        Ok(permit.map(|taken| PyPermit::keyed(slf.clone().unbind(), key.into(), taken)))
    }

    /// Permits `key` holds now (a snapshot: other threads move it).
    fn in_flight(&self, key: &Bound<'_, PyAny>) -> PyResult<u64> {
        self.caps.for_key(
            key,
            |table, id| Ok(table.in_flight(&id)),
            |table, bytes| table.in_flight(bytes),
        )
    }

    /// The cap per key.
    #[getter]
    fn limit(&self) -> u64 {
        self.limit
    }

    /// How many keys of each kind (int; str and bytes) the table holds.
    #[getter]
    fn capacity(&self) -> usize {
        self.capacity
    }

    fn __repr__(&self) -> String {
        format!("KeyedInFlight({}, {})", self.limit, self.capacity)
    }
}
