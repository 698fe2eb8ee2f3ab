//! `floodgate.Suspensions`: keys suspended until a time or indefinitely.

use crate::args;
use crate::clock::{BindingClock, PyManualClock, Timed};
use crate::decision::PyDecision;
use crate::errors::engine_error;
use crate::per_kind::{KeyKind, PerKind, Recipe};
use floodgate::{Error, Result, Suspensions};
use pyo3::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// What both tables of suspended keys are built from.
pub(crate) struct SuspensionsRecipe {
    capacity: usize,
    clock: BindingClock,
}

impl Recipe for SuspensionsRecipe {
    type Table<K: floodgate::Key + ?Sized> = Suspensions<K, BindingClock>;

    fn build<K: KeyKind + ?Sized>(&self) -> Result<Suspensions<K, BindingClock>> {
        Suspensions::<K>::builder()
            .capacity(self.capacity)
            .clock(self.clock.clone())
            .build()
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
    #[new]
    #[pyo3(signature = (capacity, *, clock = None))]
    fn new(
        #[pyo3(from_py_with = args::capacity)] capacity: usize,
        clock: Option<&Bound<'_, PyManualClock>>,
    ) -> PyResult<Self> {
        // The tables are built at first use; refuse what their builder would
        // refuse now, while the caller is looking.
        if capacity == 0 {
            return Err(engine_error(Error::ZeroCapacity));
        }
        let recipe = SuspensionsRecipe {
            capacity,
            clock: BindingClock::from_option(clock),
        };
        Ok(Self {
            tables: Arc::new(PerKind::new(recipe)),
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
