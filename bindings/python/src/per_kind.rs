//! One Python keyed limit over two engine tables: one for int keys, one for
//! byte keys (`str` and `bytes`).
//!
//! The engine's keyed tables are typed by key kind and store a `u64` key
//! exactly, so a Python object that takes both kinds keeps one table of
//! each. Each table is built at the first call with a key of its kind:
//! a service keyed only by API keys never allocates the int table.
//!
//! The recipe a table is built from sits behind a mutex that building and
//! reconfiguring both take, so a table built while the defaults change is
//! built from the new ones or reconfigured with the rest, never missed.

use crate::args::{self, Key};
use crate::clock::{BindingClock, Timed};
use crate::decision::PyDecision;
use crate::errors::{engine_error, segment_error};
use crate::gil::without_gil;
use crate::shared::Segment;
use floodgate::{
    Clock, Decision, Error, KeyedLimiter, KeyedWindows, Layer, LayerKey, Result, SharedMemory,
};
use pyo3::prelude::*;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// The two kinds of key a table is built for.
pub(crate) trait KeyKind: floodgate::Key {
    /// Where this kind's table of a shared keyed limit lives: each table
    /// is a segment of its own, as the engine lays out each kind of key
    /// its own way.
    fn segment(shared: &Segment) -> SharedMemory;
}

/// Byte keys (`str` and `bytes`), the usual kind: in the segment named.
impl KeyKind for [u8] {
    fn segment(shared: &Segment) -> SharedMemory {
        shared.memory().clone()
    }
}

impl KeyKind for u64 {
    fn segment(shared: &Segment) -> SharedMemory {
        shared.int_keys()
    }
}

/// An error building the table of `K` keys: naming its segment's file
/// when it has one.
fn opening_error<K: KeyKind + ?Sized>(error: Error, shared: Option<&Segment>) -> PyErr {
    match shared {
        Some(shared) => segment_error(error, &K::segment(shared)),
        None => engine_error(error),
    }
}

/// How to build a keyed limit's table for either kind of key, and the
/// defaults both tables share. The engine's constructors are generic over
/// the key, so one `build` serves both kinds.
pub(crate) trait Recipe: Send {
    /// Shared by the Python threads, and built by one without the GIL.
    type Table<K: floodgate::Key + ?Sized>: Send + Sync;
    fn build<K: KeyKind + ?Sized>(&self) -> Result<Self::Table<K>>;
}

/// The table of int keys a recipe builds.
pub(crate) type Ints<R> = <R as Recipe>::Table<u64>;
/// The table of byte keys (`str` and `bytes`) a recipe builds.
pub(crate) type Bytes<R> = <R as Recipe>::Table<[u8]>;

/// The two tables, built on first use.
pub(crate) struct PerKind<R: Recipe> {
    recipe: Mutex<R>,
    ints: OnceLock<Ints<R>>,
    bytes: OnceLock<Bytes<R>>,
}

/// Both tables, each if built yet, for a change made under the recipe's lock.
pub(crate) struct Built<'a, R: Recipe> {
    pub(crate) recipe: MutexGuard<'a, R>,
    pub(crate) ints: Option<&'a Ints<R>>,
    pub(crate) bytes: Option<&'a Bytes<R>>,
}

