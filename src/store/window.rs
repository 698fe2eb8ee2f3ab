//! A sliding window per key, kept in Redis: every host behind a load
//! balancer counts into the same windows.
//!
//! The script (`window.lua`) keeps what a local window keeps per key (see
//! `src/window/state.rs`): the latest window any check was given, the
//! window of the counts, and the previous and current counts, as the string
//! `"<latest>:<window>:<previous>:<current>"`. It decides admission and
//! writes; the decision's figures (remaining, reset, retry-after) are then
//! computed here by the local engine's own arithmetic (`window/estimate.rs`)
//! from what the script saw, so they cannot drift apart.
//!
//! # Units
//!
//! Time reaches the script in microseconds, a window `W` in nanoseconds may
//! not be a whole number of them, and a window's estimate multiplies a
//! count (up to 2^21) by a time: the script counts time in units of
//! `u = gcd(1000, W)` ns, so the window is `W / u` units and a microsecond
//! `1000 / u`, and takes every product that could pass 2^53 apart one bit
//! at a time (`muldiv`). Every figure is then an integer below 2^53 when the
//! window is at least a microsecond (so the window index stays below the
//! microsecond clock) and `W / u` is below 2^53, which every window of whole
//! microseconds is.
//!
//! # Calling convention
//!
//! `KEYS[1]` is the window's key. `ARGV` is: the caller's time in
//! microseconds, or empty for the server's `TIME`; `c` to check, `p` to
//! peek, `r` to refund; the cost or the refund; the limit; units per
//! microsecond; the window in units. The reply is `[admitted, now, window,
//! previous, current]`: whether it admitted (1) or not (0), the microsecond
//! it decided at, the window it decided in, and the counts as seen from that
//! window before the call changed them.

use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::core::quota::gcd;
use crate::keyed::check_key_len;
use crate::store::breaker::StoreCounters;
use crate::store::connection::RedisStore;
use crate::store::fleet::Fleet;
use crate::store::guard::{failure_setters, Failures, Guard};
use crate::store::local::Windows;
use crate::store::script::{At, Call, Lua};
use crate::store::units::NANOS_PER_MICRO;
use crate::window::estimate::{self, Position};
use crate::window::word::{WindowWord, MAX_COUNT};
use crate::window::{validate, window_nanos};
use std::time::Duration;

/// The script's source, compiled into the library.
const SOURCE: &str = include_str!("window.lua");
/// The prefix of every window's Redis key when the builder sets none.
const DEFAULT_PREFIX: &[u8] = b"floodgate:window:";
/// Where Lua's doubles stop holding every integer.
const EXACT_LIMIT: u64 = 1 << 53;

/// A sliding window of `limit` per `window` for each byte or string key,
/// decided in Redis by one script per call with the server's clock. The
/// decisions, with every field, are those of a
/// [`KeyedWindows`](crate::KeyedWindows) of the same limit and window given
/// the same arrivals at the server's microsecond resolution; see the
/// [module docs](crate::store) for what is exact.
///
/// Every call has a deadline; when Redis gives no answer in time the
/// window's [`OnFailure`](crate::store::OnFailure) decides, and a circuit
/// breaker stops waiting on a server that keeps failing.
///
/// ```no_run
/// use floodgate::store::{RedisStore, RedisWindow};
/// use floodgate::Outcome;
/// use std::time::Duration;
///
/// let store = RedisStore::open("redis://127.0.0.1:6379/")?;
/// // 600 requests per minute per workspace, fleet-wide.
/// let workspaces = RedisWindow::builder(&store, 600, Duration::from_secs(60))
///     .prefix("ws:")
///     .build()?;
/// let decision = workspaces.check("ws_42", 1)?;
/// if decision.outcome() == Outcome::Denied {
///     println!("429, retry after {:?}", decision.retry_after());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisWindow {
    guard: Guard<Windows>,
    script: Lua,
    prefix: Vec<u8>,
    limit: u64,
    window_ns: u64,
    /// Script units per microsecond (`1000 / u`).
    per_micro: u64,
    /// The window in script units (`W / u`).
    window_units: u64,
}

/// Builds a [`RedisWindow`].
pub struct RedisWindowBuilder {
    store: RedisStore,
    limit: u64,
    window: Duration,
    prefix: Vec<u8>,
    failures: Failures,
}

/// The script's reply: admitted, its microsecond, its window, the counts.
type Reply = (u64, u64, u64, u64, u64);

/// What a call asks of a window.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Charge this much (0 still moves the window's time on).
    Check(u64),
    /// Report, changing nothing.
    Peek,
    /// Give this much back.
    Refund(u64),
}

