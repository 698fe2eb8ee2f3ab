//! An in-flight cap per key, kept in Redis: at most `limit` permits out at
//! once across every host.
//!
//! A local cap knows its holders are alive (a process id, `src/inflight`);
//! hosts of a fleet can only be trusted for a time, so a permit here is a
//! lease: a member of the key's sorted set, scored by the server
//! microsecond its lease ends. Every call first drops the ended leases, so
//! a dead host's permits come back one lease after it last took or renewed
//! them; a request that runs longer than the lease renews its permit.
//!
//! # Calling convention
//!
//! `KEYS[1]` is the cap's key. `ARGV` is: `a` to acquire, `n` to renew,
//! `r` to release; the permit's id; the limit; the lease in microseconds.
//! The reply is `[done, held, ends]`: whether the permit was taken,
//! renewed or released (1) or not (0: the cap was full, or the lease had
//! ended), the permits held afterwards, and the microsecond the permit's
//! lease now ends (0 when `done` is 0 or on release).
//!
//! # Failing local
//!
//! With [`OnFailure::Local`](crate::store::OnFailure::Local), a permit
//! asked for while Redis gives no answer is a unit of this process's share
//! of the cap (the cap divided by the fleet's size, rounded down, at
//! least 1) in an in-process [`KeyedInFlight`](crate::KeyedInFlight), and
//! goes back there, never to Redis, which does not count it. When Redis
//! answers again, the permits the fleet took locally are still held but
//! not counted there: at most `N x cap / N`, about the cap, more than the
//! cap run at once, until the requests admitted locally end (a lease, for
//! requests that fit one; a local permit is not renewed).
//!
//! Whatever the policy, an acquire that missed its deadline may still be
//! run by the server later (a stopped server resumed, a slow one caught
//! up): its lease is then held by no one until it ends.

use crate::core::error::{Error, Result};
use crate::inflight::{validate_max, AtCapacity, PermitToken};
use crate::keyed::{check_key_len, KeyHasher};
use crate::store::breaker::StoreCounters;
use crate::store::connection::RedisStore;
use crate::store::fleet::Fleet;
use crate::store::guard::{failure_setters, Failures, Guard};
use crate::store::local::Caps;
use crate::store::script::{Call, Lua};
use crate::sync::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The script's source, compiled into the library.
const SOURCE: &str = include_str!("inflight.lua");
/// The prefix of every cap's Redis key when the builder sets none.
const DEFAULT_PREFIX: &[u8] = b"floodgate:inflight:";
/// How long a permit's lease runs when the builder sets none.
const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// The longest lease (71 years): its end, a server microsecond, stays
/// below 2^53, exact in Lua, until the year 2184.
const MAX_LEASE: Duration = Duration::from_micros(1 << 51);

/// A cap of `limit` requests in flight at once per byte or string key,
/// across every host using the same Redis: the fleet-wide counterpart of a
/// [`KeyedInFlight`](crate::KeyedInFlight). Each permit is a lease, taken,
/// renewed and given back by one script call using the server's clock, so
/// a host that dies holding permits gives them back when their leases end.
///
/// Every call has a deadline; when Redis gives no answer in time the cap's
/// [`OnFailure`](crate::store::OnFailure) decides: `Open` grants a permit
/// Redis does not count, `Closed` refuses as a full cap would, `Local`
/// grants a unit of this host's share of the cap (see the
/// [module docs](crate::store)).
///
/// ```no_run
/// use floodgate::store::{RedisInFlight, RedisStore};
/// use std::time::Duration;
///
/// let store = RedisStore::open("redis://127.0.0.1:6379/")?;
/// // 4 batch calls per workspace at once, fleet-wide.
/// let batch = RedisInFlight::builder(&store, 4)
///     .prefix("batch:")
///     .lease(Duration::from_secs(60))
///     .build()?;
/// match batch.try_acquire("ws_42")?.permit() {
///     Some(permit) => {
///         // ... the batch call; `permit.renew()` if it may outlast the lease ...
///         permit.release()?;
///     }
///     None => println!("429: 4 batch calls already running"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RedisInFlight {
    cap: Arc<Cap>,
}

