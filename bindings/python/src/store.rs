//! Limits kept in Redis (a server or a Redis Cluster) from Python: the `store=` argument of
//! `KeyedLimiter` and the arguments that go with it (`prefix=`,
//! `deadline=`, `on_failure=`), and `RedisLayers`, several limits kept in
//! Redis and charged together (the route limits of `store=`).
//!
//! Every limiter on one URL in a process shares one `RedisStore` (one
//! connection, one runtime thread). A store is the process's own: the
//! parent's runtime thread does not exist in a forked child, so a limiter
//! used in a process other than the one that built it (gunicorn
//! `--preload`, which builds the app before forking its workers) builds
//! itself again there, on a store of that process.

use crate::args::{self, Key};
use crate::decision::PyDecision;
use crate::errors::{engine_error, FloodgateError};
use crate::gil::without_gil;
use crate::headers::scope;
use crate::policy::PyVerdict;
use crate::quota::PyQuota;
use floodgate::store::{
    OnFailure, RedisInFlight, RedisLayers, RedisLimiter, RedisStore, RedisWindow, StoreCounters,
    StoreError,
};
use floodgate::{Decision, Quota, Result, Scope};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

/// Where a limit is kept: `store=` as given.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    /// One server's URL.
    Server(String),
    /// Nodes of a Redis Cluster (a list, even of one URL).
    Cluster(Vec<String>),
}

/// The store of each target opened in this process, with the pid that opened it.
static STORES: Mutex<Option<HashMap<Target, (u32, RedisStore)>>> = Mutex::new(None);

/// The process's store for `target`, opened on first use (or first use after a fork).
pub(crate) fn store(target: &Target) -> PyResult<RedisStore> {
    let pid = std::process::id();
    let mut stores = STORES.lock().unwrap_or_else(PoisonError::into_inner);
    let stores = stores.get_or_insert_with(HashMap::new);
    if let Some((opened_by, store)) = stores.get(target) {
        if *opened_by == pid {
            return Ok(store.clone());
        }
    }
    let opened = match target {
        Target::Server(url) => RedisStore::open(url),
        Target::Cluster(urls) => RedisStore::cluster(urls),
    };
    let store = opened.map_err(|error| match error {
        StoreError::InvalidUrl => {
            let given = match target {
                Target::Server(url) => format!("{url:?}"),
                Target::Cluster(urls) => format!("{urls:?}"),
            };
            FloodgateError::new_err(format!("store: {error}, got {given}"))
        }
        other => PyRuntimeError::new_err(other.to_string()),
    })?;
    stores.insert(target.clone(), (pid, store.clone()));
    Ok(store)
}

/// `on_failure=`: `"open"` (admit), `"closed"` (deny) or `"local"` (this
/// process's share of the limit) when Redis gives no answer.
fn on_failure(value: &Bound<'_, PyAny>) -> PyResult<OnFailure> {
    let Ok(name) = value.cast::<PyString>() else {
        let found = value.get_type().name()?;
        return Err(PyTypeError::new_err(format!(
            "on_failure must be 'open', 'closed' or 'local', got {found}"
        )));
    };
    match name.to_str()? {
        "open" => Ok(OnFailure::Open),
        "closed" => Ok(OnFailure::Closed),
        "local" => Ok(OnFailure::Local),
        other => Err(FloodgateError::new_err(format!(
            "on_failure must be 'open', 'closed' or 'local', got {other:?}"
        ))),
    }
}

/// `store=`: a Redis URL (str), or a list or tuple of a Redis Cluster's
/// node URLs.
fn target(value: &Bound<'_, PyAny>) -> PyResult<Target> {
    const EXPECTED: &str = "store must be a Redis URL (str), such as 'redis://127.0.0.1:6379/0', \
                            or a list of a Redis Cluster's node URLs";
    if let Ok(url) = value.cast::<PyString>() {
        return Ok(Target::Server(url.to_str()?.to_owned()));
    }
    let nodes: Vec<Bound<'_, PyAny>> = if let Ok(list) = value.cast::<PyList>() {
        list.iter().collect()
    } else if let Ok(tuple) = value.cast::<PyTuple>() {
        tuple.iter().collect()
    } else {
        let found = value.get_type().name()?;
        return Err(PyTypeError::new_err(format!("{EXPECTED}, got {found}")));
    };
    if nodes.is_empty() {
        return Err(FloodgateError::new_err(
            "store: a Redis Cluster needs at least one node URL",
        ));
    }
    let urls = nodes
        .iter()
        .map(|node| match node.cast::<PyString>() {
            Ok(url) => Ok(url.to_str()?.to_owned()),
            Err(_) => {
                let found = node.get_type().name()?;
                Err(PyTypeError::new_err(format!(
                    "a Redis Cluster's node URLs must be str, got {found}"
                )))
            }
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Target::Cluster(urls))
}

