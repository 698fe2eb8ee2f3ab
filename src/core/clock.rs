//! Where a limiter gets "now" from: nanoseconds on one monotonic timeline.
//!
//! Three sources: [`MonotonicClock`] (the default, a fast TSC-based clock),
//! [`ManualClock`] (tests and simulations move it by hand), and the caller's
//! own timestamps passed to the `*_at` methods. A limiter's decisions only
//! compare timestamps with each other, so one limiter must be fed from one
//! timeline; its origin does not matter.

use crate::sync::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A source of monotonic nanosecond timestamps.
///
/// A timestamp slightly behind an earlier one (another core's clock) is
/// allowed: the limiter reads it as extra debt, so it can only deny.
///
/// ```
/// use floodgate::{Clock, Limiter, Quota};
///
/// struct Frozen;
/// impl Clock for Frozen {
///     fn now_ns(&self) -> u64 { 42 }
/// }
/// let limiter = Limiter::builder(Quota::per_second(1)?).clock(Frozen).build();
/// assert!(limiter.check(1).is_admitted());
/// assert!(!limiter.check(1).is_admitted());
/// # Ok::<(), floodgate::Error>(())
/// ```
pub trait Clock: Send + Sync {
    /// Nanoseconds since this clock's origin.
    fn now_ns(&self) -> u64;
}

/// The default clock: the CPU's invariant TSC read through `quanta`, scaled
/// to nanoseconds since one origin shared by every `MonotonicClock` in the
/// process. About twice as fast as `std::time::Instant` on our machines
/// (BENCHMARKS.md, "clock").
///
/// All default clocks read one timeline, so limiters, layers and policies
/// created at different times agree on "now": a [`Policy`](crate::Policy)
/// built before its [`Limiter`](crate::Limiter) layer charges that layer
/// on the same time scale as direct checks do.
///
/// ```
/// use floodgate::{Clock, MonotonicClock};
/// let first = MonotonicClock::new();
/// let earlier = first.now_ns();
/// let second = MonotonicClock::new(); // made later, same origin
/// assert!(second.now_ns() >= earlier);
/// ```
#[derive(Clone, Debug)]
pub struct MonotonicClock {
    source: quanta::Clock,
    origin: u64,
}

impl MonotonicClock {
    /// A clock on the process's one timeline (its origin is the first
    /// `MonotonicClock` the process made).
    pub fn new() -> Self {
        static TIMELINE: OnceLock<MonotonicClock> = OnceLock::new();
        TIMELINE
            .get_or_init(|| {
                let source = quanta::Clock::new();
                let origin = source.raw();
                Self { source, origin }
            })
            .clone()
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.source.delta_as_nanos(self.origin, self.source.raw())
    }
}

/// A clock that moves only when told to; clones share one time.
///
/// ```
/// use floodgate::{Clock, ManualClock};
/// use std::time::Duration;
/// let clock = ManualClock::new();
/// let handle = clock.clone();
/// handle.advance(Duration::from_millis(5));
/// assert_eq!(clock.now_ns(), 5_000_000);
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    now_ns: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at time 0.
    pub fn new() -> Self {
        Self::starting_at(0)
    }

    /// A clock at `now_ns`.
    pub fn starting_at(now_ns: u64) -> Self {
        Self {
            now_ns: Arc::new(AtomicU64::new(now_ns)),
        }
    }

    /// Moves the clock forward by `by` (saturating at `u64::MAX` ns).
    pub fn advance(&self, by: Duration) {
        let by = saturating_nanos(by);
        // Relaxed: the clock publishes only its own value.
        let _ = self
            .now_ns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                Some(now.saturating_add(by))
            });
    }

    /// Sets the clock to `now_ns`, forwards or backwards.
    pub fn set_ns(&self, now_ns: u64) {
        // Relaxed: see `advance`.
        self.now_ns.store(now_ns, Ordering::Relaxed);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> u64 {
        // Relaxed: see `advance`.
        self.now_ns.load(Ordering::Relaxed)
    }
}

/// `duration` in nanoseconds, saturating at `u64::MAX` (about 584 years).
pub(crate) fn saturating_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
