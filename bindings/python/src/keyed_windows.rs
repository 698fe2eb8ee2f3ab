//! `floodgate.KeyedWindows`: one sliding window per key (per workspace).

use crate::args;
use crate::clock::{nanos_of, BindingClock, PyManualClock, Timed};
use crate::decision::PyDecision;
use crate::per_kind::{KeyKind, PerKind, Recipe};
use crate::shared::{self, Segment};
use crate::store::{self, StoreArgs};
use floodgate::{FullTable, KeyedWindows, Layer, Result};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;
use std::time::Duration;

/// Keys the table holds when no capacity is given.
const DEFAULT_CAPACITY: usize = 10_000;

/// Everything the two tables of windows are built from.
pub(crate) struct WindowsRecipe {
    limit: u64,
    window: Duration,
    capacity: usize,
    on_full: FullTable,
    clock: BindingClock,
    shared: Option<Segment>,
}

impl Recipe for WindowsRecipe {
    type Table<K: floodgate::Key + ?Sized> = KeyedWindows<K, BindingClock>;

    fn build<K: KeyKind + ?Sized>(&self) -> Result<KeyedWindows<K, BindingClock>> {
        let builder = KeyedWindows::<K>::builder(self.limit, self.window)
            .capacity(self.capacity)
            .on_full(self.on_full);
        let builder = match &self.shared {
            Some(segment) => builder.shared(K::segment(segment)),
            None => builder,
        };
        builder.clock(self.clock.clone()).build()
    }
}

impl Timed for WindowsRecipe {
    fn binding_clock(&self) -> &BindingClock {
        &self.clock
    }
}

pub(crate) type WindowTables = PerKind<WindowsRecipe>;

/// At most `limit` units per sliding `window` for each key (GenieOS: 600
/// requests per minute per workspace). A key's window is made by its first
/// check and kept; keys are str, bytes or int, as for KeyedLimiter.
#[pyclass(frozen, name = "KeyedWindows", module = "floodgate")]
pub(crate) struct PyKeyedWindows {
    pub(crate) tables: Arc<WindowTables>,
    limit: u64,
    window: Duration,
    capacity: usize,
    /// With `store=`: the windows kept in Redis, which every call goes to
    /// instead of `tables` (then never built).
    pub(crate) remote: Option<store::RemoteWindows>,
}