impl RedisWindow {
    /// Windows of `limit` per `window`, one per key, on `store`. Defaults:
    /// keys prefixed `floodgate:window:`, a 5 ms deadline,
    /// [`OnFailure::Open`](crate::store::OnFailure::Open), a breaker that
    /// opens after 5 failures in a row and probes every 250 ms.
    pub fn builder(store: &RedisStore, limit: u64, window: Duration) -> RedisWindowBuilder {
        RedisWindowBuilder {
            store: store.clone(),
            limit,
            window,
            prefix: DEFAULT_PREFIX.to_vec(),
            failures: Failures::default(),
        }
    }
}

impl RedisWindowBuilder {
    /// What every window's Redis key starts with: windows with different
    /// limits or lengths need different prefixes, since a window is read
    /// under the settings of whoever reads it.
    pub fn prefix(mut self, prefix: impl AsRef<[u8]>) -> Self {
        self.prefix = prefix.as_ref().to_vec();
        self
    }

    failure_setters!();

    /// The fleet whose size [`OnFailure::Local`](crate::store::OnFailure::Local)
    /// divides the limit by (default: the store's fleet `"default"`, see
    /// [`RedisStore::fleet`]).
    ///
    /// ```
    /// use floodgate::store::{OnFailure, RedisStore, RedisWindow};
    /// use std::time::Duration;
    ///
    /// let store = RedisStore::open("redis://127.0.0.1:1/")?;
    /// let search = store.fleet("search");
    /// let windows = RedisWindow::builder(&store, 600, Duration::from_secs(60))
    ///     .on_failure(OnFailure::Local)
    ///     .fleet(&search)
    ///     .build()?;
    /// // Nothing answers on port 1: this host decides by its share, all
    /// // of the limit while it is the fleet's only member.
    /// assert_eq!(windows.check("ws_42", 1)?.remaining(), 599);
    /// assert_eq!(windows.counters().local_admitted, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fleet(mut self, fleet: &Fleet) -> Self {
        self.failures.fleet = Some(fleet.clone());
        self
    }

    /// The windows, or the errors of
    /// [`SlidingWindowBuilder::build`](crate::SlidingWindowBuilder::build);
    /// also [`Error::ZeroWindow`] for a window shorter than the server's
    /// microsecond, and [`Error::WindowTooLong`] for one longer than 2^53
    /// ns (104 days) that is not a whole number of microseconds; with
    /// [`OnFailure::Local`](crate::store::OnFailure::Local),
    /// [`Error::AllocationFailed`] when its in-process table cannot be
    /// allocated.
    ///
    /// ```
    /// use floodgate::store::{RedisStore, RedisWindow};
    /// use floodgate::Error;
    /// use std::time::Duration;
    /// let store = RedisStore::open("redis://127.0.0.1:1/")?; // nothing connects yet
    /// let build = |limit, window| RedisWindow::builder(&store, limit, window).build().err();
    /// assert_eq!(build(0, Duration::from_secs(1)), Some(Error::ZeroLimit));
    /// assert_eq!(build(10, Duration::from_nanos(999)), Some(Error::ZeroWindow));
    /// assert_eq!(build(10, Duration::from_nanos(1_500)), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<RedisWindow> {
        validate(self.limit, self.window)?;
        let window_ns = window_nanos(self.window);
        if window_ns < NANOS_PER_MICRO {
            return Err(Error::ZeroWindow);
        }
        let unit = gcd(NANOS_PER_MICRO, window_ns);
        let window_units = window_ns / unit;
        if window_units >= EXACT_LIMIT {
            return Err(Error::WindowTooLong);
        }
        Ok(RedisWindow {
            guard: self
                .failures
                .guard_with(self.store, || Windows::new(self.limit, self.window))?,
            script: Lua::new(SOURCE),
            prefix: self.prefix,
            limit: self.limit,
            window_ns,
            per_micro: NANOS_PER_MICRO / unit,
            window_units,
        })
    }
}

