//! `floodgate.Plans`: named plan tiers per key and per workspace.
//!
//! One engine `Plans<[u8], u64>`: keys are str or bytes (API keys), and
//! workspaces ints. Int keys are refused rather than served by a second
//! engine instance, because each instance has its own workspace windows: a
//! workspace whose keys came in both kinds would get its window twice.

use crate::args::{self, Key};
use crate::clock::{BindingClock, PyManualClock};
use crate::errors::{engine_error, FloodgateError};
use crate::policy::{counters_dict, PyVerdict};
use crate::quota::PyQuota;
use crate::shared::{self, Segment};
use floodgate::{Clock, Plans, PlansBuilder, TierId, TierLimits};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyString, PyTuple};
use std::time::Duration;

/// Slots in each tier's key table when none is given (the engine's default).
const DEFAULT_KEY_CAPACITY: usize = 100_000;
/// Slots in the workspace table when none is given (the engine's default).
const DEFAULT_WORKSPACE_CAPACITY: usize = 10_000;

type EnginePlans = Plans<[u8], u64, BindingClock>;

/// Plan tiers (Sandbox, Hobby, Pro...): a token bucket per API key and a
/// sliding window per workspace, either of which a tier may leave out, and
/// checked together (a denial charges neither). Keys are str or bytes,
/// workspaces ints; a tier is named by its index (from `tier()`) or name.
#[pyclass(frozen, name = "Plans", module = "floodgate")]
pub(crate) struct PyPlans {
    plans: EnginePlans,
    /// The engine's tier ids, by index.
    ids: Vec<TierId>,
}

fn key_capacity(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    args::size(value, "key_capacity")
}

fn workspace_capacity(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    args::size(value, "workspace_capacity")
}

fn workspace_limit(value: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    args::optional_unsigned(value, "workspace_limit")
}

/// `None` or a Quota: a tier's per-key limit.
fn key_quota(value: &Bound<'_, PyAny>) -> PyResult<Option<floodgate::Quota>> {
    args::optional(value, |value| {
        value
            .cast::<PyQuota>()
            .map(|quota| quota.get().0)
            .map_err(|_| PyTypeError::new_err("key_quota must be a Quota or None"))
    })
}

/// A tier's `(key_quota, workspace_limit)` pair from the `tiers` mapping.
fn tier_limits(name: &str, value: &Bound<'_, PyAny>) -> PyResult<TierLimits> {
    let pair = value
        .cast::<PyTuple>()
        .ok()
        .filter(|pair| pair.len() == 2)
        .ok_or_else(|| {
            PyTypeError::new_err(format!(
                "tier {name:?} must be a (Quota | None, int | None) tuple"
            ))
        })?;
    Ok(TierLimits {
        per_key: key_quota(&pair.get_item(0)?)?,
        per_workspace: workspace_limit(&pair.get_item(1)?)?,
    })
}

/// A workspace id: an int in `0..2**64` (not a bool).
fn workspace(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err("workspace must be an int, got bool"));
    }
    args::unsigned(value, "workspace")
}

/// An API key: str (its UTF-8 bytes) or bytes.
fn api_key<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    match args::key(value)? {
        Key::Bytes(bytes) => Ok(bytes),
        Key::Id(_) => Err(PyTypeError::new_err(
            "a Plans key must be str or bytes, got int (pass str(key))",
        )),
    }
}

impl PyPlans {
    fn from_builder<C: Clock + Clone>(
        builder: PlansBuilder<[u8], u64, C>,
        key_capacity: usize,
        workspace_capacity: usize,
        clock: Option<&Bound<'_, PyManualClock>>,
        shared: Option<Segment>,
    ) -> PyResult<Self> {
        let builder = builder
            .key_capacity(key_capacity)
            .workspace_capacity(workspace_capacity)
            .clock(BindingClock::from_option(clock));
        let plans = shared::built(shared.as_ref(), |memory| match memory {
            None => builder.build(),
            Some(memory) => builder.shared(memory).build(),
        })?;
        let ids = plans
            .tier_names()
            .filter_map(|name| plans.tier(name))
            .collect();
        Ok(Self { plans, ids })
    }

    /// The tier an index or a name designates.
    fn tier_id(&self, tier: &Bound<'_, PyAny>) -> PyResult<TierId> {
        if let Ok(name) = tier.cast::<PyString>() {
            let name = name.to_str()?;
            return self
                .plans
                .tier(name)
                .ok_or_else(|| FloodgateError::new_err(format!("no tier named {name:?}")));
        }
        if !tier.is_instance_of::<PyInt>() || tier.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err(
                "tier must be an int (from Plans.tier) or a tier's name",
            ));
        }
        let index = args::size(tier, "tier")?;
        self.ids.get(index).copied().ok_or_else(|| {
            FloodgateError::new_err(format!(
                "no tier {index}: these plans have {}",
                self.ids.len()
            ))
        })
    }
}