/// What a cap and its permits share.
struct Cap {
    guard: Guard<Caps>,
    script: Lua,
    prefix: Vec<u8>,
    limit: u64,
    lease: Duration,
    /// Names this cap's permits apart from every other host's.
    host: u64,
    /// Names this cap's permits apart from each other.
    next: AtomicU64,
}

/// Builds a [`RedisInFlight`].
pub struct RedisInFlightBuilder {
    store: RedisStore,
    limit: u64,
    prefix: Vec<u8>,
    lease: Duration,
    failures: Failures,
}

/// What [`RedisInFlight::try_acquire`] answers: a permit, or the refusal
/// of a full cap as data, never as an error (the
/// [`Acquisition`](crate::Acquisition) of a local cap).
#[must_use = "a granted permit is released as soon as it is dropped"]
#[derive(Debug)]
pub enum RedisAcquisition {
    /// Admitted: the permit holds one unit until released, dropped, or its
    /// lease ends.
    Granted(RedisPermit),
    /// The cap was full.
    Refused(AtCapacity),
}

/// A unit of a [`RedisInFlight`] cap, leased: [`release`](Self::release)
/// it when the request ends (dropping it releases too, within the
/// deadline), [`renew`](Self::renew) it while a request outlasts the lease.
#[must_use = "the permit is released as soon as it is dropped"]
pub struct RedisPermit {
    cap: Arc<Cap>,
    /// The permit's Redis key and its id among the key's permits.
    key: Vec<u8>,
    id: Vec<u8>,
    in_flight: u64,
    held: Held,
}

/// What a [`RedisPermit`] holds, and so where it goes back.
#[derive(Clone, Copy, Debug)]
enum Held {
    /// A lease in Redis, ending at this server microsecond.
    Lease(u64),
    /// A unit of this process's share, taken while Redis gave no answer:
    /// given back to the share, never to Redis.
    Local(PermitToken),
    /// Nothing to give back: granted by `Open`, or given back.
    Nothing,
}

/// What a call asks of a permit.
#[derive(Clone, Copy, Debug)]
enum Op {
    Acquire,
    Renew,
    Release,
}

/// The script's reply: done, held afterwards, the lease's end.
type Reply = (u64, u64, u64);

impl RedisInFlight {
    /// A cap of `limit` per key on `store` (at most
    /// [`MAX_IN_FLIGHT`](crate::MAX_IN_FLIGHT), as for a local cap).
    /// Defaults: keys prefixed `floodgate:inflight:`, leases of 30 s, a
    /// 5 ms deadline, [`OnFailure::Open`](crate::store::OnFailure::Open), a
    /// breaker that opens after 5 failures in a row and probes every 250 ms.
    pub fn builder(store: &RedisStore, limit: u64) -> RedisInFlightBuilder {
        RedisInFlightBuilder {
            store: store.clone(),
            limit,
            prefix: DEFAULT_PREFIX.to_vec(),
            lease: DEFAULT_LEASE,
            failures: Failures::default(),
        }
    }
}

impl RedisInFlightBuilder {
    /// What every cap's Redis key starts with: caps with different limits
    /// need different prefixes, since a cap is read under the limit of
    /// whoever reads it.
    pub fn prefix(mut self, prefix: impl AsRef<[u8]>) -> Self {
        self.prefix = prefix.as_ref().to_vec();
        self
    }

    /// How long a permit is held without being renewed: longer than most
    /// requests take, since a permit whose lease ends while its request
    /// runs is counted no more; short enough that a dead host's permits
    /// come back soon.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    failure_setters!();