/// `prefix=`: a str or bytes.
pub(crate) fn prefix(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    match args::key(value) {
        Ok(Key::Bytes(bytes)) => Ok(bytes.to_vec()),
        _ => {
            let found = value.get_type().name()?;
            Err(PyTypeError::new_err(format!(
                "prefix must be a str or bytes, got {found}"
            )))
        }
    }
}

/// The Redis arguments of a keyed limit's constructor.
pub(crate) struct StoreArgs<'a, 'py> {
    pub(crate) store: Option<&'a Bound<'py, PyAny>>,
    pub(crate) prefix: Option<&'a Bound<'py, PyAny>>,
    pub(crate) deadline: Option<&'a Bound<'py, PyAny>>,
    pub(crate) on_failure: Option<&'a Bound<'py, PyAny>>,
}

/// `store=`, `deadline=` and `on_failure=` read: where, and the settings
/// given (None: the engine's default).
pub(crate) fn connection(
    store: &Bound<'_, PyAny>,
    deadline: Option<&Bound<'_, PyAny>>,
    on_failure_given: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Target, Option<Duration>, Option<OnFailure>)> {
    let target = target(store)?;
    let deadline = deadline
        .map(|value| {
            let deadline = args::duration(value, "deadline")?;
            if deadline.is_zero() {
                return Err(FloodgateError::new_err("deadline must be above 0"));
            }
            Ok(deadline)
        })
        .transpose()?;
    let on_failure = on_failure_given.map(on_failure).transpose()?;
    Ok((target, deadline, on_failure))
}

/// What is kept in Redis (a limiter, layers, a leased limiter), as the
/// process using it built it: built again in a process forked from the one
/// that built it.
pub(crate) struct PerProcess<T> {
    build: Box<dyn Fn() -> PyResult<T> + Send + Sync>,
    /// The object and the pid of the process that built it.
    current: RwLock<(u32, Arc<T>)>,
}

impl<T> PerProcess<T> {
    /// Built now, in this process, by `build`, which builds it again in a
    /// forked child.
    pub(crate) fn new(build: impl Fn() -> PyResult<T> + Send + Sync + 'static) -> PyResult<Self> {
        let built = build()?;
        Ok(Self {
            build: Box::new(build),
            current: RwLock::new((std::process::id(), Arc::new(built))),
        })
    }

    /// This process's object.
    pub(crate) fn get(&self) -> PyResult<Arc<T>> {
        let pid = std::process::id();
        {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            if current.0 == pid {
                return Ok(Arc::clone(&current.1));
            }
        }
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.0 != pid {
            let fresh = (pid, Arc::new((self.build)()?));
            // The parent's object is forgotten, not dropped: its runtime
            // and connection belong to threads that do not exist here (and
            // a leased object's tokens are the parent's to give back).
            std::mem::forget(std::mem::replace(&mut *current, fresh));
        }
        Ok(Arc::clone(&current.1))
    }
}

/// A keyed limit kept in Redis.
pub(crate) type Remote = PerProcess<RedisLimiter>;

/// Keyed sliding windows kept in Redis.
pub(crate) type RemoteWindows = PerProcess<RedisWindow>;

/// An in-flight cap per key kept in Redis.
pub(crate) type RemoteInFlight = PerProcess<RedisInFlight>;

/// What every kind's builder is given from `StoreArgs`.
struct Given {
    prefix: Option<Vec<u8>>,
    deadline: Option<Duration>,
    on_failure: Option<OnFailure>,
}

/// The settings of one Redis kind's builder, whichever kind.
trait Settable: Sized {
    fn prefix(self, prefix: &[u8]) -> Self;
    fn deadline(self, deadline: Duration) -> Self;
    fn on_failure(self, on_failure: OnFailure) -> Self;
}

macro_rules! settable {
    ($($builder:ty),*) => {$(
        impl Settable for $builder {
            fn prefix(self, prefix: &[u8]) -> Self {
                <$builder>::prefix(self, prefix)
            }

            fn deadline(self, deadline: Duration) -> Self {
                <$builder>::deadline(self, deadline)
            }

            fn on_failure(self, on_failure: OnFailure) -> Self {
                <$builder>::on_failure(self, on_failure)
            }
        }
    )*};
}

settable!(
    floodgate::store::RedisLimiterBuilder,
    floodgate::store::RedisWindowBuilder,
    floodgate::store::RedisInFlightBuilder
);

impl Given {
    /// `builder` with what was given (the kind's defaults for the rest).
    fn apply<B: Settable>(&self, mut builder: B) -> B {
        if let Some(prefix) = &self.prefix {
            builder = builder.prefix(prefix);
        }
        if let Some(deadline) = self.deadline {
            builder = builder.deadline(deadline);
        }
        if let Some(on_failure) = self.on_failure {
            builder = builder.on_failure(on_failure);
        }
        builder
    }
}

