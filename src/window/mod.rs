//! [`SlidingWindow`]: a sliding-window counter whose whole state is one
//! atomic word.
//!
//! See [`SlidingWindow`] for the estimate's accuracy and the rule for
//! timestamps out of order.

pub(crate) mod estimate;
pub(crate) mod keyed;
mod state;
pub(crate) mod word;

use crate::core::alloc::{Place, Placed};
use crate::core::clock::{Clock, ManualClock, MonotonicClock};
use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::shm::header::{Description, Kind, Limits};
use crate::shm::{segment, SharedMemory};
use crossbeam_utils::CachePadded;
use state::WindowState;
use std::time::Duration;

/// The largest limit a [`SlidingWindow`] takes: each count has 21 bits.
pub const MAX_WINDOW_LIMIT: u64 = word::MAX_COUNT;

/// The longest window a [`SlidingWindow`] takes: 2^62 ns (about 146 years),
/// so waits of up to three windows fit in 64 bits of nanoseconds.
pub const MAX_WINDOW: Duration = Duration::from_nanos(1 << 62);

/// A lock-free sliding-window counter: at most `limit` cost units in any
/// window of the configured length, estimated from two counts.
///
/// Windows are aligned to the clock's origin (to minutes of Unix time when
/// fed Unix nanoseconds through [`check_at`](Self::check_at)).
///
/// # Accuracy against an exact sliding log
///
/// The counter keeps two counts, the current fixed window's and the previous
/// one's, and estimates the last `W` ns as
/// `current + previous * (W - elapsed) / W`. It assumes the previous window's
/// requests were spread evenly; an exact sliding log (every timestamp kept)
/// needs no assumption. The worst cases:
///
/// * **Over-admission.** Any fixed window `[kW, (k+1)W)` admits at most
///   `limit`. Any sliding interval of length `W` ending `e` ns into a window
///   admits at most `limit + previous * e / W`, which is below `2 * limit`:
///   reached only when the previous window's requests all came at its very
///   end and the current window's at its very end too.
/// * **Under-admission.** When the previous window's requests all came at its
///   start, they have already left the exact log but still weigh
///   `previous * (W - e) / W` here: at worst the counter denies that many
///   requests the log would admit.
///
/// Measured by `tests/window.rs` (600 per minute, seeded workloads, every
/// decision replayed against an exact sliding log):
///
/// | workload | decisions that differ from the log fed the same admissions | throughput vs an exact log limiter | fullest sliding minute |
/// |---|---|---|---|
/// | Poisson, 0.5x and 0.8x the limit | 0 | 1.000x | 363, 564 |
/// | Poisson, 0.9x | 0.28% (822 over, 70 under of 324k) | 1.000x | 620 (1.03x) |
/// | Poisson, 1.5x / 3x | 30% / 52% (timing) | 1.000x / 0.998x | 612 / 603 |
/// | bursts of 10 s at 30/s, 100/s, then 0-80 s idle | 8% / 41% (timing) | 1.004x / 0.976x | 896 (1.49x) / 1,106 (1.84x) |
///
/// Overloaded, both admit about as much but at different moments, so most
/// decisions "differ" in timing only. Cloudflare's 0.003% of wrong decisions
/// is over production traffic, nearly all far below its limits (like the
/// 0.5x and 0.8x rows). Bursts right after idle minutes are the shape that
/// approaches the `2 * limit` worst case; use a token bucket
/// ([`Limiter`](crate::Limiter)) where that matters.
///
/// # Timestamps out of order
///
/// A counter only knows the timestamps it is given: its time is the latest a
/// check or refund has given it, and it keeps that time's window, in full.
/// A timestamp behind that window, by any amount (another core's clock, a
/// request stamped when it was queued), is decided at the start of the
/// counter's window: the counts as they stand there, the previous window's
/// at full weight, the most the estimate is anywhere in that window. It may
/// deny what the counter's own time would admit, never the reverse, and
/// what it admits is charged to the counter's window. The bounds above
/// therefore hold for the requests placed at the time they were decided,
/// however stale their timestamps (`tests/window_model.rs`). A denied stale
/// check's `retry_after`, and every stale check's `reset_after`, count from
/// the stale timestamp.
///
/// The counts carry their window modulo 2^22 windows. A counter whose
/// counts were last charged or refunded a whole multiple of 2^22 windows
/// before now's window (48 days of 1 s windows, 8 years of 1 min windows),
/// or one window more, reads those old counts as its current or previous
/// window's: it may deny, never admit more, and only until the end of the
/// next window. After any other idle time, however long, the counts have
/// expired and the whole limit is there.
///
/// Built only by [`SlidingWindow::builder`]: no kind in this crate has `new` or
/// another constructor.
///
/// # Example
///
/// ```
/// use floodgate::{ManualClock, Outcome, SlidingWindow};
/// use std::time::Duration;
///
/// // GenieOS per-workspace cap: 600 requests per minute.
/// let clock = ManualClock::new();
/// let window = SlidingWindow::builder(600, Duration::from_secs(60))
///     .clock(clock.clone())
///     .build()?;
/// for _ in 0..600 {
///     assert!(window.check(1).is_admitted());
/// }
/// let denied = window.check(1);
/// assert_eq!(denied.outcome(), Outcome::Denied);
/// // The next minute's first slot opens once 1/600 of the 600 has slid out.
/// assert_eq!(denied.retry_after(), Some(Duration::from_millis(60_100)));
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(window.peek().remaining(), 300);
/// # Ok::<(), floodgate::Error>(())
/// ```
pub struct SlidingWindow<C: Clock = MonotonicClock> {
    state: Placed<CachePadded<WindowState>>,
    window_ns: u64,
    clock: C,
}