impl<R: Recipe> PerKind<R> {
    pub(crate) fn new(recipe: R) -> Self {
        Self {
            recipe: Mutex::new(recipe),
            ints: OnceLock::new(),
            bytes: OnceLock::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, R> {
        // Nothing panics while holding it; a poisoned recipe is still whole.
        self.recipe.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The int-key table, built now if this is its first use.
    #[inline]
    pub(crate) fn ints(&self) -> Result<&Ints<R>> {
        match self.ints.get() {
            Some(table) => Ok(table),
            None => self.build(&self.ints),
        }
    }

    /// The byte-key table, built now if this is its first use.
    #[inline]
    pub(crate) fn bytes(&self) -> Result<&Bytes<R>> {
        match self.bytes.get() {
            Some(table) => Ok(table),
            None => self.build(&self.bytes),
        }
    }

    /// Builds `cell`'s table under the recipe's lock unless another thread
    /// did first. (The recipe was validated when the object was made, so
    /// this fails only if the engine learns to refuse something new.) The
    /// GIL is released first and the lock taken after, so a thread holding
    /// the GIL never waits on a builder that waits for the GIL.
    #[cold]
    fn build<'a, K: KeyKind + ?Sized>(
        &'a self,
        cell: &'a OnceLock<R::Table<K>>,
    ) -> Result<&'a R::Table<K>> {
        without_gil(|| {
            let recipe = self.lock();
            if let Some(table) = cell.get() {
                return Ok(table);
            }
            let table = recipe.build()?;
            Ok(cell.get_or_init(|| table))
        })
    }

    /// The int-key table built now, so that a bad setting, or a segment
    /// (`shared`) holding other settings or refused by the system, raises
    /// while the caller is looking rather than from a check serving a
    /// request.
    pub(crate) fn open_ints(&self, shared: Option<&Segment>) -> PyResult<&Ints<R>> {
        self.ints()
            .map_err(|error| opening_error::<u64>(error, shared))
    }

    /// The byte-key table built now, as [`open_ints`](Self::open_ints).
    pub(crate) fn open_bytes(&self, shared: Option<&Segment>) -> PyResult<&Bytes<R>> {
        self.bytes()
            .map_err(|error| opening_error::<[u8]>(error, shared))
    }

    /// The recipe and the tables built so far, with no table built meanwhile.
    pub(crate) fn built(&self) -> Built<'_, R> {
        let recipe = self.lock();
        Built {
            recipe,
            ints: self.ints.get(),
            bytes: self.bytes.get(),
        }
    }

    /// Calls `on_ints` or `on_bytes` with the table of the Python `key`'s
    /// kind; an engine error becomes FloodgateError.
    #[inline]
    pub(crate) fn for_key<T>(
        &self,
        key: &Bound<'_, PyAny>,
        on_ints: impl FnOnce(&Ints<R>, u64) -> Result<T>,
        on_bytes: impl FnOnce(&Bytes<R>, &[u8]) -> Result<T>,
    ) -> PyResult<T> {
        args::key(key)?
            .dispatch(self, on_ints, on_bytes)
            .map_err(engine_error)
    }
}

impl<R: Recipe> PerKind<R>
where
    Ints<R>: Timed,
    Bytes<R>: Timed,
{
    /// [`for_key`](Self::for_key) for a call at a time: the caller's
    /// `now_ns`, else now on the table's clock.
    #[inline]
    pub(crate) fn for_key_at<T>(
        &self,
        key: &Bound<'_, PyAny>,
        now_ns: Option<u64>,
        on_ints: impl FnOnce(&Ints<R>, u64, u64) -> Result<T>,
        on_bytes: impl FnOnce(&Bytes<R>, &[u8], u64) -> Result<T>,
    ) -> PyResult<T> {
        self.for_key(
            key,
            |table, id| on_ints(table, id, table.at_or_now(now_ns)),
            |table, bytes| on_bytes(table, bytes, table.at_or_now(now_ns)),
        )
    }

    /// [`for_key_at`](Self::for_key_at) for a change that cannot fail for
    /// an int key (it is always a valid key) and fails for a byte key only
    /// if the engine refuses it.
    #[inline]
    pub(crate) fn change_at(
        &self,
        key: &Bound<'_, PyAny>,
        now_ns: Option<u64>,
        on_ints: impl FnOnce(&Ints<R>, u64, u64),
        on_bytes: impl FnOnce(&Bytes<R>, &[u8], u64) -> Result<()>,
    ) -> PyResult<()> {
        self.for_key_at(
            key,
            now_ns,
            |table, id, now| {
                on_ints(table, id, now);
                Ok(())
            },
            on_bytes,
        )
    }

    /// [`for_key_at`](Self::for_key_at) for a call answered by a Decision,
    /// which an int key always gets (it is always a valid key) and a byte
    /// key gets unless the engine refuses it.
    #[inline]
    pub(crate) fn decide_at(
        &self,
        key: &Bound<'_, PyAny>,
        now_ns: Option<u64>,
        on_ints: impl FnOnce(&Ints<R>, u64, u64) -> Decision,
        on_bytes: impl FnOnce(&Bytes<R>, &[u8], u64) -> Result<Decision>,
    ) -> PyResult<PyDecision> {
        self.for_key_at(
            key,
            now_ns,
            |table, id, now| Ok(on_ints(table, id, now)),
            on_bytes,
        )
        .map(PyDecision)
    }
}

