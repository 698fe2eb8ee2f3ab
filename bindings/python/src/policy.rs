//! `floodgate.Policy` and `floodgate.Verdict`: several limits checked
//! together for one request.

use crate::args;
use crate::clock::{BindingClock, Timed};
use crate::decision::PyDecision;
use crate::errors::{engine_error, FloodgateError};
use crate::headers::scope;
use crate::keyed::PyKeyedLimiter;
use crate::keyed_windows::PyKeyedWindows;
use crate::limiter::PyLimiter;
use crate::per_kind::{PerKind, Recipe};
use crate::suspensions::PySuspensions;
use crate::window::PySlidingWindow;
use floodgate::{Clock, Layer, LayerKey, Policy, PolicyCounters, Scope, Verdict, MAX_LAYERS};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use std::sync::Arc;

/// Layers checked together: a request is admitted only when every enforcing
/// layer admits it, and a denial charges no layer. Each layer stays the
/// Python object that made it: checks through it and through the policy
/// share one bucket.
#[pyclass(frozen, name = "Policy", module = "floodgate")]
pub(crate) struct PyPolicy {
    policy: Policy<BindingClock>,
    layers: Vec<LayerInfo>,
}

/// What the binding knows of a layer to check a request's keys and report.
struct LayerInfo {
    scope: Scope,
    keyed: bool,
}

/// A layer taken from Python: the engine's handle on it and its timeline.
struct PyLayer {
    limit: Arc<dyn Layer>,
    clock: BindingClock,
    keyed: bool,
}

impl PyLayer {
    /// An unkeyed engine limit, shared with the Python object that made it.
    fn unkeyed<L: Layer + Timed + 'static>(limit: &Arc<L>) -> Self {
        Self {
            clock: limit.binding_clock().clone(),
            limit: Arc::clone(limit) as Arc<dyn Layer>,
            keyed: false,
        }
    }

    /// A keyed limit's tables, shared with the Python object that made them.
    fn keyed<R: Recipe + Timed + 'static>(tables: &Arc<PerKind<R>>) -> Self
    where
        PerKind<R>: Layer,
    {
        Self {
            clock: tables.clock(),
            limit: Arc::clone(tables) as Arc<dyn Layer>,
            keyed: true,
        }
    }
}

fn py_layer(value: &Bound<'_, PyAny>) -> PyResult<PyLayer> {
    if let Ok(limiter) = value.cast::<PyLimiter>() {
        return Ok(PyLayer::unkeyed(&limiter.get().0));
    }
    if let Ok(window) = value.cast::<PySlidingWindow>() {
        return Ok(PyLayer::unkeyed(&window.get().0));
    }
    if let Ok(keyed) = value.cast::<PyKeyedLimiter>() {
        if keyed.get().remote.is_some() {
            // A policy charges its layers in process; Redis buckets are
            // charged by the server, so a local policy would split them.
            return Err(PyTypeError::new_err(
                "a KeyedLimiter kept in Redis (store=) cannot be a policy layer",
            ));
        }
        return Ok(PyLayer::keyed(&keyed.get().tables));
    }
    if let Ok(windows) = value.cast::<PyKeyedWindows>() {
        if windows.get().remote.is_some() {
            // As for a KeyedLimiter kept in Redis: the server charges it.
            return Err(PyTypeError::new_err(
                "KeyedWindows kept in Redis (store=) cannot be a policy layer",
            ));
        }
        return Ok(PyLayer::keyed(&windows.get().tables));
    }
    if let Ok(suspensions) = value.cast::<PySuspensions>() {
        return Ok(PyLayer::keyed(&suspensions.get().tables));
    }
    let found = value.get_type().name()?;
    Err(PyTypeError::new_err(format!(
        "a policy layer must be a Limiter, SlidingWindow, KeyedLimiter, KeyedWindows \
         or Suspensions, got {found}"
    )))
}