/// Configures a [`SlidingWindow`]; start with [`SlidingWindow::builder`].
///
/// ```
/// use floodgate::{ManualClock, SlidingWindow};
/// use std::time::Duration;
///
/// let window = SlidingWindow::builder(600, Duration::from_secs(60))
///     .clock(ManualClock::new())
///     .build()?;
/// assert_eq!(window.peek().remaining(), 600);
/// # Ok::<(), floodgate::Error>(())
/// ```
#[must_use]
pub struct SlidingWindowBuilder<C: Clock = MonotonicClock> {
    limit: u64,
    window: Duration,
    shared: Option<SharedMemory>,
    clock: C,
}

impl SlidingWindow<MonotonicClock> {
    /// A builder for an empty counter of `limit` per `window`, timed by a
    /// new [`MonotonicClock`] unless given another
    /// [`clock`](SlidingWindowBuilder::clock).
    ///
    /// This builder is the only way to make a counter, as for every kind in
    /// this crate. It is defined for the default clock so that
    /// `SlidingWindow::builder(limit, window)` needs no type annotation;
    /// `.clock(c)` then changes the clock type.
    ///
    /// ```
    /// use floodgate::{Error, SlidingWindow};
    /// use std::time::Duration;
    /// assert!(SlidingWindow::builder(600, Duration::from_secs(60)).build().is_ok());
    /// ```
    pub fn builder(limit: u64, window: Duration) -> SlidingWindowBuilder {
        SlidingWindowBuilder {
            limit,
            window,
            shared: None,
            clock: MonotonicClock::new(),
        }
    }
}

impl<C: Clock> SlidingWindowBuilder<C> {
    /// The clock checks without an explicit time read.
    pub fn clock<D: Clock>(self, clock: D) -> SlidingWindowBuilder<D> {
        SlidingWindowBuilder {
            limit: self.limit,
            window: self.window,
            shared: self.shared,
            clock,
        }
    }