    /// The fleet whose size
    /// [`OnFailure::Local`](crate::store::OnFailure::Local) divides the cap
    /// by (default: the store's fleet `"default"`, see
    /// [`RedisStore::fleet`]).
    ///
    /// ```
    /// use floodgate::store::{OnFailure, RedisInFlight, RedisStore};
    ///
    /// let store = RedisStore::open("redis://127.0.0.1:1/")?;
    /// let batch = store.fleet("batch");
    /// let cap = RedisInFlight::builder(&store, 4)
    ///     .on_failure(OnFailure::Local)
    ///     .fleet(&batch)
    ///     .build()?;
    /// // Nothing answers on port 1: this host holds its share, all of the
    /// // cap while it is the fleet's only member.
    /// let permit = cap.try_acquire("ws_42")?.permit().unwrap();
    /// assert_eq!((permit.in_flight(), permit.lease_end_us()), (1, None));
    /// assert_eq!(cap.counters().local_admitted, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fleet(mut self, fleet: &Fleet) -> Self {
        self.failures.fleet = Some(fleet.clone());
        self
    }

    /// The cap; [`Error::ZeroLimit`] or [`Error::LimitTooLarge`] for a
    /// limit a local cap would refuse, [`Error::ZeroWindow`] for a lease
    /// shorter than the server's microsecond and [`Error::WindowTooLong`]
    /// for one beyond 2^51 microseconds (71 years); with
    /// [`OnFailure::Local`](crate::store::OnFailure::Local),
    /// [`Error::AllocationFailed`] when its in-process table cannot be
    /// allocated.
    ///
    /// ```
    /// use floodgate::store::{RedisInFlight, RedisStore};
    /// use floodgate::Error;
    /// use std::time::Duration;
    /// let store = RedisStore::open("redis://127.0.0.1:1/")?; // nothing connects yet
    /// assert_eq!(RedisInFlight::builder(&store, 0).build().err(), Some(Error::ZeroLimit));
    /// let no_lease = RedisInFlight::builder(&store, 4).lease(Duration::ZERO).build();
    /// assert_eq!(no_lease.err(), Some(Error::ZeroWindow));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<RedisInFlight> {
        validate_max(self.limit)?;
        if self.lease < Duration::from_micros(1) {
            return Err(Error::ZeroWindow);
        }
        if self.lease > MAX_LEASE {
            return Err(Error::WindowTooLong);
        }
        Ok(RedisInFlight {
            cap: Arc::new(Cap {
                guard: self
                    .failures
                    .guard_with(self.store, || Caps::new(self.limit))?,
                script: Lua::new(SOURCE),
                prefix: self.prefix,
                limit: self.limit,
                lease: self.lease,
                host: KeyHasher::random_secret()[0],
                next: AtomicU64::new(0),
            }),
        })
    }
}

impl RedisInFlight {
    /// Takes a permit for `key` if fewer than [`limit`](Self::limit) are
    /// out fleet-wide, waiting at most the deadline. Not for use inside an
    /// async runtime: use [`try_acquire_async`](Self::try_acquire_async).
    /// `Err` only for a bad key (empty, longer than
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN)), and then nothing was sent.
    pub fn try_acquire<K: AsRef<[u8]> + ?Sized>(&self, key: &K) -> Result<RedisAcquisition> {
        self.cap.guard.store.block_on(self.try_acquire_async(key))
    }

    /// [`try_acquire`](Self::try_acquire) for async callers, on a tokio runtime.
    pub async fn try_acquire_async<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
    ) -> Result<RedisAcquisition> {
        let key = key.as_ref();
        check_key_len(key)?;
        // Relaxed: uniqueness is all an id needs.
        let serial = self.cap.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:016x}:{serial}", self.cap.host).into_bytes();
        let redis_key = [self.cap.prefix.as_slice(), key].concat();
        let limit = self.cap.limit;
        let permit = |in_flight, held| {
            RedisAcquisition::Granted(RedisPermit {
                cap: Arc::clone(&self.cap),
                key: redis_key.clone(),
                id: id.clone(),
                in_flight,
                held,
            })
        };
        Ok(match self.cap.run(Op::Acquire, &redis_key, &id).await {
            Some((1, held, ends)) => permit(held, Held::Lease(ends)),
            Some((_, held, _)) => RedisAcquisition::Refused(AtCapacity::new(held, limit)),
            None => match self.cap.guard.local() {
                Some(local) => {
                    let answer = match local.shares(None) {
                        Some((caps, _)) => caps.try_acquire(key),
                        // Shares the engine cannot hold refuse as `Closed`.
                        None => Err(AtCapacity::new(limit, limit)),
                    };
                    self.cap.guard.count_local(answer.is_ok());
                    match answer {
                        Ok((token, held)) => permit(held, Held::Local(token)),
                        Err(full) => RedisAcquisition::Refused(full),
                    }
                }
                // As if Redis held no permit, or all of them.
                None if self.cap.guard.fallback_admits() => permit(1, Held::Nothing),
                None => RedisAcquisition::Refused(AtCapacity::new(limit, limit)),
            },
        })
    }

    /// The cap on every key.
    pub fn limit(&self) -> u64 {
        self.cap.limit
    }

    /// How long a permit is held without being renewed.
    pub fn lease(&self) -> Duration {
        self.cap.lease
    }

    /// How many calls Redis answered and the failure policy did, and why.
    pub fn counters(&self) -> StoreCounters {
        self.cap.guard.counters()
    }
}