/// What `arguments` ask for (None without `store=`), built by `build` on
/// this process's store with the settings given.
fn remote<T: 'static>(
    arguments: StoreArgs<'_, '_>,
    build: impl Fn(&RedisStore, &Given) -> Result<T> + Send + Sync + 'static,
) -> PyResult<Option<PerProcess<T>>> {
    let Some(given_store) = arguments.store else {
        let given = [
            ("prefix", arguments.prefix),
            ("deadline", arguments.deadline),
            ("on_failure", arguments.on_failure),
        ];
        if let Some((name, _)) = given.iter().find(|(_, value)| value.is_some()) {
            return Err(PyTypeError::new_err(format!(
                "{name} is an option of a limit kept in Redis: give store= too"
            )));
        }
        return Ok(None);
    };
    let (target, deadline, on_failure) =
        connection(given_store, arguments.deadline, arguments.on_failure)?;
    let given = Given {
        prefix: arguments.prefix.map(prefix).transpose()?,
        deadline,
        on_failure,
    };
    PerProcess::new(move || build(&store(&target)?, &given).map_err(engine_error)).map(Some)
}

/// The limit `arguments` ask for (None without `store=`); `quota` is the
/// limit it keeps.
pub(crate) fn limiter(arguments: StoreArgs<'_, '_>, quota: Quota) -> PyResult<Option<Remote>> {
    remote(arguments, move |store, given| {
        given.apply(RedisLimiter::builder(store, quota)).build()
    })
}

/// The windows `arguments` ask for (None without `store=`): `limit` per
/// `window` per key.
pub(crate) fn windows(
    arguments: StoreArgs<'_, '_>,
    limit: u64,
    window: Duration,
) -> PyResult<Option<RemoteWindows>> {
    remote(arguments, move |store, given| {
        given
            .apply(RedisWindow::builder(store, limit, window))
            .build()
    })
}

/// The cap `arguments` ask for (None without `store=`): `limit` per key in
/// flight, each permit leased for `lease` (None: the engine's default).
pub(crate) fn inflight(
    arguments: StoreArgs<'_, '_>,
    limit: u64,
    lease: Option<Duration>,
) -> PyResult<Option<RemoteInFlight>> {
    remote(arguments, move |store, given| {
        let builder = given.apply(RedisInFlight::builder(store, limit));
        match lease {
            Some(lease) => builder.lease(lease),
            None => builder,
        }
        .build()
    })
}

/// Several limits kept in Redis and checked for one request in one script:
/// every layer admits and is charged, or none is. Each layer is a
/// `(name, quota, prefix)` tuple; see the stub.
#[pyclass(frozen, name = "RedisLayers", module = "floodgate")]
pub(crate) struct PyRedisLayers {
    layers: PerProcess<RedisLayers>,
    count: usize,
}

/// `layers=` of RedisLayers and LeasedLayers: each layer's scope, quota and
/// prefix.
pub(crate) fn redis_layers(layers: &Bound<'_, PyList>) -> PyResult<Vec<(Scope, Quota, Vec<u8>)>> {
    layers.iter().map(|entry| redis_layer(&entry)).collect()
}

/// `(name, quota, prefix)`: a layer of a RedisLayers.
fn redis_layer(entry: &Bound<'_, PyAny>) -> PyResult<(Scope, Quota, Vec<u8>)> {
    let triple = entry
        .cast::<PyTuple>()
        .ok()
        .filter(|triple| triple.len() == 3)
        .ok_or_else(|| PyTypeError::new_err("each layer must be a (name, quota, prefix) tuple"))?;
    let name = triple.get_item(0)?;
    let name = name
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err("a layer's name must be a str"))?;
    let name = name.to_str()?;
    if name.is_empty() {
        return Err(FloodgateError::new_err("a layer's name must not be empty"));
    }
    let quota = triple.get_item(1)?;
    let quota = quota
        .cast::<PyQuota>()
        .map_err(|_| PyTypeError::new_err("a layer's quota must be a Quota"))?
        .get()
        .0;
    Ok((scope(name), quota, prefix(&triple.get_item(2)?)?))
}

