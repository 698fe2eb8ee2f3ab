//! Where a limiter gets "now" from: nanoseconds on one monotonic timeline.
//!
//! Three sources: [`MonotonicClock`] (the default, a fast TSC-based clock),
//! [`ManualClock`] (tests and simulations move it by hand), and the caller's
//! own timestamps passed to the `*_at` methods. A limiter's decisions only
//! compare timestamps with each other, so one limiter must be fed from one
//! timeline; its origin does not matter.

use crate::shm::timeline::{self, Calibration};
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

    /// This clock, or where it has one the same kind of clock on a timeline
    /// every process on the machine reads: what a shared limiter is timed
    /// by. [`MonotonicClock`] moves to [`MonotonicClock::system`]; other
    /// clocks stay as they are (a test's [`ManualClock`] times a shared
    /// limiter with its own `*_at` times).
    #[doc(hidden)]
    fn system_wide(self) -> Self
    where
        Self: Sized,
    {
        self
    }
}

/// The default clock, on one of two timelines.
///
/// * [`new`](Self::new): the CPU's invariant TSC read through `quanta`,
///   scaled to nanoseconds since one origin shared by every such clock in
///   the process. About twice as fast as `std::time::Instant` on our
///   machines (BENCHMARKS.md, "clock").
/// * [`system`](Self::system): one timeline for every process on the
///   machine: the TSC scaled by one calibration kept in
///   `/dev/shm/floodgate.timeline` (made by the first process to need it),
///   or `CLOCK_MONOTONIC` where there is none (about 2.5x the cost of a
///   TSC read here: 27 ns against 11). What a shared limiter (built
///   `.shared(..)`) and a policy over shared layers read, since their
///   worker processes must agree on "now".
///
/// All default clocks of a timeline read the same time, so limiters,
/// layers and policies created at different times agree on "now": a
/// [`Policy`](crate::Policy) built before its [`Limiter`](crate::Limiter)
/// layer charges that layer on the same time scale as direct checks do.
///
/// ```
/// use floodgate::{Clock, MonotonicClock};
/// let first = MonotonicClock::new();
/// let earlier = first.now_ns();
/// let second = MonotonicClock::new(); // made later, same origin
/// assert!(second.now_ns() >= earlier);
/// let machine = MonotonicClock::system();
/// assert!(machine.is_system_wide() && !first.is_system_wide());
/// ```
#[derive(Clone, Debug)]
pub struct MonotonicClock {
    timeline: Timeline,
}

#[derive(Clone, Debug)]
enum Timeline {
    Process {
        source: quanta::Clock,
        origin: u64,
    },
    /// The counter on the machine's one calibration.
    Machine {
        source: quanta::Clock,
        calibration: Calibration,
    },
    /// `CLOCK_MONOTONIC`, where the machine has no calibration to share.
    System,
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
                Self {
                    timeline: Timeline::Process { source, origin },
                }
            })
            .clone()
    }

    /// A clock on the machine's timeline: every process reads the same
    /// time from it (the first call in a process may calibrate the counter
    /// for the whole machine, some 50 ms, once per boot).
    pub fn system() -> Self {
        static MACHINE: OnceLock<MonotonicClock> = OnceLock::new();
        MACHINE
            .get_or_init(|| {
                let source = quanta::Clock::new();
                let timeline = match timeline::machine(&source) {
                    Some(calibration) => Timeline::Machine {
                        source,
                        calibration,
                    },
                    None => Timeline::System,
                };
                Self { timeline }
            })
            .clone()
    }

    /// Whether every process on the machine reads this clock's time.
    pub fn is_system_wide(&self) -> bool {
        !matches!(self.timeline, Timeline::Process { .. })
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
        match &self.timeline {
            Timeline::Process { source, origin } => source.delta_as_nanos(*origin, source.raw()),
            Timeline::Machine {
                source,
                calibration,
            } => calibration.ns_at(source.raw()),
            Timeline::System => system_now_ns(),
        }
    }

    fn system_wide(self) -> Self {
        Self::system()
    }
}

/// A word naming the machine timeline this process reads (0 for
/// `CLOCK_MONOTONIC`): a segment records its creator's, and a process on
/// another timeline may not use it.
pub(crate) fn machine_timeline() -> u64 {
    match MonotonicClock::system().timeline {
        Timeline::Machine { calibration, .. } => calibration.identity(),
        _ => 0,
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds.
pub(crate) fn system_now_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the call; with
    // CLOCK_MONOTONIC, clock_gettime cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(now.tv_nsec as u64)
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