impl<R: Recipe + Timed> PerKind<R> {
    /// The clock both tables are built on.
    pub(crate) fn clock(&self) -> BindingClock {
        self.lock().binding_clock().clone()
    }

    /// Now on the tables' timeline, in nanoseconds.
    pub(crate) fn now_ns(&self) -> u64 {
        self.lock().binding_clock().now_ns()
    }
}

/// The counts a Python keyed table reports, which the engine gives its
/// keyed limiter and keyed windows as inherent methods of the same names.
pub(crate) trait TableCounts {
    fn len(&self) -> usize;
    fn full_table_events(&self) -> u64;
}

macro_rules! table_counts_by_inherent_methods {
    ($($table:ident),*) => {$(
        impl<K: floodgate::Key + ?Sized> TableCounts for $table<K, BindingClock> {
            fn len(&self) -> usize {
                $table::len(self)
            }

            fn full_table_events(&self) -> u64 {
                $table::full_table_events(self)
            }
        }
    )*};
}

table_counts_by_inherent_methods!(KeyedLimiter, KeyedWindows);

impl<R: Recipe> PerKind<R>
where
    Ints<R>: TableCounts,
    Bytes<R>: TableCounts,
{
    /// Keys holding a slot in either table (a table not built holds none).
    pub(crate) fn len(&self) -> usize {
        let built = self.built();
        built.ints.map_or(0, TableCounts::len) + built.bytes.map_or(0, TableCounts::len)
    }

    /// Checks of a new key that found no slot, in either table.
    pub(crate) fn full_table_events(&self) -> u64 {
        let built = self.built();
        let ints = built.ints.map_or(0, TableCounts::full_table_events);
        let bytes = built.bytes.map_or(0, TableCounts::full_table_events);
        ints.saturating_add(bytes)
    }
}

impl<R: Recipe> PerKind<R>
where
    Ints<R>: Layer,
    Bytes<R>: Layer,
{
    /// The layer a policy asks about `key`.
    fn layer(&self, key: LayerKey<'_>) -> Result<&dyn Layer> {
        match key {
            LayerKey::Id(_) => Ok(self.ints()?),
            LayerKey::Bytes(_) => Ok(self.bytes()?),
            _ => Err(Error::LayerKeyMismatch),
        }
    }
}

impl Key<'_> {
    /// Calls `on_ints` or `on_bytes` with the table of this key's kind.
    #[inline]
    pub(crate) fn dispatch<R: Recipe, T>(
        self,
        tables: &PerKind<R>,
        on_ints: impl FnOnce(&Ints<R>, u64) -> Result<T>,
        on_bytes: impl FnOnce(&Bytes<R>, &[u8]) -> Result<T>,
    ) -> Result<T> {
        match self {
            Key::Id(id) => on_ints(tables.ints()?, id),
            Key::Bytes(bytes) => on_bytes(tables.bytes()?, bytes),
        }
    }
}

/// A Python keyed limit in a policy: int keys go to the int table, str and
/// bytes keys to the byte table, anything else is the wrong kind.
impl<R: Recipe> Layer for PerKind<R>
where
    Ints<R>: Layer,
    Bytes<R>: Layer,
{
    fn check_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision> {
        self.layer(key)?.check_at(key, cost, now_ns)
    }

    fn probe_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<Decision> {
        self.layer(key)?.probe_at(key, cost, now_ns)
    }

    fn refund_at(&self, key: LayerKey<'_>, cost: u64, now_ns: u64) -> Result<()> {
        self.layer(key)?.refund_at(key, cost, now_ns)
    }

    /// A shared keyed limit's byte-key table is built with its Python
    /// object (`open_bytes`), and its int-key table shares its segment's
    /// settings: the byte-key table tells.
    fn is_shared(&self) -> bool {
        self.built().bytes.is_some_and(Layer::is_shared)
    }
}
