//! `floodgate.KeyedLimiter`: one GCRA bucket per key in a lock-free table.

use crate::args;
use crate::clock::{BindingClock, PyManualClock, Timed};
use crate::decision::PyDecision;
use crate::errors::engine_error;
use crate::per_kind::{KeyKind, PerKind, Recipe};
use crate::quota::PyQuota;
use crate::shared::{self, Segment};
use crate::store::{self, StoreArgs};
use floodgate::{Error, FullTable, KeyedLimiter, Layer, Quota, Result, MAX_KEYED_CAPACITY};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;
use std::time::Duration;

/// Keys the table holds when no capacity is given (the engine's default).
const DEFAULT_CAPACITY: usize = 65_536;

/// Everything a keyed limiter's tables are built from; `quota` follows
/// `reconfigure`.
pub(crate) struct KeyedRecipe {
    quota: Quota,
    capacity: usize,
    on_full: FullTable,
    max_overrides: Option<usize>,
    clock: BindingClock,
    shared: Option<Segment>,
}

impl Recipe for KeyedRecipe {
    type Table<K: floodgate::Key + ?Sized> = KeyedLimiter<K, BindingClock>;

    fn build<K: KeyKind + ?Sized>(&self) -> Result<KeyedLimiter<K, BindingClock>> {
        let builder = KeyedLimiter::<K>::builder(self.quota)
            .capacity(self.capacity)
            .on_full(self.on_full);
        let builder = match self.max_overrides {
            Some(max_overrides) => builder.max_overrides(max_overrides),
            None => builder,
        };
        let builder = match &self.shared {
            Some(segment) => builder.shared(K::segment(segment)),
            None => builder,
        };
        builder.clock(self.clock.clone()).build()
    }
}

impl Timed for KeyedRecipe {
    fn binding_clock(&self) -> &BindingClock {
        &self.clock
    }
}

pub(crate) type KeyedTables = PerKind<KeyedRecipe>;

/// Rate limits per key (API key, token, user id, client address): one GCRA
/// bucket per key in a fixed-size, lock-free table, safe from any number of
/// threads. Keys are `str`, `bytes` or `int`; see the stub for the rules.
#[pyclass(frozen, name = "KeyedLimiter", module = "floodgate")]
pub(crate) struct PyKeyedLimiter {
    pub(crate) tables: Arc<KeyedTables>,
    capacity: usize,
    /// With `store=`: the limit kept in Redis, which every call goes to
    /// instead of `tables` (then never built).
    pub(crate) remote: Option<store::Remote>,
}

fn max_overrides(value: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
    args::optional(value, |value| args::size(value, "max_overrides"))
}

