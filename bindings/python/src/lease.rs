//! Leased limits from Python: `LeasedLimiter` and `LeasedLayers`, the
//! buckets `KeyedLimiter(store=...)` and `RedisLayers` keep in Redis,
//! checked locally from tokens this process leases ahead of time. They are
//! classes of their own, not a mode of `KeyedLimiter`: a leased limiter
//! only checks (no peek, refund or reset), and its options (lease time,
//! fleet size) mean nothing to the other kinds. The route limiters of
//! `store=` use `LeasedLayers` unless given `store_mode="exact"`.
//!
//! A leased object uses the process's store of its URL (connection and
//! runtime thread, which also runs its lease refills), as the Redis kinds
//! do, and as they do builds itself again in a process forked from the one
//! that built it: the parent's runtime thread does not exist in the child.

use crate::args;
use crate::decision::PyDecision;
use crate::errors::{engine_error, FloodgateError};
use crate::gil::without_gil;
use crate::policy::PyVerdict;
use crate::quota::PyQuota;
use crate::store::{
    byte_key, connection, counters_dict, layer_keys, prefix, redis_layers, store, PerProcess,
    Target,
};
use floodgate::store::{LeaseCounters, LeasedLayers, LeasedLimiter, OnFailure};
use floodgate::Quota;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::time::Duration;

/// What every leased object is built with, read from its keyword arguments
/// (`None`: the engine's default).
#[derive(Clone)]
struct Lease {
    target: Target,
    deadline: Option<Duration>,
    on_failure: Option<OnFailure>,
    lease_time: Option<Duration>,
    low_water: Option<u64>,
    fleet: Option<u64>,
    capacity: Option<usize>,
}

/// A positive count, or `None` when not given.
fn count(value: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<u64>> {
    value
        .map(|value| {
            let count = args::unsigned(value, name)?;
            if count == 0 {
                return Err(FloodgateError::new_err(format!(
                    "{name} must be at least 1"
                )));
            }
            Ok(count)
        })
        .transpose()
}

impl Lease {
    #[allow(clippy::too_many_arguments)] // The keyword arguments of both classes.
    fn read(
        store: &Bound<'_, PyAny>,
        deadline: Option<&Bound<'_, PyAny>>,
        on_failure: Option<&Bound<'_, PyAny>>,
        lease_time: Option<&Bound<'_, PyAny>>,
        low_water: Option<&Bound<'_, PyAny>>,
        fleet_size: Option<&Bound<'_, PyAny>>,
        capacity: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let (target, deadline, on_failure) = connection(store, deadline, on_failure)?;
        let lease_time = lease_time
            .map(|value| {
                let span = args::duration(value, "lease_time")?;
                if span.is_zero() {
                    return Err(FloodgateError::new_err("lease_time must be above 0"));
                }
                Ok(span)
            })
            .transpose()?;
        let low_water = count(low_water, "low_water")?;
        if let Some(percent) = low_water.filter(|percent| *percent > 100) {
            return Err(FloodgateError::new_err(format!(
                "low_water is a percent from 1 to 100, got {percent}"
            )));
        }
        Ok(Self {
            target,
            deadline,
            on_failure,
            lease_time,
            low_water,
            fleet: count(fleet_size, "fleet_size")?,
            capacity: count(capacity, "capacity")?
                .map(|keys| usize::try_from(keys).unwrap_or(usize::MAX)),
        })
    }
}

/// Applies a [`Lease`] to either builder, which share their setters' names.
macro_rules! configure {
    ($builder:expr, $lease:expr) => {{
        let lease: &Lease = $lease;
        let mut builder = $builder;
        if let Some(deadline) = lease.deadline {
            builder = builder.deadline(deadline);
        }
        if let Some(on_failure) = lease.on_failure {
            builder = builder.on_failure(on_failure);
        }
        if let Some(lease_time) = lease.lease_time {
            builder = builder.lease_time(lease_time);
        }
        if let Some(percent) = lease.low_water {
            builder = builder.low_water(percent);
        }
        if let Some(hosts) = lease.fleet {
            builder = builder.fleet_size(hosts);
        }
        if let Some(keys) = lease.capacity {
            builder = builder.capacity(keys);
        }
        builder.build().map_err(engine_error)
    }};
}

/// `lease_counters`: a LeaseCounters as a dict of its fields.
fn lease_dict(py: Python<'_>, counters: LeaseCounters) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in [
        ("local", counters.local),
        ("leases", counters.leases),
        ("waited", counters.waited),
        ("granted", counters.granted),
        ("give_backs", counters.give_backs),
        ("returned", counters.returned),
        ("exact", counters.exact),
    ] {
        dict.set_item(name, value)?;
    }
    Ok(dict)
}

/// A GCRA bucket per key kept in Redis, checked locally from leases; see
/// the stub.
#[pyclass(frozen, name = "LeasedLimiter", module = "floodgate")]
pub(crate) struct PyLeasedLimiter {
    limiter: PerProcess<LeasedLimiter>,
    quota: Quota,
}

