//! Time sources a Python limiter can run on, `floodgate.ManualClock`, and
//! the spans of time the binding reports.

use crate::args;
use floodgate::{
    Clock, KeyedLimiter, KeyedWindows, Limiter, ManualClock, MonotonicClock, Policy, SlidingWindow,
    Suspensions,
};
use pyo3::prelude::*;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The clock behind a Python limiter: the engine's monotonic clock, or a
/// manual clock the caller moves (tests, simulations). One enum instead of a
/// generic class per clock keeps a single Python `Limiter` type; the branch
/// costs nothing next to the call itself.
#[derive(Clone, Debug)]
pub(crate) enum BindingClock {
    Monotonic(MonotonicClock),
    /// The `Arc` gives the clock an identity, so a policy can tell whether
    /// its layers run on one manual clock.
    Manual(Arc<ManualClock>),
}

/// The one monotonic timeline of every object built without a ManualClock.
/// A `MonotonicClock` counts from its own creation, so limiters with clocks
/// of their own would disagree about "now" once layered in one policy.
fn process_clock() -> &'static MonotonicClock {
    static CLOCK: OnceLock<MonotonicClock> = OnceLock::new();
    CLOCK.get_or_init(MonotonicClock::new)
}

impl BindingClock {
    /// The manual clock's handle if one is given, else the process's
    /// monotonic timeline.
    pub(crate) fn from_option(clock: Option<&Bound<'_, PyManualClock>>) -> Self {
        match clock {
            Some(manual) => Self::Manual(Arc::clone(&manual.get().0)),
            None => Self::Monotonic(process_clock().clone()),
        }
    }

    /// Whether `self` and `other` read the same timeline: the process's,
    /// the machine's (shared limiters), or one manual clock.
    pub(crate) fn same_timeline(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Monotonic(one), Self::Monotonic(other)) => {
                one.is_system_wide() == other.is_system_wide()
            }
            (Self::Manual(one), Self::Manual(other)) => Arc::ptr_eq(one, other),
            _ => false,
        }
    }
}

impl Clock for BindingClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        match self {
            Self::Monotonic(clock) => clock.now_ns(),
            Self::Manual(clock) => clock.now_ns(),
        }
    }

    /// The machine's timeline for a monotonic clock (shared limiters, and
    /// policies over them, are charged by every worker process); a manual
    /// clock stays the caller's.
    fn system_wide(self) -> Self {
        match self {
            Self::Monotonic(clock) => Self::Monotonic(clock.system_wide()),
            manual @ Self::Manual(_) => manual,
        }
    }
}

/// Something that runs on a `BindingClock`: an engine limit, or the recipe a
/// keyed limit's tables are built from. Every `now_ns=` argument resolves
/// through `at_or_now`.
pub(crate) trait Timed {
    fn binding_clock(&self) -> &BindingClock;

    /// `now_ns` when the caller gave one, else now on this clock.
    #[inline]
    fn at_or_now(&self, now_ns: Option<u64>) -> u64 {
        now_ns.unwrap_or_else(|| self.binding_clock().now_ns())
    }
}

/// `Timed` for engine types, through their inherent `clock()`; `<K>` marks
/// a keyed type.
macro_rules! timed_by_inherent_clock {
    ($($engine:ident $(<$key:ident>)?),* $(,)?) => {$(
        impl$(<$key: floodgate::Key + ?Sized>)? Timed for $engine<$($key,)? BindingClock> {
            #[inline]
            fn binding_clock(&self) -> &BindingClock {
                self.clock()
            }
        }
    )*};
}

timed_by_inherent_clock!(
    Limiter,
    SlidingWindow,
    Policy,
    KeyedLimiter<K>,
    KeyedWindows<K>,
    Suspensions<K>,
);

/// Nanoseconds as the seconds (a float) Python reads.
pub(crate) fn seconds_of(nanos: u64) -> f64 {
    Duration::from_nanos(nanos).as_secs_f64()
}

/// A span the engine reports, in nanoseconds. Its spans are built from u64
/// nanoseconds (windows are at most 2^62 ns), so this always fits; it
/// saturates rather than assume so.
pub(crate) fn nanos_of(span: Duration) -> u64 {
    u64::try_from(span.as_nanos()).unwrap_or(u64::MAX)
}

/// A clock that moves only when told to. Limiters built with it share its
/// time: advance it and every one of them sees the new time.
#[pyclass(frozen, name = "ManualClock", module = "floodgate")]
pub(crate) struct PyManualClock(Arc<ManualClock>);

fn start_ns(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    args::unsigned(value, "start_ns")
}

fn nanoseconds(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    args::unsigned(value, "ns")
}

#[pymethods]
impl PyManualClock {
    /// A clock at `start_ns` nanoseconds.
    #[new]
    #[pyo3(signature = (start_ns = 0))]
    fn new(#[pyo3(from_py_with = start_ns)] start_ns: u64) -> Self {
        Self(Arc::new(ManualClock::starting_at(start_ns)))
    }

    /// The current time in nanoseconds.
    fn now_ns(&self) -> u64 {
        self.0.now_ns()
    }

    /// Moves the clock forward by `seconds` (int, float or timedelta),
    /// saturating at 2**64 - 1 ns.
    fn advance(&self, #[pyo3(from_py_with = args::seconds)] seconds: Duration) {
        self.0.advance(seconds);
    }

    /// Moves the clock forward by `ns` nanoseconds.
    fn advance_ns(&self, #[pyo3(from_py_with = nanoseconds)] ns: u64) {
        self.0.advance(Duration::from_nanos(ns));
    }

    /// Sets the clock to `ns`, forwards or backwards.
    fn set_ns(&self, #[pyo3(from_py_with = nanoseconds)] ns: u64) {
        self.0.set_ns(ns);
    }

    fn __repr__(&self) -> String {
        format!("ManualClock(start_ns={})", self.0.now_ns())
    }
}
