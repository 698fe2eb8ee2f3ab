//! `floodgate.KeyedInFlight`: a cap on concurrent requests per key.

use crate::args::{self, Key};
use crate::errors::engine_error;
use crate::inflight::{PyPermit, Taken};
use crate::per_kind::{KeyKind, PerKind, Recipe};
use crate::shared::{self, Segment};
use floodgate::{Error, KeyedInFlight, PermitToken, Result};
use pyo3::prelude::*;
use std::time::Duration;

/// What both tables of caps are built from.
pub(crate) struct CapsRecipe {
    limit: u64,
    capacity: usize,
    shared: Option<Segment>,
}

impl Recipe for CapsRecipe {
    type Table<K: floodgate::Key + ?Sized> = KeyedInFlight<K>;

    fn build<K: KeyKind + ?Sized>(&self) -> Result<KeyedInFlight<K>> {
        let builder = KeyedInFlight::builder(self.limit).capacity(self.capacity);
        let builder = match &self.shared {
            Some(segment) => builder.shared(K::segment(segment)),
            None => builder,
        };
        builder.build()
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
    /// kind (int; str and bytes). With `shared` (a segment's name or path)
    /// the caps live in shared segments (int keys in the one beside it,
    /// with ".int" appended), one cap per key for every process that builds
    /// them with it (a dead process's permits come back); `shared_wait`
    /// bounds the wait for another process creating them.
    #[new]
    #[pyo3(
        signature = (limit, capacity, *, shared = None, shared_wait = None),
        text_signature = "(limit, capacity, *, shared=None, shared_wait=None)"
    )]
    fn new(
        #[pyo3(from_py_with = args::limit)] limit: u64,
        #[pyo3(from_py_with = args::capacity)] capacity: usize,
        shared: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = shared::wait)] shared_wait: Option<Duration>,
    ) -> PyResult<Self> {
        // The tables are built at first use; refuse a bad limit or capacity
        // now, as their builder would.
        floodgate::InFlight::builder(limit)
            .build()
            .map_err(engine_error)?;
        if capacity == 0 {
            return Err(engine_error(Error::ZeroCapacity));
        }
        let shared = shared::segment(shared, shared_wait)?;
        let caps = PerKind::new(CapsRecipe {
            limit,
            capacity,
            shared: shared.clone(),
        });
        if shared.is_some() {
            // The int keys' segment waits for the first int key, as
            // KeyedLimiter's does.
            caps.open_bytes(shared.as_ref())?;
        }
        Ok(Self {
            caps,
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

    /// Whether the caps live in shared segments (built with `shared=`):
    /// the byte-key table, built with a shared object, tells.
    #[getter]
    fn is_shared(&self) -> bool {
        self.caps
            .built()
            .bytes
            .is_some_and(KeyedInFlight::is_shared)
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