#[pymethods]
impl PyLeasedLimiter {
    #[new]
    #[pyo3(signature = (
        quota, *, store, prefix = None, deadline = None, on_failure = None,
        lease_time = None, low_water = None, fleet_size = None, capacity = None,
    ))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments.
    fn new(
        quota: &Bound<'_, PyAny>,
        store: &Bound<'_, PyAny>,
        prefix: Option<&Bound<'_, PyAny>>,
        deadline: Option<&Bound<'_, PyAny>>,
        on_failure: Option<&Bound<'_, PyAny>>,
        lease_time: Option<&Bound<'_, PyAny>>,
        low_water: Option<&Bound<'_, PyAny>>,
        fleet_size: Option<&Bound<'_, PyAny>>,
        capacity: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let quota = quota
            .cast::<PyQuota>()
            .map_err(|_| PyTypeError::new_err("quota must be a Quota"))?
            .get()
            .0;
        let lease = Lease::read(
            store, deadline, on_failure, lease_time, low_water, fleet_size, capacity,
        )?;
        let prefix = prefix.map(self::prefix).transpose()?;
        let build = move || {
            let mut builder = LeasedLimiter::builder(&self::store(&lease.target)?, quota);
            if let Some(prefix) = &prefix {
                builder = builder.prefix(prefix);
            }
            configure!(builder, &lease)
        };
        Ok(Self {
            limiter: PerProcess::new(build)?,
            quota,
        })
    }

    /// Checks `cost` for `key` (str or bytes): from the key's lease, or after
    /// a lease call when it holds too few tokens. The GIL is released, as a
    /// check may wait for Redis (up to the deadline).
    #[pyo3(signature = (key, cost = 1))]
    fn check(
        &self,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::cost)] cost: u64,
    ) -> PyResult<PyDecision> {
        let key = byte_key(key)?;
        let limiter = self.limiter.get()?;
        without_gil(|| limiter.check(key, cost))
            .map(PyDecision)
            .map_err(engine_error)
    }

    /// The quota every key gets.
    #[getter]
    fn quota(&self) -> PyQuota {
        PyQuota(self.quota)
    }

    /// How many Redis calls answered, failed or were skipped.
    #[getter]
    fn store_counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        counters_dict(py, self.limiter.get()?.counters())
    }

    /// How checks were decided and what the leases took and gave back.
    #[getter]
    fn lease_counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        lease_dict(py, self.limiter.get()?.lease_counters())
    }
}

/// Several limits kept in Redis, each checked locally from a lease per
/// layer and key; see the stub.
#[pyclass(frozen, name = "LeasedLayers", module = "floodgate")]
pub(crate) struct PyLeasedLayers {
    layers: PerProcess<LeasedLayers>,
    count: usize,
}

#[pymethods]
impl PyLeasedLayers {
    #[new]
    #[pyo3(signature = (
        layers, *, store, deadline = None, on_failure = None,
        lease_time = None, low_water = None, fleet_size = None, capacity = None,
    ))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments.
    fn new(
        layers: &Bound<'_, PyList>,
        store: &Bound<'_, PyAny>,
        deadline: Option<&Bound<'_, PyAny>>,
        on_failure: Option<&Bound<'_, PyAny>>,
        lease_time: Option<&Bound<'_, PyAny>>,
        low_water: Option<&Bound<'_, PyAny>>,
        fleet_size: Option<&Bound<'_, PyAny>>,
        capacity: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let lease = Lease::read(
            store, deadline, on_failure, lease_time, low_water, fleet_size, capacity,
        )?;
        let given = redis_layers(layers)?;
        let count = given.len();
        let build = move || {
            let mut builder = LeasedLayers::builder(&self::store(&lease.target)?);
            for (scope, quota, prefix) in &given {
                builder = builder.layer(*scope, prefix, *quota);
            }
            configure!(builder, &lease)
        };
        Ok(Self {
            layers: PerProcess::new(build)?,
            count,
        })
    }

    /// Checks `cost` against every layer, `keys[i]` (str or bytes) being
    /// layer `i`'s key, without the GIL (a layer whose lease is spent waits
    /// for Redis).
    #[pyo3(signature = (keys, cost = 1))]
    fn check(
        &self,
        keys: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = args::cost)] cost: u64,
    ) -> PyResult<PyVerdict> {
        let keys = layer_keys(keys)?;
        let keys = keys.iter().map(byte_key).collect::<PyResult<Vec<_>>>()?;
        let layers = self.layers.get()?;
        without_gil(|| layers.check(&keys, cost))
            .map(PyVerdict)
            .map_err(engine_error)
    }

    /// Which layers take a key: every one (as `Policy.keyed` answers).
    #[getter]
    fn keyed(&self) -> Vec<bool> {
        vec![true; self.count]
    }

    /// How many Redis calls answered, failed or were skipped.
    #[getter]
    fn store_counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        counters_dict(py, self.layers.get()?.counters())
    }

    /// How checks were decided and what the leases took and gave back.
    #[getter]
    fn lease_counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        lease_dict(py, self.layers.get()?.lease_counters())
    }
}
