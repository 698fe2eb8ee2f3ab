//! `floodgate.Suspensions`: keys suspended until a time or indefinitely.

use crate::args;
use crate::clock::{BindingClock, PyManualClock, Timed};
use crate::decision::PyDecision;
use crate::errors::engine_error;
use crate::per_kind::{KeyKind, PerKind, Recipe};
use crate::shared::{self, Segment};
use floodgate::{Error, Layer, Result, Suspensions};
use pyo3::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// What both tables of suspended keys are built from.
pub(crate) struct SuspensionsRecipe {
    capacity: usize,
    clock: BindingClock,
    shared: Option<Segment>,
}

impl Recipe for SuspensionsRecipe {
    type Table<K: floodgate::Key + ?Sized> = Suspensions<K, BindingClock>;

    fn build<K: KeyKind + ?Sized>(&self) -> Result<Suspensions<K, BindingClock>> {
        let builder = Suspensions::<K>::builder().capacity(self.capacity);
        let builder = match &self.shared {
            Some(segment) => builder.shared(K::segment(segment)),
            None => builder,
        };
        builder.clock(self.clock.clone()).build()
    }
}

impl Timed for SuspensionsRecipe {
    fn binding_clock(&self) -> &BindingClock {
        &self.clock
    }
}

pub(crate) type SuspensionTables = PerKind<SuspensionsRecipe>;

/// Keys refused with Outcome.SUSPENDED until a time or indefinitely (a
/// suspension is not rate limiting: buckets are left as they are). Keys are
/// str, bytes or int, as for KeyedLimiter. As the first layer of a Policy it
/// refuses a suspended request before any bucket is charged.
#[pyclass(frozen, name = "Suspensions", module = "floodgate")]
pub(crate) struct PySuspensions {
    pub(crate) tables: Arc<SuspensionTables>,
    capacity: usize,
}

#[pymethods]
impl PySuspensions {
    /// Room for `capacity` suspended keys of each kind (int; str and bytes),
    /// timed by `clock` (a ManualClock) or the process's monotonic clock.
    /// With `shared` (a segment's name or path) the tables live in shared
    /// segments (int keys in the one beside it, with ".int" appended), one
    /// set of suspensions for every process that builds them with it, on
    /// the machine's monotonic clock; `shared_wait` bounds the wait for
    /// another process creating them.
    #[new]
    #[pyo3(
        signature = (capacity, *, clock = None, shared = None, shared_wait = None),
        text_signature = "(capacity, *, clock=None, shared=None, shared_wait=None)"
    )]
    fn new(
        #[pyo3(from_py_with = args::capacity)] capacity: usize,
        clock: Option<&Bound<'_, PyManualClock>>,
        shared: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = shared::wait)] shared_wait: Option<Duration>,
    ) -> PyResult<Self> {
        // The tables are built at first use; refuse what their builder would
        // refuse now, while the caller is looking.
        if capacity == 0 {
            return Err(engine_error(Error::ZeroCapacity));
        }
        let shared = shared::segment(shared, shared_wait)?;
        let recipe = SuspensionsRecipe {
            capacity,
            clock: shared::timeline(BindingClock::from_option(clock), shared.as_ref()),
            shared: shared.clone(),
        };
        let tables = PerKind::new(recipe);
        if shared.is_some() {
            // The int keys' segment waits for the first int key, as
            // KeyedLimiter's does.
            tables.open_bytes(shared.as_ref())?;
        }
        Ok(Self {
            tables: Arc::new(tables),
            capacity,
        })
    }

    /// Suspends `key` until `until_ns` on this object's timeline, or
    /// indefinitely with None. Raises FloodgateError when no room is left.
    #[pyo3(signature = (key, until_ns))]
    fn suspend_until(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::until_ns)] until_ns: Option<u64>,
    ) -> PyResult<()> {
        self.tables.for_key(
            key,
            |table, id| table.suspend_until(&id, until_ns),
            |table, bytes| table.suspend_until(bytes, until_ns),
        )
    }

    /// Suspends `key` for `seconds` (int, float or timedelta) from now.
    fn suspend_for(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::seconds)] seconds: Duration,
    ) -> PyResult<()> {
        self.tables.for_key(
            key,
            |table, id| table.suspend_for(&id, seconds),
            |table, bytes| table.suspend_for(bytes, seconds),
        )
    }

    /// Lifts `key`'s suspension; nothing happens if it has none.
    fn lift(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.tables.for_key(
            key,
            |table, id| {
                table.lift(&id);
                Ok(())
            },
            |table, bytes| table.lift(bytes),
        )
    }

    /// The SUSPENDED decision for `key` (retry_after: the time left, 0 for
    /// an indefinite suspension), or None when it may go on.
    #[pyo3(signature = (key, now_ns = None))]
    fn check(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<Option<PyDecision>> {
        self.tables
            .for_key_at(
                key,
                now_ns,
                |table, id, now| Ok(table.check_at(&id, now)),
                |table, bytes, now| table.check_at(bytes, now),
            )
            .map(|decision| decision.map(PyDecision))
    }

    /// Whether the suspensions live in shared segments (built with `shared=`).
    #[getter]
    fn is_shared(&self) -> bool {
        Layer::is_shared(self.tables.as_ref())
    }

    /// How many keys of each kind (int; str and bytes) can be suspended.
    #[getter]
    fn capacity(&self) -> usize {
        self.capacity
    }

    /// Now on this object's timeline, in nanoseconds.
    fn now_ns(&self) -> u64 {
        self.tables.now_ns()
    }

    fn __repr__(&self) -> String {
        format!("Suspensions({})", self.capacity)
    }
}
