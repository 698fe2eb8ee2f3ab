//! A token bucket per key, kept in Redis and spent locally from leases.

use crate::core::clock::{Clock, MonotonicClock};
use crate::core::decision::Decision;
use crate::core::error::Result;
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::store::breaker::StoreCounters;
use crate::store::connection::RedisStore;
use crate::store::guard::{failure_setters, Failures};
use crate::store::lease::counters::LeaseCounters;
use crate::store::lease::engine::Leases;
use crate::store::lease::settings::{lease_setters, LeaseSettings};
use std::sync::Arc;

/// The prefix of every bucket's Redis key when the builder sets none (the
/// same as [`RedisLimiter`](crate::store::RedisLimiter)'s: a leased and an
/// exact limiter with one quota may share keys).
pub(crate) const DEFAULT_PREFIX: &[u8] = b"floodgate:";

/// A GCRA bucket per key kept in Redis, as [`RedisLimiter`](crate::store::RedisLimiter)'s,
/// checked locally: each host takes tokens from the Redis bucket a lease at
/// a time and admits from them with one compare-and-swap, asking for the
/// next lease in the background before the last runs out. No host ever
/// admits a request the fleet's bucket was not charged for; see the
/// [module docs](crate::store::lease) for the guarantees and their costs.
///
/// Checks block (a check waits for Redis only when its key's lease is
/// empty): call them outside async runtimes, and
/// [`check_async`](Self::check_async) inside one. A key's first check leases
/// just its cost, so a key seen once costs one call; its later leases
/// follow its rate. Dropping the limiter gives its unspent tokens back.
///
/// ```no_run
/// use floodgate::store::{LeasedLimiter, RedisStore};
/// use floodgate::Quota;
/// use std::time::Duration;
///
/// let store = RedisStore::open("redis://127.0.0.1:6379/")?;
/// let limiter = LeasedLimiter::builder(&store, Quota::per_second(1_000)?)
///     .prefix("api:")
///     .fleet(&store.fleet("api")) // the hosts sharing these keys, counted live
///     .lease_time(Duration::from_millis(200))
///     .build()?;
/// if !limiter.check("key-1", 1)?.is_admitted() {
///     println!("429");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LeasedLimiter<C: Clock + 'static = MonotonicClock> {
    leases: Arc<Leases<C>>,
}

/// Builds a [`LeasedLimiter`].
pub struct LeasedLimiterBuilder<C: Clock + 'static = MonotonicClock> {
    store: RedisStore,
    quota: Quota,
    prefix: Vec<u8>,
    lease: LeaseSettings,
    failures: Failures,
    clock: C,
}

impl LeasedLimiter {
    /// A limiter of `quota` per key on `store`. Defaults: keys prefixed
    /// `floodgate:`, leases meant to last 500 ms and refilled at 25% left,
    /// leases sized for the live size of the store's fleet `"default"`,
    /// 16384 keys, and [`RedisLimiter`](crate::store::RedisLimiter)'s
    /// deadline, failure policy and breaker.
    pub fn builder(store: &RedisStore, quota: Quota) -> LeasedLimiterBuilder {
        LeasedLimiterBuilder {
            store: store.clone(),
            quota,
            prefix: DEFAULT_PREFIX.to_vec(),
            lease: LeaseSettings::default(),
            failures: Failures::default(),
            clock: MonotonicClock::new(),
        }
    }
}

impl<C: Clock + 'static> LeasedLimiterBuilder<C> {
    /// What every bucket's Redis key starts with (see
    /// [`RedisLimiterBuilder::prefix`](crate::store::RedisLimiterBuilder::prefix)).
    pub fn prefix(mut self, prefix: impl AsRef<[u8]>) -> Self {
        self.prefix = prefix.as_ref().to_vec();
        self
    }

    failure_setters!();

    lease_setters!();

    /// The clock leases and local decisions are timed by (Redis decides by
    /// the server's).
    pub fn clock<D: Clock + 'static>(self, clock: D) -> LeasedLimiterBuilder<D> {
        LeasedLimiterBuilder {
            store: self.store,
            quota: self.quota,
            prefix: self.prefix,
            lease: self.lease,
            failures: self.failures,
            clock,
        }
    }

    /// The limiter, its idle sweep started on the store's runtime.
    /// [`Error::BurstTooLarge`](crate::Error::BurstTooLarge) as for [`RedisLimiter`](crate::store::RedisLimiter);
    /// [`Error::ZeroPeriod`](crate::Error::ZeroPeriod) for a zero lease time;
    /// [`Error::ZeroCapacity`](crate::Error::ZeroCapacity) or [`Error::CapacityTooLarge`](crate::Error::CapacityTooLarge) for the table.
    pub fn build(self) -> Result<LeasedLimiter<C>> {
        let table = self
            .lease
            .table(&self.store, &self.failures, self.quota, self.prefix)?;
        let guard = self
            .failures
            .guard(self.store, &[(Scope::Key, self.quota)])?;
        Ok(LeasedLimiter {
            leases: Leases::start(guard, vec![table], self.clock),
        })
    }
}

impl<C: Clock + 'static> LeasedLimiter<C> {
    /// Checks `cost` for `key`: from the key's lease when it holds `cost`
    /// tokens (no round trip), else after a lease call. A cost above one
    /// host's largest lease, or 0 (a peek), is decided in Redis exactly.
    /// `Err` only for a bad key (empty, longer than
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN)), and then nothing was sent.
    #[inline]
    pub fn check<K: AsRef<[u8]> + ?Sized>(&self, key: &K, cost: u64) -> Result<Decision> {
        let answer = self.leases.check::<1>(&[key.as_ref()], cost)?;
        Ok(answer.decision)
    }

    /// [`check`](Self::check) for async callers, on a tokio runtime: a
    /// check its key's lease answers is as fast and never suspends; one
    /// that needs a lease call awaits it (`Send`: spawnable).
    ///
    /// ```no_run
    /// use floodgate::store::{LeasedLimiter, RedisStore};
    /// use floodgate::Quota;
    ///
    /// # async fn handler() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = RedisStore::open("redis://127.0.0.1:6379/")?;
    /// let limiter = LeasedLimiter::builder(&store, Quota::per_second(1_000)?).build()?;
    /// if !limiter.check_async("key-1", 1).await?.is_admitted() {
    ///     println!("429");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn check_async<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        cost: u64,
    ) -> Result<Decision> {
        let answer = self.leases.check_async::<1>(&[key.as_ref()], cost).await?;
        Ok(answer.decision)
    }

    /// The quota every key gets.
    pub fn quota(&self) -> &Quota {
        self.leases.tables[0].quota.quota()
    }

    /// The most tokens this host leases of one key at once, for the
    /// fleet's size now.
    pub fn largest_lease(&self) -> u64 {
        self.leases.tables[0].sizing().most()
    }

    /// How often Redis answered, failed, or was skipped.
    pub fn counters(&self) -> StoreCounters {
        self.leases.guard.counters()
    }

    /// How checks were decided and what the leases took and gave back.
    pub fn lease_counters(&self) -> LeaseCounters {
        self.leases.counters.snapshot()
    }
}

impl<C: Clock + 'static> Drop for LeasedLimiter<C> {
    fn drop(&mut self) {
        self.leases.close();
    }
}