impl RedisWindow {
    /// Decides `cost` for `key` now, waiting at most the deadline. Not for
    /// use inside an async runtime: use [`check_async`](Self::check_async).
    /// `Err` only for a bad key (empty, longer than
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN)), and then nothing was sent.
    pub fn check<K: AsRef<[u8]> + ?Sized>(&self, key: &K, cost: u64) -> Result<Decision> {
        self.blocking(key.as_ref(), Op::Check(cost), None)
    }

    /// [`check`](Self::check) at the caller's time `now_us` in microseconds
    /// instead of the server's (tests, replays). Windows written at a
    /// caller's time do not expire: expiry runs on the server's clock,
    /// which a caller's time need not follow.
    pub fn check_at<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        cost: u64,
        now_us: u64,
    ) -> Result<Decision> {
        self.blocking(key.as_ref(), Op::Check(cost), Some(now_us))
    }

    /// The window of `key` now, charging nothing and moving nothing, as
    /// [`KeyedWindows::peek`](crate::KeyedWindows::peek) does.
    pub fn peek<K: AsRef<[u8]> + ?Sized>(&self, key: &K) -> Result<Decision> {
        self.blocking(key.as_ref(), Op::Peek, None)
    }

    /// [`peek`](Self::peek) at the caller's time.
    pub fn peek_at<K: AsRef<[u8]> + ?Sized>(&self, key: &K, now_us: u64) -> Result<Decision> {
        self.blocking(key.as_ref(), Op::Peek, Some(now_us))
    }

    /// Gives `amount` back to `key`'s window: off the current window's
    /// count first, the previous one's after, never below zero.
    pub fn refund<K: AsRef<[u8]> + ?Sized>(&self, key: &K, amount: u64) -> Result<Decision> {
        self.blocking(key.as_ref(), Op::Refund(amount), None)
    }

    /// [`refund`](Self::refund) at the caller's time.
    pub fn refund_at<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        amount: u64,
        now_us: u64,
    ) -> Result<Decision> {
        self.blocking(key.as_ref(), Op::Refund(amount), Some(now_us))
    }

    /// [`check`](Self::check) for async callers, on a tokio runtime.
    pub async fn check_async<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        cost: u64,
    ) -> Result<Decision> {
        self.decide(key.as_ref(), Op::Check(cost), None).await
    }

    /// [`peek`](Self::peek) for async callers, on a tokio runtime.
    pub async fn peek_async<K: AsRef<[u8]> + ?Sized>(&self, key: &K) -> Result<Decision> {
        self.decide(key.as_ref(), Op::Peek, None).await
    }

    /// [`refund`](Self::refund) for async callers, on a tokio runtime.
    pub async fn refund_async<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        amount: u64,
    ) -> Result<Decision> {
        self.decide(key.as_ref(), Op::Refund(amount), None).await
    }

    /// The limit of every key's window.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window_ns)
    }

    /// How many decisions Redis made and the failure policy gave, and why.
    pub fn counters(&self) -> StoreCounters {
        self.guard.counters()
    }

    fn blocking(&self, key: &[u8], op: Op, at: At) -> Result<Decision> {
        self.guard.store.block_on(self.decide(key, op, at))
    }

    /// Redis's decision, or the failure policy's.
    async fn decide(&self, key: &[u8], op: Op, at: At) -> Result<Decision> {
        check_key_len(key)?;
        let mut call = Call::default();
        call.key([self.prefix.as_slice(), key].concat());
        match at {
            Some(micros) => call.arg(micros),
            None => call.arg(""),
        };
        // Beyond the limit a cost never fits, and a refund of both counts'
        // most empties them: what is sent stays far below 2^53.
        let (code, amount) = match op {
            Op::Check(cost) => ("c", cost.min(self.limit + 1)),
            Op::Peek => ("p", 0),
            Op::Refund(amount) => ("r", amount.min(2 * MAX_COUNT)),
        };
        call.arg(code)
            .arg(amount)
            .arg(self.limit)
            .arg(self.per_micro)
            .arg(self.window_units);
        let Some(reply) = self.guard.invoke::<Reply>(&self.script, &call).await else {
            return self.degraded(key, op, at);
        };
        Ok(self.decision(op, reply))
    }

    /// The failure policy's decision, Redis having given none: with
    /// `Local`, this process's share's window of `key`, at the caller's
    /// time or now by the local clock.
    fn degraded(&self, key: &[u8], op: Op, at: At) -> Result<Decision> {
        let cost = match op {
            Op::Check(cost) => cost,
            Op::Peek | Op::Refund(_) => 0,
        };
        let Some(local) = self.guard.local() else {
            return Ok(self.guard.degraded_within(self.limit, cost));
        };
        let now_ns = at.map(|micros| micros.saturating_mul(NANOS_PER_MICRO));
        self.guard.decide_locally(
            local,
            self.limit,
            cost,
            now_ns,
            |windows, now_ns| match op {
                Op::Check(cost) => windows.check(key, cost, now_ns),
                Op::Peek => windows.peek(key, now_ns),
                Op::Refund(amount) => windows.refund(key, amount, now_ns),
            },
        )
    }

    /// The local engine's decision for what the script saw.
    fn decision(&self, op: Op, (admitted, now_us, index, previous, current): Reply) -> Decision {
        let at = Position::new(
            now_us.saturating_mul(NANOS_PER_MICRO),
            self.window_ns,
            index,
        );
        let word = WindowWord::new(index, previous, current);
        let estimate = match op {
            Op::Check(cost) => estimate::evaluate(word, self.limit, self.window_ns, &at, cost),
            Op::Peek => estimate::evaluate(word, self.limit, self.window_ns, &at, 0),
            Op::Refund(amount) => estimate::refund(word, self.limit, self.window_ns, &at, amount),
        };
        debug_assert_eq!(
            estimate.decision.is_admitted(),
            admitted == 1,
            "the script and the engine decide alike"
        );
        estimate.decision
    }
}
