//! [`SlidingWindow`]: a sliding-window counter whose whole state is one
//! atomic word.
//!
//! See [`SlidingWindow`] for the estimate's accuracy and the rule for
//! timestamps out of order.

mod estimate;
pub(crate) mod keyed;
mod word;

use crate::core::clock::{Clock, MonotonicClock};
use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::sync::{AtomicU64, Backoff, Ordering};
use crossbeam_utils::CachePadded;
use estimate::{Estimate, Position};
use std::time::Duration;
use word::WindowWord;

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
    state: CachePadded<State>,
    limit: AtomicU64,
    window_ns: u64,
    clock: C,
}

/// A counter's two atomics, on one cache line: a check reads both.
struct State {
    /// The [`WindowWord`]: the counts and their window.
    word: AtomicU64,
    /// The latest window (`now_ns / window_ns`, not wrapped) any check or
    /// refund has been given. Only grows; the word is never in a later one.
    latest: AtomicU64,
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
            clock,
        }
    }

    /// The counter, or [`Error::ZeroLimit`] / [`Error::LimitTooLarge`] /
    /// [`Error::ZeroWindow`] / [`Error::WindowTooLong`].
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
        validate(self.limit, self.window)?;
        Ok(SlidingWindow::validated(
            self.limit,
            self.window,
            self.clock,
        ))
    }
}

impl<C: Clock> SlidingWindow<C> {
    /// An empty counter from a `limit` and `window` already passed by
    /// [`validate`].
    pub(crate) fn validated(limit: u64, window: Duration, clock: C) -> Self {
        debug_assert!(validate_limit(limit).is_ok() && !window.is_zero() && window <= MAX_WINDOW);
        Self {
            state: CachePadded::new(State {
                word: AtomicU64::new(WindowWord::EMPTY.into_bits()),
                latest: AtomicU64::new(0),
            }),
            limit: AtomicU64::new(limit),
            // At most 2^62 ns, checked by the caller.
            window_ns: window.as_nanos() as u64,
            clock,
        }
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
        // Relaxed: the limit is a standalone value; the counts never depend on it.
        self.limit.load(Ordering::Relaxed)
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
        self.update(now_ns, |word, limit, window_ns, at| {
            estimate::evaluate(word, limit, window_ns, at, cost)
        })
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
        self.update(now_ns, |word, limit, window_ns, at| {
            estimate::refund(word, limit, window_ns, at, amount)
        })
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
        // Relaxed: see `limit`.
        self.limit.store(limit, Ordering::Relaxed);
        Ok(())
    }

    /// What `check_at(cost, now_ns)` would decide, without charging.
    pub(crate) fn probe_at(&self, cost: u64, now_ns: u64) -> Decision {
        self.probe_under_at(self.limit(), cost, now_ns)
    }

    /// What a check would decide under `limit` (a valid one), without charging.
    pub(crate) fn probe_under_at(&self, limit: u64, cost: u64, now_ns: u64) -> Decision {
        // Acquire: see `update`.
        let word = WindowWord::from_bits(self.state.word.load(Ordering::Acquire));
        let at = self.position(now_ns, false);
        estimate::evaluate(word, limit, self.window_ns, &at, cost).decision
    }

    /// Where a check stamped `now_ns` is decided, read after the word it
    /// decides on; when `advance`, first moving the counter's latest window
    /// up to `now_ns`'s.
    fn position(&self, now_ns: u64, advance: bool) -> Position {
        let index = now_ns / self.window_ns;
        // Relaxed: the word's window is published by the word (see `update`).
        let mut latest = self.state.latest.load(Ordering::Relaxed);
        if advance && index > latest {
            // Relaxed: any word stored after it is a Release that publishes it.
            latest = self
                .state
                .latest
                .fetch_max(index, Ordering::Relaxed)
                .max(index);
        }
        Position::new(now_ns, self.window_ns, latest)
    }

    /// The CAS loop every check and refund stamped `now_ns` runs.
    ///
    /// A word stored in window `X` follows, in its storer's thread, a read
    /// or raise of `latest` to at least `X`. Each pass acquires the word,
    /// then reads `latest`, so it reads at least `X`: the word is never in a
    /// window after the one the pass decides in, whatever its 22-bit index.
    fn update(
        &self,
        now_ns: u64,
        mut step: impl FnMut(WindowWord, u64, u64, &Position) -> Estimate,
    ) -> Decision {
        let limit = self.limit();
        // Acquire: pairs with the storing CAS's Release, see above.
        let mut current = WindowWord::from_bits(self.state.word.load(Ordering::Acquire));
        let backoff = Backoff::new();
        loop {
            let at = self.position(now_ns, true);
            let evaluation = step(current, limit, self.window_ns, &at);
            let Some(next) = evaluation.next else {
                return evaluation.decision;
            };
            // Release on success, Acquire on failure: see above.
            match self.state.word.compare_exchange_weak(
                current.into_bits(),
                next.into_bits(),
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => return evaluation.decision,
                Err(actual) => {
                    current = WindowWord::from_bits(actual);
                    backoff.spin();
                }
            }
        }
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