    /// Keeps the counter in the segment `shared`, so that every process
    /// building this counter with it counts into one window (see
    /// [`SharedMemory`]); every process must give the same limit and
    /// window ([`Error::SegmentMismatch`] names the one that differs), and
    /// a [`reconfigure`](SlidingWindow::reconfigure) by one is seen by all.
    /// A [`MonotonicClock`] moves to the machine's timeline
    /// ([`MonotonicClock::system`]).
    ///
    /// ```
    /// use floodgate::{SharedMemory, SlidingWindow};
    /// use std::time::Duration;
    /// let shared = SharedMemory::named(&format!("doc-window-{}", std::process::id()))?;
    /// let build = || SlidingWindow::builder(600, Duration::from_secs(60)).shared(shared.clone()).build();
    /// let (worker_one, worker_two) = (build()?, build()?);
    /// assert!(worker_one.is_shared() && worker_one.clock().is_system_wide());
    /// assert!(worker_one.check(600).is_admitted());
    /// assert!(!worker_two.check(1).is_admitted());
    /// shared.remove()?;
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn shared(mut self, shared: SharedMemory) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The counter, or [`Error::ZeroLimit`] / [`Error::LimitTooLarge`] /
    /// [`Error::ZeroWindow`] / [`Error::WindowTooLong`]; built
    /// [`shared`](Self::shared), also the segment's errors
    /// ([`Error::SegmentMismatch`], [`Error::SegmentIo`], ...).
    ///
    /// ```
    /// use floodgate::{Error, SlidingWindow, MAX_WINDOW_LIMIT};
    /// use std::time::Duration;
    /// let minute = Duration::from_secs(60);
    /// assert_eq!(SlidingWindow::builder(0, minute).build().err(), Some(Error::ZeroLimit));
    /// assert_eq!(SlidingWindow::builder(MAX_WINDOW_LIMIT + 1, minute).build().err(), Some(Error::LimitTooLarge));
    /// assert_eq!(SlidingWindow::builder(1, Duration::ZERO).build().err(), Some(Error::ZeroWindow));
    /// ```
    pub fn build(self) -> Result<SlidingWindow<C>> {
        let Self {
            limit,
            window,
            shared,
            clock,
        } = self;
        validate(limit, window)?;
        let Some(shared) = shared else {
            return SlidingWindow::placed(limit, window, clock, &mut Place::heap());
        };
        let description = Description {
            kind: Kind::SlidingWindow as u64,
            limits: window_limits(limit, window),
            capacity: 0,
            options: 0,
        };
        segment::open(
            &shared,
            &description,
            |place| SlidingWindow::placed(limit, window, ManualClock::new(), place).map(drop),
            |place, _| SlidingWindow::placed(limit, window, clock.system_wide(), place),
        )
    }
}

/// A window's `limit` and `window` (both valid) as a segment header records them.
pub(crate) fn window_limits(limit: u64, window: Duration) -> Limits {
    Limits::Window {
        limit,
        window_ns: window_nanos(window),
    }
}

/// A valid window's length in nanoseconds.
pub(crate) fn window_nanos(window: Duration) -> u64 {
    debug_assert!(!window.is_zero() && window <= MAX_WINDOW);
    // At most 2^62 ns, checked by `validate`.
    window.as_nanos() as u64
}

impl<C: Clock> SlidingWindow<C> {
    /// An empty counter in `place`, from a `limit` and `window` already
    /// passed by [`validate`].
    pub(crate) fn placed(
        limit: u64,
        window: Duration,
        clock: C,
        place: &mut Place,
    ) -> Result<Self> {
        debug_assert!(validate(limit, window).is_ok());
        Ok(Self {
            state: place.one(|| CachePadded::new(WindowState::new(limit)))?,
            window_ns: window_nanos(window),
            clock,
        })
    }

    /// Whether the counter lives in a shared segment.
    pub fn is_shared(&self) -> bool {
        self.state.is_shared()
    }