impl Cap {
    /// The script's reply for `op` on permit `id` of `key`, or `None` when
    /// Redis gave none.
    async fn run(&self, op: Op, key: &[u8], id: &[u8]) -> Option<Reply> {
        let code = match op {
            Op::Acquire => "a",
            Op::Renew => "n",
            Op::Release => "r",
        };
        let lease_us = u64::try_from(self.lease.as_micros()).unwrap_or(u64::MAX);
        let mut call = Call::default();
        call.key(key)
            .arg(code)
            .arg(id)
            .arg(self.limit)
            .arg(lease_us);
        self.guard.invoke(&self.script, &call).await
    }

    /// Gives back permit `id` of `key`: the permits still held, or `None`
    /// when Redis gave no answer.
    async fn release(&self, key: &[u8], id: &[u8]) -> Result<Option<u64>> {
        match self.run(Op::Release, key, id).await {
            Some((1, held, _)) => Ok(Some(held)),
            Some(_) => Err(Error::PermitAlreadyReleased),
            None => Ok(None),
        }
    }

    /// Gives back the unit of this process's share `token` stands for,
    /// of the Redis key `key`.
    fn release_locally(&self, key: &[u8], token: PermitToken) -> Result<u64> {
        let local = self
            .guard
            .local()
            .expect("only a cap failing local grants a local unit");
        local.held().release(&key[self.prefix.len()..], token)
    }
}

impl RedisAcquisition {
    /// The permit, if granted.
    pub fn permit(self) -> Option<RedisPermit> {
        match self {
            RedisAcquisition::Granted(permit) => Some(permit),
            RedisAcquisition::Refused(_) => None,
        }
    }

    /// The refusal, if the cap was full.
    pub fn refusal(&self) -> Option<AtCapacity> {
        match self {
            RedisAcquisition::Granted(_) => None,
            RedisAcquisition::Refused(full) => Some(*full),
        }
    }

    /// Whether a permit was granted.
    pub fn is_granted(&self) -> bool {
        matches!(self, RedisAcquisition::Granted(_))
    }
}

impl RedisPermit {
    /// Permits out fleet-wide just after this one was taken, this one
    /// included: for a permit of this host's share
    /// ([`OnFailure::Local`](crate::store::OnFailure::Local)), those of the
    /// share; 1 for a permit [`OnFailure::Open`](crate::store::OnFailure::Open)
    /// granted.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// The cap's limit.
    pub fn limit(&self) -> u64 {
        self.cap.limit
    }

    /// Permits that could still be taken just after this one was.
    pub fn remaining(&self) -> u64 {
        self.limit() - self.in_flight
    }