#[pymethods]
impl PyKeyedLimiter {
    /// Buckets of `quota` for up to `capacity` keys of each kind, timed by
    /// `clock` (a ManualClock) or the process's monotonic clock. With
    /// `shared` (a segment's name or path) the tables live in shared
    /// segments, one set of buckets for every process that builds this
    /// limiter with it, on the machine's monotonic clock; `shared_wait`
    /// bounds the wait for another process creating them. With `store` (a
    /// Redis URL) the buckets live in Redis instead, one set for every
    /// process and host using that server and `prefix`; see the stub.
    #[new]
    #[pyo3(
        signature = (quota, *, capacity = DEFAULT_CAPACITY, on_full = FullTable::Deny, max_overrides = None, clock = None, shared = None, shared_wait = None, store = None, prefix = None, deadline = None, on_failure = None),
        text_signature = "(quota, *, capacity=65536, on_full='deny', max_overrides=None, clock=None, shared=None, shared_wait=None, store=None, prefix=None, deadline=None, on_failure=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        quota: &Bound<'_, PyQuota>,
        #[pyo3(from_py_with = args::capacity)] capacity: usize,
        #[pyo3(from_py_with = args::full_table)] on_full: FullTable,
        #[pyo3(from_py_with = max_overrides)] max_overrides: Option<usize>,
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
                "store= keeps the limit in Redis, timed by the server's clock: \
                 it takes neither shared= nor clock=",
            ));
        }
        let arguments = StoreArgs {
            store,
            prefix,
            deadline,
            on_failure,
        };
        let remote = store::limiter(arguments, quota.get().0)?;
        // The tables are built at first use; refuse what their builder
        // would refuse now, while the caller is looking.
        if capacity == 0 {
            return Err(engine_error(Error::ZeroCapacity));
        }
        if capacity > MAX_KEYED_CAPACITY {
            return Err(engine_error(Error::CapacityTooLarge));
        }
        let shared = shared::segment(shared, shared_wait)?;
        let clock = BindingClock::from_option(clock);
        let recipe = KeyedRecipe {
            quota: quota.get().0,
            capacity,
            on_full,
            max_overrides,
            // The tables' own timeline, which `now_ns()` and
            // `reconfigure` read through the recipe.
            clock: shared::timeline(clock, shared.as_ref()),
            shared: shared.clone(),
        };
        let tables = PerKind::new(recipe);
        if shared.is_some() {
            // The int keys' segment waits for the first int key as their
            // table always does: a service keyed by str would keep an
            // unused table in memory (3.2 MB at the default capacity), and
            // both segments are removed together, so the second cannot
            // hold other settings than the first.
            tables.open_bytes(shared.as_ref())?;
        }
        Ok(Self {
            tables: Arc::new(tables),
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
            return store::decide(remote, key, now_ns, |remote, key, now_us| {
                store::check(remote, key, cost, now_us)
            });
        }
        self.tables.decide_at(
            key,
            now_ns,
            |table, id, now| table.check_at(&id, cost, now),
            |table, bytes, now| table.check_at(bytes, cost, now),
        )
    }

    /// Delay instead of reject for `key`: as `Limiter.reserve`.
    #[pyo3(signature = (key, cost, max_wait, now_ns = None))]
    fn reserve(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::cost)] cost: u64,
        #[pyo3(from_py_with = args::max_wait)] max_wait: Duration,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<PyDecision> {
        self.local("reserve")?;
        self.tables.decide_at(
            key,
            now_ns,
            |table, id, now| table.reserve_at(&id, cost, max_wait, now),
            |table, bytes, now| table.reserve_at(bytes, cost, max_wait, now),
        )
    }

    /// `key`'s bucket as it stands, charging nothing; a key without a
    /// bucket reads as full and is not inserted.
    #[pyo3(signature = (key, now_ns = None))]
    fn peek(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<PyDecision> {
        if let Some(remote) = &self.remote {
            return store::decide(remote, key, now_ns, |remote, key, now_us| {
                store::check(remote, key, 0, now_us)
            });
        }
        self.tables.decide_at(
            key,
            now_ns,
            |table, id, now| table.peek_at(&id, now),
            |table, bytes, now| table.peek_at(bytes, now),
        )
    }

    /// Gives `amount` units back to `key`'s bucket; never above full.
    #[pyo3(signature = (key, amount = 1, now_ns = None))]
    fn refund(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::amount)] amount: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<PyDecision> {
        if let Some(remote) = &self.remote {
            return store::decide(remote, key, now_ns, |remote, key, now_us| {
                store::refund(remote, key, amount, now_us)
            });
        }
        self.tables.decide_at(
            key,
            now_ns,
            |table, id, now| table.refund_at(&id, amount, now),
            |table, bytes, now| table.refund_at(bytes, amount, now),
        )
    }

    /// Gives `key` its own quota (a customer's plan); its next check uses
    /// it, keeping what it has used (capped at the new burst). Raises
    /// FloodgateError when `max_overrides` keys already have one, or when
    /// the key finds no slot.
    #[pyo3(signature = (key, quota, now_ns = None))]
    fn set_quota(
        &self,
        key: &Bound<'_, PyAny>,
        quota: &Bound<'_, PyQuota>,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<()> {
        self.local("set_quota")?;
        let quota = quota.get().0;
        self.tables.for_key_at(
            key,
            now_ns,
            |table, id, now| table.set_quota_at(&id, quota, now),
            |table, bytes, now| table.set_quota_at(bytes, quota, now),
        )
    }

    /// Returns `key` to the default quota, keeping what it has used.
    #[pyo3(signature = (key, now_ns = None))]
    fn clear_quota(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<()> {
        self.local("clear_quota")?;
        self.tables.change_at(
            key,
            now_ns,
            |table, id, now| table.clear_quota_at(&id, now),
            |table, bytes, now| table.clear_quota_at(bytes, now),
        )
    }

    /// Puts `key`'s bucket back to full (an operator forgiving a client);
    /// a key with its own quota keeps it. A key without a bucket is left as
    /// it is.
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

    /// The quota `key`'s checks use: its own, or the default.
    fn quota_for(&self, key: &Bound<'_, PyAny>) -> PyResult<PyQuota> {
        self.local("quota_for")?;
        self.tables
            .for_key(
                key,
                |table, id| Ok(table.quota_for(&id)),
                |table, bytes| table.quota_for(bytes),
            )
            .map(PyQuota)
    }

    /// Replaces the default quota while checks go on, keeping what each key
    /// has used; keys with their own quota keep it.
    #[pyo3(signature = (quota, now_ns = None))]
    fn reconfigure(
        &self,
        quota: &Bound<'_, PyQuota>,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<()> {
        self.local("reconfigure")?;
        let quota = quota.get().0;
        let mut built = self.tables.built();
        built.recipe.quota = quota;
        let now_ns = built.recipe.at_or_now(now_ns);
        if let Some(ints) = built.ints {
            ints.reconfigure_at(quota, now_ns);
        }
        if let Some(bytes) = built.bytes {
            bytes.reconfigure_at(quota, now_ns);
        }
        Ok(())
    }

    /// The quota of every key without its own.
    #[getter]
    fn quota(&self) -> PyQuota {
        PyQuota(self.default_quota())
    }

    /// Whether the tables live in shared segments (built with `shared=`).
    #[getter]
    fn is_shared(&self) -> bool {
        Layer::is_shared(self.tables.as_ref())
    }

    /// With `store=`: how many decisions Redis made, the deny cache gave,
    /// and `on_failure` gave, and why (a dict); None without.
    #[getter]
    fn store_counters<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.remote
            .as_ref()
            .map(|remote| store::counters_dict(py, remote.get()?.counters()))
            .transpose()
    }

    /// How many keys of each kind (int; str and bytes) the table holds.
    #[getter]
    fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many checks of a new key found no slot and got `on_full`'s answer.
    #[getter]
    fn full_table_events(&self) -> u64 {
        self.tables.full_table_events()
    }

    /// Now on this limiter's timeline, in nanoseconds.
    fn now_ns(&self) -> u64 {
        self.tables.now_ns()
    }

    /// Keys holding a slot (refilled ones not yet reused included). Counts
    /// the whole table: O(capacity), for metrics, not the request path.
    fn __len__(&self) -> usize {
        self.tables.len()
    }

    fn __repr__(&self) -> String {
        let quota = self.default_quota();
        format!(
            "KeyedLimiter(Quota.per_period_ns({}, {}, burst={}), capacity={})",
            quota.count(),
            quota.period_ns(),
            quota.burst(),
            self.capacity
        )
    }
}

impl PyKeyedLimiter {
    /// Refuses `method` on a limit kept in Redis, which has only checks,
    /// peeks and refunds.
    fn local(&self, method: &str) -> PyResult<()> {
        match self.remote {
            Some(_) => Err(store::unsupported("KeyedLimiter", method)),
            None => Ok(()),
        }
    }

    /// The quota of keys without their own. A shared table's may have been
    /// changed by another process, so it is read from the table; the
    /// recipe follows it in a process's own tables, and has it before
    /// they are built.
    fn default_quota(&self) -> Quota {
        let built = self.tables.built();
        built
            .bytes
            .map_or(built.recipe.quota, KeyedLimiter::default_quota)
    }
}