#[pymethods]
impl PyKeyedWindows {
    /// Windows of `limit` per `window` (seconds or a timedelta) for up to
    /// `capacity` keys of each kind; a key that finds no room gets
    /// `on_full`'s answer. With `shared` (a segment's name or path) the
    /// tables live in shared segments (int keys in the one beside it, with
    /// ".int" appended), one set of windows for every process that builds
    /// these windows with it, on the machine's monotonic clock;
    /// `shared_wait` bounds the wait for another process creating them.
    /// With `store` (a Redis URL, or a Redis Cluster's node URLs) the
    /// windows live in Redis instead, one set for every process and host
    /// using that server and `prefix`; see the stub.
    #[new]
    #[pyo3(
        signature = (limit, window, *, capacity = DEFAULT_CAPACITY, on_full = FullTable::Deny, clock = None, shared = None, shared_wait = None, store = None, prefix = None, deadline = None, on_failure = None),
        text_signature = "(limit, window, *, capacity=10000, on_full='deny', clock=None, shared=None, shared_wait=None, store=None, prefix=None, deadline=None, on_failure=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        #[pyo3(from_py_with = args::limit)] limit: u64,
        #[pyo3(from_py_with = args::window)] window: Duration,
        #[pyo3(from_py_with = args::capacity)] capacity: usize,
        #[pyo3(from_py_with = args::full_table)] on_full: FullTable,
        clock: Option<&Bound<'_, PyManualClock>>,
        shared: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = shared::wait)] shared_wait: Option<Duration>,
        store: Option<&Bound<'_, PyAny>>,
        prefix: Option<&Bound<'_, PyAny>>,
        deadline: Option<&Bound<'_, PyAny>>,
        on_failure: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        if store.is_some() && (shared.is_some() || clock.is_some()) {
            return Err(PyTypeError::new_err(
                "store= keeps the windows in Redis, timed by the server's clock: \
                 it takes neither shared= nor clock=",
            ));
        }
        let arguments = StoreArgs {
            store,
            prefix,
            deadline,
            on_failure,
        };
        let remote = store::windows(arguments, limit, window)?;
        let shared = shared::segment(shared, shared_wait)?;
        let tables = PerKind::new(WindowsRecipe {
            limit,
            window,
            capacity,
            on_full,
            clock: shared::timeline(BindingClock::from_option(clock), shared.as_ref()),
            shared: shared.clone(),
        });
        // Windows take 8 bytes per slot until used: build both tables now,
        // so the engine refuses a bad limit, window, capacity or segment
        // here (kept in Redis, the tables are never used).
        if remote.is_none() {
            tables.open_bytes(shared.as_ref())?;
            tables.open_ints(shared.as_ref())?;
        }
        Ok(Self {
            tables: Arc::new(tables),
            limit,
            window,
            capacity,
            remote,
        })
    }

    /// Decides a request of `cost` units for `key`, now or at `now_ns`.
    #[pyo3(signature = (key, cost = 1, now_ns = None))]
    fn check(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::cost)] cost: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<PyDecision> {
        if let Some(remote) = &self.remote {
            return store::decide(remote, key, now_ns, |windows, key, now_us| match now_us {
                Some(now_us) => windows.check_at(key, cost, now_us),
                None => windows.check(key, cost),
            });
        }
        self.tables.decide_at(
            key,
            now_ns,
            |table, id, now| table.check_at(&id, cost, now),
            |table, bytes, now| table.check_at(bytes, cost, now),
        )
    }

    /// `key`'s window as it stands, charging nothing; a key not seen yet
    /// reads as an empty window and is not inserted.
    #[pyo3(signature = (key, now_ns = None))]
    fn peek(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<PyDecision> {
        if let Some(remote) = &self.remote {
            return store::decide(remote, key, now_ns, |windows, key, now_us| match now_us {
                Some(now_us) => windows.peek_at(key, now_us),
                None => windows.peek(key),
            });
        }
        self.tables.decide_at(
            key,
            now_ns,
            |table, id, now| table.peek_at(&id, now),
            |table, bytes, now| table.peek_at(bytes, now),
        )
    }

    /// Gives back `amount` units charged to `key`; counts never go below zero.
    #[pyo3(signature = (key, amount = 1, now_ns = None))]
    fn refund(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::amount)] amount: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<PyDecision> {
        if let Some(remote) = &self.remote {
            return store::decide(remote, key, now_ns, |windows, key, now_us| match now_us {
                Some(now_us) => windows.refund_at(key, amount, now_us),
                None => windows.refund(key, amount),
            });
        }
        self.tables.decide_at(
            key,
            now_ns,
            |table, id, now| table.refund_at(&id, amount, now),
            |table, bytes, now| table.refund_at(bytes, amount, now),
        )
    }

    /// Empties `key`'s counts (an operator forgiving a workspace); a key
    /// never counted is left as it is.
    #[pyo3(signature = (key, now_ns = None))]
    fn reset(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<()> {
        self.local("reset")?;
        self.tables.change_at(
            key,
            now_ns,
            |table, id, now| table.reset_at(&id, now),
            |table, bytes, now| table.reset_at(bytes, now),
        )
    }

    /// Sets `key`'s own limit (a workspace's plan or contract), keeping its
    /// counts; its next check uses it.
    fn set_limit(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::limit)] limit: u64,
    ) -> PyResult<()> {
        self.local("set_limit")?;
        self.tables.for_key(
            key,
            |table, id| table.set_limit(&id, limit),
            |table, bytes| table.set_limit(bytes, limit),
        )
    }

    /// The limit new windows start with.
    #[getter]
    fn limit(&self) -> u64 {
        self.limit
    }

    /// The window length in seconds.
    #[getter]
    fn window(&self) -> f64 {
        self.window.as_secs_f64()
    }

    /// The window length in nanoseconds.
    #[getter]
    fn window_ns(&self) -> u64 {
        nanos_of(self.window)
    }

    /// How many keys of each kind (int; str and bytes) the table holds.
    #[getter]
    fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the windows live in shared segments (built with `shared=`).
    #[getter]
    fn is_shared(&self) -> bool {
        Layer::is_shared(self.tables.as_ref())
    }

    /// How many checks found no room for their key.
    #[getter]
    fn full_table_events(&self) -> u64 {
        self.tables.full_table_events()
    }

    /// Now on this table's timeline, in nanoseconds.
    fn now_ns(&self) -> u64 {
        self.tables.now_ns()
    }

    /// With `store=`: how many decisions Redis made and `on_failure` gave,
    /// and why (a dict); None without.
    #[getter]
    fn store_counters<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.remote
            .as_ref()
            .map(|remote| store::counters_dict(py, remote.get()?.counters()))
            .transpose()
    }

    /// Keys holding a window.
    fn __len__(&self) -> usize {
        self.tables.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "KeyedWindows({}, {:?}, capacity={})",
            self.limit,
            self.window.as_secs_f64(),
            self.capacity
        )
    }
}

impl PyKeyedWindows {
    /// Refuses `method` on windows kept in Redis, which lack it.
    fn local(&self, method: &str) -> PyResult<()> {
        match self.remote {
            Some(_) => Err(store::unsupported("KeyedWindows", method)),
            None => Ok(()),
        }
    }
}