    /// The server's microsecond (Unix time) at which the lease ends, or
    /// `None` for a permit the failure policy granted, which Redis does
    /// not count.
    pub fn lease_end_us(&self) -> Option<u64> {
        match self.held {
            Held::Lease(ends) => Some(ends),
            Held::Local(_) | Held::Nothing => None,
        }
    }

    /// Extends the lease to a whole [lease](RedisInFlight::lease) from
    /// now, waiting at most the deadline. `Ok(true)` when renewed;
    /// `Ok(false)` when Redis gave no answer (the lease runs on as it was)
    /// or does not count this permit; [`Error::PermitAlreadyReleased`]
    /// when the lease had already ended, so its unit may be another
    /// request's now. Not for use inside an async runtime: use
    /// [`renew_async`](Self::renew_async).
    pub fn renew(&mut self) -> Result<bool> {
        let store = self.cap.guard.store.clone();
        store.block_on(self.renew_async())
    }

    /// [`renew`](Self::renew) for async callers, on a tokio runtime.
    pub async fn renew_async(&mut self) -> Result<bool> {
        if !matches!(self.held, Held::Lease(_)) {
            return Ok(false);
        }
        match self.cap.run(Op::Renew, &self.key, &self.id).await {
            Some((1, _, ends)) => {
                self.held = Held::Lease(ends);
                Ok(true)
            }
            Some(_) => {
                // Nothing left to give back on drop.
                self.held = Held::Nothing;
                Err(Error::PermitAlreadyReleased)
            }
            None => Ok(false),
        }
    }

    /// Gives the permit back now, waiting at most the deadline:
    /// `Ok(Some(n))` with `n` permits of its key still out fleet-wide;
    /// `Ok(None)` when Redis gave no answer (the lease then ends on its
    /// own) or does not count this permit (a unit of this host's share
    /// goes back to it); [`Error::PermitAlreadyReleased`]
    /// when its lease had ended first. Not for use inside an async
    /// runtime: use [`release_async`](Self::release_async).
    pub fn release(mut self) -> Result<Option<u64>> {
        let store = self.cap.guard.store.clone();
        store.block_on(self.give_back())
    }

    /// [`release`](Self::release) for async callers, on a tokio runtime.
    pub async fn release_async(mut self) -> Result<Option<u64>> {
        self.give_back().await
    }

    /// Releases the lease or the local unit, if there is one, leaving
    /// nothing for `Drop`.
    async fn give_back(&mut self) -> Result<Option<u64>> {
        match std::mem::replace(&mut self.held, Held::Nothing) {
            Held::Lease(_) => self.cap.release(&self.key, &self.id).await,
            Held::Local(token) => self.cap.release_locally(&self.key, token).map(|_| None),
            Held::Nothing => Ok(None),
        }
    }
}

impl Drop for RedisPermit {
    /// Releases the lease, best effort: at once (within the deadline) on a
    /// thread outside any async runtime; inside one, in the background on
    /// the store's runtime, since a drop cannot wait there. A local unit
    /// goes back at once.
    fn drop(&mut self) {
        match std::mem::replace(&mut self.held, Held::Nothing) {
            Held::Lease(_) => {}
            Held::Local(token) => {
                let released = self.cap.release_locally(&self.key, token);
                debug_assert!(released.is_ok(), "a live permit's unit is held");
                return;
            }
            Held::Nothing => return,
        }
        let cap = Arc::clone(&self.cap);
        let (key, id) = (std::mem::take(&mut self.key), std::mem::take(&mut self.id));
        let release = async move {
            // Best effort: a lease not given back ends on its own.
            let _ = cap.release(&key, &id).await;
        };
        let store = &self.cap.guard.store;
        if tokio::runtime::Handle::try_current().is_ok() {
            store.spawn(release);
        } else {
            store.block_on(release);
        }
    }
}

impl std::fmt::Debug for RedisPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPermit")
            .field("in_flight", &self.in_flight)
            .field("limit", &self.cap.limit)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}
