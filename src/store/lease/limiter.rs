//! A token bucket per key, kept in Redis and spent locally from leases.

use crate::core::clock::{Clock, MonotonicClock};
use crate::core::decision::Decision;
use crate::core::error::{Error, Result};
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::store::breaker::StoreCounters;
use crate::store::connection::RedisStore;
use crate::store::fleet::{Fleet, DEFAULT_FLEET};
use crate::store::guard::{failure_setters, Failures};
use crate::store::lease::counters::LeaseCounters;
use crate::store::lease::engine::Leases;
use crate::store::lease::table::{Hosts, LeaseTable};
use crate::store::units::ScriptQuota;
use std::sync::Arc;
use std::time::Duration;

/// The prefix of every bucket's Redis key when the builder sets none (the
/// same as [`RedisLimiter`](crate::store::RedisLimiter)'s: a leased and an
/// exact limiter with one quota may share keys).
pub(crate) const DEFAULT_PREFIX: &[u8] = b"floodgate:";
/// How long a lease is meant to last when the builder sets none.
pub(crate) const DEFAULT_LEASE_TIME: Duration = Duration::from_millis(500);
/// The low-water mark when the builder sets none, in percent of a lease.
pub(crate) const DEFAULT_LOW_WATER: u64 = 25;
/// Keys a table holds when the builder sets no capacity.
pub(crate) const DEFAULT_KEYS: usize = 16_384;

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
    lease_time: Duration,
    low_water: u64,
    /// `None`: the live size of the failures' fleet.
    fleet: Option<u64>,
    keys: usize,
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
            lease_time: DEFAULT_LEASE_TIME,
            low_water: DEFAULT_LOW_WATER,
            fleet: None,
            keys: DEFAULT_KEYS,
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

    /// How long a lease is meant to last: a lease asks for about the
    /// tokens this host spends in that time. Longer means fewer calls to
    /// Redis, more tokens held per host, and staler headers.
    pub fn lease_time(mut self, lease_time: Duration) -> Self {
        self.lease_time = lease_time;
        self
    }

    /// The next lease is asked for when fewer than `percent` (at most 100)
    /// of the last one are left.
    pub fn low_water(mut self, percent: u64) -> Self {
        self.low_water = percent;
        self
    }

    /// How many hosts share these keys (0 counts as 1), fixed: one host
    /// holds at most `burst / (2 x hosts)` tokens of a key, so the fleet
    /// never holds more than half a burst between them. Without it, `hosts`
    /// is the [`fleet`](Self::fleet)'s live size, read from its cached
    /// count as each lease is sized.
    pub fn fleet_size(mut self, hosts: u64) -> Self {
        self.fleet = Some(hosts);
        self
    }

    /// How many keys the local table holds (a key beyond them is checked
    /// in Redis, exactly, each time).
    pub fn capacity(mut self, keys: usize) -> Self {
        self.keys = keys;
        self
    }

    failure_setters!();

    /// The fleet whose live size bounds a lease (unless
    /// [`fleet_size`](Self::fleet_size) fixes it) and
    /// [`OnFailure::Local`](crate::store::OnFailure::Local) divides the
    /// quota by once a key's lease is spent and Redis gives no answer
    /// (default: the store's fleet `"default"`). Until the fleet's first
    /// heartbeat answers it counts 1, so a limiter built at once with its
    /// fleet may lease up to `burst / 2` for about a round trip.
    pub fn fleet(mut self, fleet: &Fleet) -> Self {
        self.failures.fleet = Some(fleet.clone());
        self
    }

    /// The clock leases and local decisions are timed by (Redis decides by
    /// the server's).
    pub fn clock<D: Clock + 'static>(self, clock: D) -> LeasedLimiterBuilder<D> {
        LeasedLimiterBuilder {
            store: self.store,
            quota: self.quota,
            prefix: self.prefix,
            lease_time: self.lease_time,
            low_water: self.low_water,
            fleet: self.fleet,
            keys: self.keys,
            failures: self.failures,
            clock,
        }
    }

    /// The limiter, its idle sweep started on the store's runtime.
    /// [`Error::BurstTooLarge`] as for [`RedisLimiter`](crate::store::RedisLimiter);
    /// [`Error::ZeroPeriod`] for a zero lease time;
    /// [`Error::ZeroCapacity`] or [`Error::CapacityTooLarge`] for the table.
    pub fn build(self) -> Result<LeasedLimiter<C>> {
        let hosts = hosts(&self.store, self.fleet, &self.failures);
        let table = layer_table(
            self.quota,
            self.prefix,
            self.keys,
            self.lease_time,
            hosts,
            self.low_water,
        )?;
        let guard = self
            .failures
            .guard(self.store, &[(Scope::Key, self.quota)])?;
        Ok(LeasedLimiter {
            leases: Leases::start(guard, vec![table], self.clock),
        })
    }
}

/// The hosts a leased builder sizes leases for: `fixed` if set, else the
/// live count of the failures' fleet, or of the store's default fleet.
pub(crate) fn hosts(store: &RedisStore, fixed: Option<u64>, failures: &Failures) -> Hosts {
    match (fixed, &failures.fleet) {
        (Some(hosts), _) => Hosts::Fixed(hosts),
        (None, Some(fleet)) => Hosts::Live(fleet.clone()),
        (None, None) => Hosts::Live(store.fleet(DEFAULT_FLEET)),
    }
}

/// One layer's table, as every leased builder makes it.
pub(crate) fn layer_table(
    quota: Quota,
    prefix: Vec<u8>,
    keys: usize,
    lease_time: Duration,
    hosts: Hosts,
    low_water: u64,
) -> Result<LeaseTable> {
    let lease_ns = u64::try_from(lease_time.as_nanos()).unwrap_or(u64::MAX);
    if lease_ns == 0 {
        return Err(Error::ZeroPeriod);
    }
    let quota = ScriptQuota::new(quota)?;
    LeaseTable::new(quota, prefix, keys, lease_ns, low_water, hosts)
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