/// `(name, limit)`: the scope the layer reports and the limit itself.
fn named_layer(entry: &Bound<'_, PyAny>) -> PyResult<(Scope, PyLayer)> {
    let pair = entry
        .cast::<PyTuple>()
        .ok()
        .filter(|pair| pair.len() == 2)
        .ok_or_else(|| {
            PyTypeError::new_err("each layer must be a (name, limit) tuple, say (\"key\", keyed)")
        })?;
    let name = pair.get_item(0)?;
    let name = name
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err("a layer's name must be a str"))?;
    let name = name.to_str()?;
    if name.is_empty() {
        return Err(FloodgateError::new_err("a layer's name must not be empty"));
    }
    Ok((scope(name), py_layer(&pair.get_item(1)?)?))
}

/// A policy's or a plan tier's counts as the dict Python reads them from.
pub(crate) fn counters_dict<'py>(
    py: Python<'py>,
    counters: &PolicyCounters,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("admitted", counters.admitted)?;
    dict.set_item("denied", counters.denied)?;
    dict.set_item("suspended", counters.suspended)?;
    Ok(dict)
}

fn describe(layer: &LayerInfo, index: usize) -> String {
    format!("layer {index} ({:?})", layer.scope.as_str())
}

#[pymethods]
impl PyPolicy {
    /// Enforcing `layers` then `shadow` layers (evaluated and counted, never
    /// denying), each a `(name, limit)` tuple; `name` is the scope a verdict
    /// reports (X-RateLimit-Scope). Every layer must run on one clock.
    #[new]
    #[pyo3(signature = (layers, *, shadow = Vec::new()), text_signature = "(layers, *, shadow=())")]
    fn new(layers: Vec<Bound<'_, PyAny>>, shadow: Vec<Bound<'_, PyAny>>) -> PyResult<Self> {
        if layers.len() + shadow.len() > MAX_LAYERS {
            return Err(FloodgateError::new_err(format!(
                "a policy has at most {MAX_LAYERS} layers, got {}",
                layers.len() + shadow.len()
            )));
        }
        let mut builder = Policy::builder();
        let mut infos = Vec::with_capacity(layers.len() + shadow.len());
        let mut clock: Option<BindingClock> = None;
        let entries = layers.iter().map(|entry| (entry, false));
        for (entry, is_shadow) in entries.chain(shadow.iter().map(|entry| (entry, true))) {
            let (scope, layer) = named_layer(entry)?;
            match &clock {
                Some(first) if !first.same_timeline(&layer.clock) => {
                    return Err(FloodgateError::new_err(
                        "every layer of a policy must run on one clock: the same \
                         ManualClock, or none (the process's monotonic clock; layers \
                         built with shared= read the machine's, so share every layer \
                         of a policy or none)",
                    ));
                }
                Some(_) => {}
                None => clock = Some(layer.clock.clone()),
            }
            infos.push(LayerInfo {
                scope,
                keyed: layer.keyed,
            });
            builder = match is_shadow {
                false => builder.layer(scope, layer.limit),
                true => builder.shadow_layer(scope, layer.limit),
            };
        }
        let clock =
            clock.ok_or_else(|| FloodgateError::new_err("a policy needs at least one layer"))?;
        let policy = builder.clock(clock).build().map_err(engine_error)?;
        Ok(Self {
            policy,
            layers: infos,
        })
    }

    /// Checks `cost` against every layer, now or at `now_ns`. `keys` lists
    /// one key per layer, in order (enforcing, then shadow): None for a
    /// Limiter or SlidingWindow, a str, bytes or int for a KeyedLimiter;
    /// omit it when no layer is keyed.
    #[pyo3(signature = (keys = None, cost = 1, now_ns = None))]
    fn check(
        &self,
        keys: Option<Vec<Bound<'_, PyAny>>>,
        #[pyo3(from_py_with = args::cost)] cost: u64,
        #[pyo3(from_py_with = args::timestamp)] now_ns: Option<u64>,
    ) -> PyResult<PyVerdict> {
        let keys = keys.unwrap_or_default();
        let layer_keys = self.layer_keys(&keys)?;
        self.policy
            .check_at(&layer_keys, cost, self.policy.at_or_now(now_ns))
            .map(PyVerdict)
            .map_err(engine_error)
    }