#[pymethods]
impl PyPlans {
    /// Tiers whose workspace limits count requests per `window` (seconds
    /// or a timedelta). `tiers` maps each name to `(key_quota,
    /// workspace_limit)`, None for unlimited; tier indexes follow its order.
    /// With `shared` (a segment's name or path) every tier's tables live in
    /// that segment, one set for every process that builds these plans with
    /// it, on the machine's monotonic clock; `shared_wait` bounds the wait
    /// for another process creating it.
    #[new]
    #[pyo3(
        signature = (window, tiers, *, key_capacity = DEFAULT_KEY_CAPACITY, workspace_capacity = DEFAULT_WORKSPACE_CAPACITY, clock = None, shared = None, shared_wait = None),
        text_signature = "(window, tiers, *, key_capacity=100000, workspace_capacity=10000, clock=None, shared=None, shared_wait=None)"
    )]
    fn new(
        #[pyo3(from_py_with = args::window)] window: Duration,
        tiers: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = key_capacity)] key_capacity: usize,
        #[pyo3(from_py_with = workspace_capacity)] workspace_capacity: usize,
        clock: Option<&Bound<'_, PyManualClock>>,
        shared: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = shared::wait)] shared_wait: Option<Duration>,
    ) -> PyResult<Self> {
        let shared = shared::segment(shared, shared_wait)?;
        let tiers = tiers.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err("tiers must be a dict of name to (Quota | None, int | None)")
        })?;
        let mut builder = Plans::<[u8], u64>::builder(window);
        for (name, limits) in tiers.iter() {
            let name = name
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err("a tier's name must be a str"))?;
            let name = name.to_str()?;
            builder = builder.tier(name, tier_limits(name, &limits)?);
        }
        Self::from_builder(builder, key_capacity, workspace_capacity, clock, shared)
    }

    /// The GenieOS plan table: sandbox (unlimited), hobby (30/s per key,
    /// burst 60; 600 per minute per workspace), pro (60/s, burst 120;
    /// 1,800/min) and scale (120/s, burst 240; 6,000/min), indexes 0 to 3;
    /// `shared` and `shared_wait` as for the constructor.
    #[staticmethod]
    #[pyo3(
        signature = (*, key_capacity = DEFAULT_KEY_CAPACITY, workspace_capacity = DEFAULT_WORKSPACE_CAPACITY, clock = None, shared = None, shared_wait = None),
        text_signature = "(*, key_capacity=100000, workspace_capacity=10000, clock=None, shared=None, shared_wait=None)"
    )]
    fn genieos(
        #[pyo3(from_py_with = key_capacity)] key_capacity: usize,
        #[pyo3(from_py_with = workspace_capacity)] workspace_capacity: usize,
        clock: Option<&Bound<'_, PyManualClock>>,
        shared: Option<&Bound<'_, PyAny>>,
        #[pyo3(from_py_with = shared::wait)] shared_wait: Option<Duration>,
    ) -> PyResult<Self> {
        let shared = shared::segment(shared, shared_wait)?;
        let builder = floodgate::presets::genieos::plans().map_err(engine_error)?;
        Self::from_builder(builder, key_capacity, workspace_capacity, clock, shared)
    }

    /// The index of the tier called `name`, or None.
    fn tier(&self, name: &str) -> Option<usize> {
        let id = self.plans.tier(name)?;
        self.ids.iter().position(|known| *known == id)
    }

    /// The tiers' names, by index.
    #[getter]
    fn tiers(&self) -> Vec<&str> {
        self.plans.tier_names().collect()
    }

    /// Checks `cost` for `key` (str or bytes) of `workspace` (an int) on
    /// `tier` (an index or a name), now or at `now_ns`. The verdict's scope
    /// is "key" or "workspace"; an unlimited tier admits with limit and
    /// remaining 2**64 - 1, charging nothing.
    #[pyo3(signature = (tier, key, workspace, cost = 1, now_ns = None))]
    fn check(
        &self,
        tier: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = workspace)] workspace: u64,
        #[pyo3(from_py_with = args::cost)] cost: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<PyVerdict> {
        let tier = self.tier_id(tier)?;
        let key = api_key(key)?;
        let now_ns = now_ns.unwrap_or_else(|| self.plans.clock().now_ns());
        self.plans
            .check_at(tier, key, &workspace, cost, now_ns)
            .map(PyVerdict)
            .map_err(engine_error)
    }

    /// Replaces `tier`'s limits while checks go on: keys keep their usage,
    /// workspaces their counts. A limit can be changed, not added or
    /// removed (FloodgateError).
    #[pyo3(signature = (tier, key_quota, workspace_limit))]
    fn reconfigure_tier(
        &self,
        tier: &Bound<'_, PyAny>,
        #[pyo3(from_py_with = key_quota)] key_quota: Option<floodgate::Quota>,
        #[pyo3(from_py_with = workspace_limit)] workspace_limit: Option<u64>,
    ) -> PyResult<()> {
        let limits = TierLimits {
            per_key: key_quota,
            per_workspace: workspace_limit,
        };
        self.plans
            .reconfigure_tier(self.tier_id(tier)?, limits)
            .map_err(engine_error)
    }

    /// `tier`'s counts so far: admitted, denied, suspended (all 0 for an
    /// unlimited tier, which counts nothing).
    fn counters<'py>(
        &self,
        py: Python<'py>,
        tier: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let counters = self
            .plans
            .counters(self.tier_id(tier)?)
            .map_err(engine_error)?;
        counters_dict(py, &counters)
    }

    /// Whether the plans live in a shared segment (built with `shared=`).
    #[getter]
    fn is_shared(&self) -> bool {
        self.plans.is_shared()
    }

    /// Now on these plans' timeline, in nanoseconds.
    fn now_ns(&self) -> u64 {
        self.plans.clock().now_ns()
    }

    fn __len__(&self) -> usize {
        self.ids.len()
    }

    fn __repr__(&self) -> String {
        format!("Plans(tiers={:?})", self.tiers())
    }
}