#[pymethods]
impl PyRedisLayers {
    #[new]
    #[pyo3(signature = (layers, *, store, deadline = None, on_failure = None))]
    fn new(
        layers: &Bound<'_, PyList>,
        store: &Bound<'_, PyAny>,
        deadline: Option<&Bound<'_, PyAny>>,
        on_failure: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let (target, deadline, on_failure) = connection(store, deadline, on_failure)?;
        let given = redis_layers(layers)?;
        let count = given.len();
        let build = move || {
            let mut builder = RedisLayers::builder(&self::store(&target)?);
            for (scope, quota, prefix) in &given {
                builder = builder.layer(*scope, prefix, *quota);
            }
            if let Some(deadline) = deadline {
                builder = builder.deadline(deadline);
            }
            if let Some(on_failure) = on_failure {
                builder = builder.on_failure(on_failure);
            }
            builder.build().map_err(engine_error)
        };
        Ok(Self {
            layers: PerProcess::new(build)?,
            count,
        })
    }

    /// Checks `cost` against every layer, `keys[i]` (str or bytes) being
    /// layer `i`'s key, now or at `now_ns` (rounded down to the
    /// microsecond), without the GIL.
    #[pyo3(signature = (keys, cost = 1, now_ns = None))]
    fn check(
        &self,
        keys: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::cost)] cost: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<PyVerdict> {
        let keys = layer_keys(keys)?;
        let keys = keys.iter().map(byte_key).collect::<PyResult<Vec<_>>>()?;
        let layers = self.layers.get()?;
        without_gil(|| match now_ns {
            Some(now_ns) => layers.check_at(&keys, cost, now_ns / 1_000),
            None => layers.check(&keys, cost),
        })
        .map(PyVerdict)
        .map_err(engine_error)
    }

    /// Which layers take a key: every one (as `Policy.keyed` answers).
    #[getter]
    fn keyed(&self) -> Vec<bool> {
        vec![true; self.count]
    }

    /// How many decisions Redis made and the failure policy gave, and why.
    #[getter]
    fn store_counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        counters_dict(py, self.layers.get()?.counters())
    }
}

/// `keys=` of layers' checks: one key per layer, each read by [`byte_key`].
pub(crate) fn layer_keys<'py>(keys: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    keys.try_iter()
        .map_err(|_| PyTypeError::new_err("keys must be a list of str or bytes keys"))?
        .collect()
}

/// A byte key (str or bytes) for Redis; an int key is refused, since
/// Redis keys are bytes and an int has no spelling that no str shares.
pub(crate) fn byte_key<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    match args::key(key)? {
        Key::Bytes(bytes) => Ok(bytes),
        Key::Id(_) => Err(PyTypeError::new_err(
            "a limit kept in Redis takes str or bytes keys, not int",
        )),
    }
}

/// Runs `call` for `key` on `limiter` without the GIL (it may wait for
/// Redis up to the deadline): now, or at `now_ns` rounded down to the
/// microsecond Redis counts in.
pub(crate) fn decide<T: Sync + Send>(
    remote: &PerProcess<T>,
    key: &Bound<'_, PyAny>,
    now_ns: Option<u64>,
    call: impl Send + FnOnce(&T, &[u8], Option<u64>) -> Result<Decision>,
) -> PyResult<PyDecision> {
    let key = byte_key(key)?;
    let now_us = now_ns.map(|now_ns| now_ns / 1_000);
    let limiter = remote.get()?;
    without_gil(|| call(&limiter, key, now_us))
        .map(PyDecision)
        .map_err(engine_error)
}

/// A check of `cost` now or at the caller's microsecond.
pub(crate) fn check(
    limiter: &RedisLimiter,
    key: &[u8],
    cost: u64,
    now_us: Option<u64>,
) -> Result<Decision> {
    match now_us {
        Some(now_us) => limiter.check_at(key, cost, now_us),
        None => limiter.check(key, cost),
    }
}

/// A refund of `amount` now or at the caller's microsecond.
pub(crate) fn refund(
    limiter: &RedisLimiter,
    key: &[u8],
    amount: u64,
    now_us: Option<u64>,
) -> Result<Decision> {
    match now_us {
        Some(now_us) => limiter.refund_at(key, amount, now_us),
        None => limiter.refund(key, amount),
    }
}

/// `store_counters`: a StoreCounters as a dict of its fields.
pub(crate) fn counters_dict<'py>(
    py: Python<'py>,
    counters: StoreCounters,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in [
        ("exact", counters.exact),
        ("cached", counters.cached),
        ("failed_open", counters.failed_open),
        ("failed_closed", counters.failed_closed),
        ("timeouts", counters.timeouts),
        ("errors", counters.errors),
        ("skipped", counters.skipped),
        ("breaker_opened", counters.breaker_opened),
        ("local_admitted", counters.local_admitted),
        ("local_denied", counters.local_denied),
    ] {
        dict.set_item(name, value)?;
    }
    Ok(dict)
}

/// The error of a keyed kind's method that the kind kept in Redis lacks.
pub(crate) fn unsupported(kind: &str, method: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{method} is not available on a {kind} kept in Redis (store=)"
    ))
}