    /// The policy's counts so far: admitted, denied, suspended.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        counters_dict(py, &self.policy.counters())
    }

    /// Layer `index`'s counts so far: denied, shadow_denied, suspended.
    fn layer_counters<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = index)] index: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let counters = self.policy.layer_counters(index).map_err(engine_error)?;
        let dict = PyDict::new(py);
        dict.set_item("denied", counters.denied)?;
        dict.set_item("shadow_denied", counters.shadow_denied)?;
        dict.set_item("suspended", counters.suspended)?;
        Ok(dict)
    }

    /// Now on this policy's timeline, in nanoseconds: its layers' (the
    /// machine's monotonic clock, `time.monotonic_ns()`, over shared layers).
    fn now_ns(&self) -> u64 {
        self.policy.clock().now_ns()
    }

    /// The layers' names, in the order keys are listed.
    #[getter]
    fn scopes(&self) -> Vec<&'static str> {
        self.layers
            .iter()
            .map(|layer| layer.scope.as_str())
            .collect()
    }

    /// Per layer, in the order keys are listed: whether it takes a key
    /// (a keyed limit) or None (a Limiter or SlidingWindow).
    #[getter]
    fn keyed(&self) -> Vec<bool> {
        self.layers.iter().map(|layer| layer.keyed).collect()
    }

    fn __len__(&self) -> usize {
        self.layers.len()
    }

    fn __repr__(&self) -> String {
        format!("Policy(scopes={:?})", self.scopes())
    }
}

fn index(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    args::size(value, "index")
}

impl PyPolicy {
    /// One engine key per layer, refusing a key of the wrong kind for its
    /// layer with a TypeError before any layer is charged.
    fn layer_keys<'a>(&self, keys: &'a [Bound<'_, PyAny>]) -> PyResult<Vec<LayerKey<'a>>> {
        if keys.is_empty() && self.layers.iter().all(|layer| !layer.keyed) {
            return Ok(vec![LayerKey::Unkeyed; self.layers.len()]);
        }
        if keys.len() != self.layers.len() {
            return Err(FloodgateError::new_err(format!(
                "this policy has {} layers, so it needs {} keys, got {}",
                self.layers.len(),
                self.layers.len(),
                keys.len()
            )));
        }
        let mut layer_keys = Vec::with_capacity(keys.len());
        for (index, (layer, key)) in self.layers.iter().zip(keys).enumerate() {
            let layer_key = args::layer_key(key)?;
            match (layer.keyed, layer_key) {
                (true, LayerKey::Unkeyed) => {
                    return Err(PyTypeError::new_err(format!(
                        "{} is keyed: its key must be a str, bytes or int, got None",
                        describe(layer, index)
                    )));
                }
                (false, LayerKey::Unkeyed) | (true, _) => {}
                (false, _) => {
                    return Err(PyTypeError::new_err(format!(
                        "{} is not keyed: its key must be None",
                        describe(layer, index)
                    )));
                }
            }
            layer_keys.push(layer_key);
        }
        Ok(layer_keys)
    }
}

/// The answer to a layered check: the decision to act on and render
/// headers from, and the layer it came from. Truthy when admitted.
#[pyclass(frozen, name = "Verdict", module = "floodgate")]
pub(crate) struct PyVerdict(pub(crate) Verdict);

#[pymethods]
impl PyVerdict {
    /// Whether the request may go.
    #[getter]
    fn admitted(&self) -> bool {
        self.0.is_admitted()
    }

    /// When admitted, the enforcing layer with the fewest units left; when
    /// refused, the layer with the longest wait.
    #[getter]
    fn decision(&self) -> PyDecision {
        PyDecision(self.0.decision())
    }

    /// That layer's name (X-RateLimit-Scope).
    #[getter]
    fn scope(&self) -> &'static str {
        self.0.scope().as_str()
    }

    /// That layer's index.
    #[getter]
    fn layer(&self) -> usize {
        self.0.layer()
    }

    fn __bool__(&self) -> bool {
        self.0.is_admitted()
    }

    fn __repr__(&self) -> String {
        format!(
            "Verdict(admitted={}, scope={:?}, layer={})",
            if self.0.is_admitted() {
                "True"
            } else {
                "False"
            },
            self.0.scope().as_str(),
            self.0.layer()
        )
    }
}