    /// The clock this counter reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The window length.
    ///
    /// ```
    /// # use floodgate::SlidingWindow;
    /// # use std::time::Duration;
    /// let window = SlidingWindow::builder(600, Duration::from_secs(60)).build()?;
    /// assert_eq!(window.window(), Duration::from_secs(60));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window_ns)
    }

    /// The limit in force.
    ///
    /// ```
    /// # use floodgate::SlidingWindow;
    /// # use std::time::Duration;
    /// assert_eq!(SlidingWindow::builder(1_800, Duration::from_secs(60)).build()?.limit(), 1_800);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn limit(&self) -> u64 {
        self.state.limit()
    }

    /// Decides a request of `cost` units now. A cost of 0 peeks; a cost above
    /// the limit returns [`Outcome::CannotFit`](crate::Outcome::CannotFit).
    ///
    /// The decision's `reset_after` is the time until the estimate is back
    /// to 0 (full capacity); when denied, `retry_after` is the exact earliest
    /// time the same cost fits, never zero.
    ///
    /// ```
    /// # use floodgate::{ManualClock, Outcome, SlidingWindow};
    /// # use std::time::Duration;
    /// let window = SlidingWindow::builder(10, Duration::from_secs(1))
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// assert_eq!(window.check(11).outcome(), Outcome::CannotFit);
    /// let decision = window.check(4);
    /// assert_eq!((decision.remaining(), decision.reset_after()), (6, Duration::from_secs(2)));
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn check(&self, cost: u64) -> Decision {
        self.check_at(cost, self.clock.now_ns())
    }

    /// [`check`](Self::check) at a caller-supplied time on this counter's
    /// timeline. A time behind the latest one given is decided at the start
    /// of the latest one's window (see [Timestamps out of
    /// order](SlidingWindow#timestamps-out-of-order)).
    ///
    /// ```
    /// # use floodgate::SlidingWindow;
    /// # use std::time::Duration;
    /// let window = SlidingWindow::builder(1, Duration::from_secs(1)).build()?;
    /// assert!(window.check_at(1, 5_000_000_000).is_admitted());
    /// assert!(!window.check_at(1, 5_900_000_000).is_admitted());
    /// assert!(window.check_at(1, 7_000_000_000).is_admitted());
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn check_at(&self, cost: u64, now_ns: u64) -> Decision {
        self.state.check_at(self.window_ns, cost, now_ns)
    }

    /// The counter as it stands now, charging nothing (same as `check(0)`).
    ///
    /// ```
    /// # use floodgate::{ManualClock, SlidingWindow};
    /// # use std::time::Duration;
    /// let window = SlidingWindow::builder(5, Duration::from_secs(1))
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// window.check(2);
    /// assert_eq!(window.peek().remaining(), 3);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn peek(&self) -> Decision {
        self.check(0)
    }

    /// [`peek`](Self::peek) at a caller-supplied time.
    pub fn peek_at(&self, now_ns: u64) -> Decision {
        self.check_at(0, now_ns)
    }

    /// Gives back `amount` units (say, the downstream call failed), taken off
    /// the current window's count first and the previous window's after, and
    /// returns the counter afterwards. Counts never go below zero.
    ///
    /// ```
    /// # use floodgate::{ManualClock, SlidingWindow};
    /// # use std::time::Duration;
    /// let window = SlidingWindow::builder(5, Duration::from_secs(1))
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// window.check(3);
    /// assert_eq!(window.refund(1).remaining(), 3);
    /// assert_eq!(window.refund(100).remaining(), 5);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn refund(&self, amount: u64) -> Decision {
        self.refund_at(amount, self.clock.now_ns())
    }

    /// [`refund`](Self::refund) at a caller-supplied time.
    pub fn refund_at(&self, amount: u64, now_ns: u64) -> Decision {
        self.state.refund_at(self.window_ns, amount, now_ns)
    }

    /// Replaces the limit, from any thread, while checks go on; the counts
    /// are kept, so a lowered limit may deny until they slide out. A check
    /// racing the change decides under either limit. The window length is
    /// fixed for the counter's life: counts of one length cannot be
    /// re-weighted into another without the log they summarise.
    ///
    /// ```
    /// # use floodgate::{Error, ManualClock, SlidingWindow};
    /// # use std::time::Duration;
    /// let window = SlidingWindow::builder(600, Duration::from_secs(60))
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// window.check(500);
    /// window.reconfigure(1_800)?; // Hobby -> Pro
    /// assert_eq!(window.peek().remaining(), 1_300);
    /// assert_eq!(window.reconfigure(0), Err(Error::ZeroLimit));
    /// assert_eq!(window.limit(), 1_800);
    /// # Ok::<(), floodgate::Error>(())
    /// ```
    pub fn reconfigure(&self, limit: u64) -> Result<()> {
        validate_limit(limit)?;
        self.state.set_limit(limit);
        Ok(())
    }

    /// What `check_at(cost, now_ns)` would decide, without charging.
    pub(crate) fn probe_at(&self, cost: u64, now_ns: u64) -> Decision {
        self.state
            .probe_under_at(self.window_ns, self.limit(), cost, now_ns)
    }
}

/// The one check of a counter's `limit` and `window`, for every table of them too.
pub(crate) fn validate(limit: u64, window: Duration) -> Result<()> {
    validate_limit(limit)?;
    if window.is_zero() {
        return Err(Error::ZeroWindow);
    }
    if window > MAX_WINDOW {
        return Err(Error::WindowTooLong);
    }
    Ok(())
}

/// [`Error::ZeroLimit`] or [`Error::LimitTooLarge`] for a limit no window can hold.
pub(crate) fn validate_limit(limit: u64) -> Result<()> {
    if limit == 0 {
        Err(Error::ZeroLimit)
    } else if limit > MAX_WINDOW_LIMIT {
        Err(Error::LimitTooLarge)
    } else {
        Ok(())
    }
}

impl<C: Clock> std::fmt::Debug for SlidingWindow<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlidingWindow")
            .field("limit", &self.limit())
            .field("window", &self.window())
            .finish_non_exhaustive()
    }
}
