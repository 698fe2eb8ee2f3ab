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

use crate::args::Key;
use floodgate::{Decision, Error, Layer, LayerKey, Result};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// How to build a keyed limit's two tables, and the defaults they share.
pub(crate) trait Recipe: Send {
    type Ints;
    type Bytes;
    fn build_ints(&self) -> Result<Self::Ints>;
    fn build_bytes(&self) -> Result<Self::Bytes>;
}

/// The two tables, built on first use.
pub(crate) struct PerKind<R: Recipe> {
    recipe: Mutex<R>,
    ints: OnceLock<R::Ints>,
    bytes: OnceLock<R::Bytes>,
}

/// Both tables, each if built yet, for a change made under the recipe's lock.
pub(crate) struct Built<'a, R: Recipe> {
    pub(crate) recipe: MutexGuard<'a, R>,
    pub(crate) ints: Option<&'a R::Ints>,
    pub(crate) bytes: Option<&'a R::Bytes>,
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
    pub(crate) fn ints(&self) -> Result<&R::Ints> {
        match self.ints.get() {
            Some(table) => Ok(table),
            None => Self::build(&self.ints, &self.lock(), R::build_ints),
        }
    }

    /// The byte-key table, built now if this is its first use.
    #[inline]
    pub(crate) fn bytes(&self) -> Result<&R::Bytes> {
        match self.bytes.get() {
            Some(table) => Ok(table),
            None => Self::build(&self.bytes, &self.lock(), R::build_bytes),
        }
    }

    /// Builds `cell`'s table under the recipe's lock unless another thread
    /// did first. (The recipe was validated when the object was made, so
    /// this fails only if the engine learns to refuse something new.)
    #[cold]
    fn build<'a, T>(
        cell: &'a OnceLock<T>,
        recipe: &R,
        build: impl FnOnce(&R) -> Result<T>,
    ) -> Result<&'a T> {
        if let Some(table) = cell.get() {
            return Ok(table);
        }
        let table = build(recipe)?;
        Ok(cell.get_or_init(|| table))
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
}

impl<R: Recipe> PerKind<R>
where
    R::Ints: Layer,
    R::Bytes: Layer,
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
        on_ints: impl FnOnce(&R::Ints, u64) -> Result<T>,
        on_bytes: impl FnOnce(&R::Bytes, &[u8]) -> Result<T>,
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
    R::Ints: Layer,
    R::Bytes: Layer,
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
}
