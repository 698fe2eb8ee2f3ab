//! A token bucket per key, kept in Redis: every host behind a load balancer
//! checks the same buckets.

use crate::core::clock::{Clock, MonotonicClock};
use crate::core::decision::Decision;
use crate::core::error::Result;
use crate::core::quota::Quota;
use crate::http::Scope;
use crate::keyed::check_key_len;
use crate::store::breaker::StoreCounters;
use crate::store::connection::RedisStore;
use crate::store::deny_cache::DenyCache;
use crate::store::fleet::Fleet;
use crate::store::guard::{failure_setters, Failures, Guard};
use crate::store::script::{At, Op};
use crate::store::units::{ScriptQuota, NANOS_PER_MICRO};
#[cfg(feature = "capi")]
use crate::store::{
    connection::Failure,
    guard::Attempt,
    script::{self, Call},
};

/// The prefix of every bucket's Redis key when the builder sets none.
const DEFAULT_PREFIX: &[u8] = b"floodgate:";
/// Keys the deny cache remembers when the builder sets no size.
const DEFAULT_DENY_CACHE: usize = 1_024;

/// A GCRA bucket per byte or string key, decided in Redis by one script per
/// call with the server's clock, so every host sees one limit and host clock
/// skew cannot matter. Decisions are the [`KeyedLimiter`](crate::KeyedLimiter)'s
/// for the same quota and arrivals (at the server's microsecond
/// resolution); see the [module docs](crate::store) for what is exact.
///
/// Every call has a deadline; when Redis gives no answer in time the
/// limiter's [`OnFailure`](crate::store::OnFailure) decides, and a circuit breaker stops waiting on
/// a server that keeps failing. [`counters`](Self::counters) shows how often.
///
/// ```no_run
/// use floodgate::store::{OnFailure, RedisLimiter, RedisStore};
/// use floodgate::{Outcome, Quota};
/// use std::time::Duration;
///
/// let store = RedisStore::open("redis://127.0.0.1:6379/")?;
/// let limiter = RedisLimiter::builder(&store, Quota::per_second(30)?.with_burst(60)?)
///     .prefix("api:")
///     .deadline(Duration::from_millis(3))
///     .on_failure(OnFailure::Open)
///     .build()?;
/// let decision = limiter.check("key-1", 1)?;
/// if decision.outcome() == Outcome::Denied {
///     println!("429, retry after {:?}", decision.retry_after());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisLimiter<C: Clock = MonotonicClock> {
    guard: Guard,
    quota: ScriptQuota,
    prefix: Vec<u8>,
    cache: Option<DenyCache>,
    clock: C,
}

/// Builds a [`RedisLimiter`].
pub struct RedisLimiterBuilder<C: Clock = MonotonicClock> {
    store: RedisStore,
    quota: Quota,
    prefix: Vec<u8>,
    failures: Failures,
    deny_cache: usize,
    clock: C,
}

impl RedisLimiter {
    /// A limiter of `quota` per key on `store`. Defaults: keys prefixed
    /// `floodgate:`, a 5 ms deadline, [`OnFailure::Open`](crate::store::OnFailure::Open), a breaker that
    /// opens after 5 failures in a row and probes every 250 ms, a deny
    /// cache of 1024 keys.
    pub fn builder(store: &RedisStore, quota: Quota) -> RedisLimiterBuilder {
        RedisLimiterBuilder {
            store: store.clone(),
            quota,
            prefix: DEFAULT_PREFIX.to_vec(),
            failures: Failures::default(),
            deny_cache: DEFAULT_DENY_CACHE,
            clock: MonotonicClock::new(),
        }
    }
}

impl<C: Clock> RedisLimiterBuilder<C> {
    /// What every bucket's Redis key starts with: limits with different
    /// quotas need different prefixes, since a bucket is read under the
    /// quota of whoever reads it.
    pub fn prefix(mut self, prefix: impl AsRef<[u8]>) -> Self {
        self.prefix = prefix.as_ref().to_vec();
        self
    }

    failure_setters!();

    /// The fleet whose size [`OnFailure::Local`](crate::store::OnFailure::Local) divides the quota by
    /// (default: the store's fleet `"default"`, see [`RedisStore::fleet`]).
    ///
    /// ```
    /// use floodgate::store::{OnFailure, RedisLimiter, RedisStore};
    /// use floodgate::Quota;
    ///
    /// let store = RedisStore::open("redis://127.0.0.1:1/")?;
    /// let checkout = store.fleet("checkout");
    /// let limiter = RedisLimiter::builder(&store, Quota::per_second(300)?)
    ///     .on_failure(OnFailure::Local)
    ///     .fleet(&checkout)
    ///     .build()?;
    /// // Nothing answers on port 1: this host decides by its share, all
    /// // of the limit while it is the fleet's only member.
    /// assert!(limiter.check("user:42", 1)?.is_admitted());
    /// assert_eq!(limiter.counters().local_admitted, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fleet(mut self, fleet: &Fleet) -> Self {
        self.failures.fleet = Some(fleet.clone());
        self
    }

    /// How many keys' denials to remember locally (0: none).
    pub fn deny_cache(mut self, keys: usize) -> Self {
        self.deny_cache = keys;
        self
    }

    /// The clock the deny cache reads (the decisions read the server's).
    pub fn clock<D: Clock>(self, clock: D) -> RedisLimiterBuilder<D> {
        RedisLimiterBuilder {
            store: self.store,
            quota: self.quota,
            prefix: self.prefix,
            failures: self.failures,
            deny_cache: self.deny_cache,
            clock,
        }
    }

    /// The limiter; [`Error::BurstTooLarge`](crate::Error::BurstTooLarge)
    /// when the quota's burst spans more than 2^51 script units (see the
    /// [module docs](crate::store)), or with [`OnFailure::Local`](crate::store::OnFailure::Local)
    /// [`Error::AllocationFailed`](crate::Error::AllocationFailed) when
    /// its in-process table cannot be allocated.
    pub fn build(self) -> Result<RedisLimiter<C>> {
        Ok(RedisLimiter {
            quota: ScriptQuota::new(self.quota)?,
            guard: self
                .failures
                .guard(self.store, &[(Scope::Key, self.quota)])?,
            prefix: self.prefix,
            cache: (self.deny_cache > 0).then(|| DenyCache::new(self.deny_cache)),
            clock: self.clock,
        })
    }
}

impl<C: Clock> RedisLimiter<C> {
    /// Checks `cost` for `key` now, waiting at most the deadline. Not for
    /// use inside an async runtime: use [`check_async`](Self::check_async).
    /// `Err` only for a bad key (empty, longer than
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN)), and then nothing was sent.
    pub fn check<K: AsRef<[u8]> + ?Sized>(&self, key: &K, cost: u64) -> Result<Decision> {
        let local = self.clock.now_ns();
        self.blocking(key.as_ref(), Op::Check(cost), None, local)
    }

    /// [`check`](Self::check) at the caller's time `now_us` in microseconds
    /// instead of the server's (tests, replays); the deny cache is timed by
    /// it too, so a limiter should be timed by one or the other. Buckets
    /// written at a caller's time do not expire: expiry runs on the
    /// server's clock, which a caller's time need not follow.
    pub fn check_at<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        cost: u64,
        now_us: u64,
    ) -> Result<Decision> {
        self.blocking(
            key.as_ref(),
            Op::Check(cost),
            Some(now_us),
            now_us.saturating_mul(NANOS_PER_MICRO),
        )
    }

    /// The bucket of `key` now, charging nothing.
    pub fn peek<K: AsRef<[u8]> + ?Sized>(&self, key: &K) -> Result<Decision> {
        self.check(key, 0)
    }

    /// [`peek`](Self::peek) at the caller's time.
    pub fn peek_at<K: AsRef<[u8]> + ?Sized>(&self, key: &K, now_us: u64) -> Result<Decision> {
        self.check_at(key, 0, now_us)
    }

    /// Gives `amount` requests back to `key`'s bucket (never above full).
    pub fn refund<K: AsRef<[u8]> + ?Sized>(&self, key: &K, amount: u64) -> Result<Decision> {
        let local = self.clock.now_ns();
        self.blocking(key.as_ref(), Op::Refund(amount), None, local)
    }

    /// [`refund`](Self::refund) at the caller's time.
    pub fn refund_at<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        amount: u64,
        now_us: u64,
    ) -> Result<Decision> {
        self.blocking(
            key.as_ref(),
            Op::Refund(amount),
            Some(now_us),
            now_us.saturating_mul(NANOS_PER_MICRO),
        )
    }

    /// [`check`](Self::check) for async callers, on a tokio runtime.
    pub async fn check_async<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        cost: u64,
    ) -> Result<Decision> {
        let local = self.clock.now_ns();
        self.decide(key.as_ref(), Op::Check(cost), local).await
    }

    /// [`peek`](Self::peek) for async callers, on a tokio runtime.
    pub async fn peek_async<K: AsRef<[u8]> + ?Sized>(&self, key: &K) -> Result<Decision> {
        self.check_async(key, 0).await
    }

    /// [`refund`](Self::refund) for async callers, on a tokio runtime.
    pub async fn refund_async<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        amount: u64,
    ) -> Result<Decision> {
        let local = self.clock.now_ns();
        self.decide(key.as_ref(), Op::Refund(amount), local).await
    }

    /// The quota every key gets.
    pub fn quota(&self) -> &Quota {
        self.quota.quota()
    }

    /// How many decisions Redis made, the deny cache gave, and the failure
    /// policy gave, and why.
    pub fn counters(&self) -> StoreCounters {
        self.guard.counters()
    }

    /// The store this limiter's calls run on (the C ABI's `_async` calls
    /// spawn on its runtime).
    #[cfg(feature = "capi")]
    pub(crate) fn store(&self) -> &RedisStore {
        &self.guard.store
    }

    /// The deny cache's answer, if it has one: no runtime is entered for it.
    fn cached(&self, key: &[u8], op: Op, local_ns: u64) -> Result<Option<Decision>> {
        check_key_len(key)?;
        let (Some(cache), Op::Check(cost)) = (&self.cache, op) else {
            return Ok(None);
        };
        let denial = cache.denial(key, &self.quota, cost, local_ns)?;
        if denial.is_some() {
            self.guard.count_cached();
        }
        Ok(denial)
    }

    /// A blocking call: the deny cache, else Redis within the deadline.
    fn blocking(&self, key: &[u8], op: Op, at: At, local_ns: u64) -> Result<Decision> {
        match self.cached(key, op, local_ns)? {
            Some(denial) => Ok(denial),
            None => self
                .guard
                .store
                .block_on(self.remote(key, op, at, local_ns)),
        }
    }

    /// An async call: the deny cache, else Redis within the deadline.
    async fn decide(&self, key: &[u8], op: Op, local_ns: u64) -> Result<Decision> {
        match self.cached(key, op, local_ns)? {
            Some(denial) => Ok(denial),
            None => self.remote(key, op, None, local_ns).await,
        }
    }

    /// Redis's decision, or the failure policy's. `local_ns` is the deny
    /// cache's time, read before sending.
    async fn remote(&self, key: &[u8], op: Op, at: At, local_ns: u64) -> Result<Decision> {
        let redis_key = self.redis_key(key);
        let decided = self.guard.run(&[(&redis_key, &self.quota)], op, at).await;
        self.conclude(
            key,
            op,
            local_ns,
            decided.and_then(|decisions| decisions.first().copied()),
        )
    }

    /// The bucket's Redis key: the prefix, then `key`.
    fn redis_key(&self, key: &[u8]) -> Vec<u8> {
        let mut redis_key = Vec::with_capacity(self.prefix.len() + key.len());
        redis_key.extend_from_slice(&self.prefix);
        redis_key.extend_from_slice(key);
        redis_key
    }

    /// The answer to `op` for `key` once Redis `decided` (`None`: it gave
    /// no decision, and the failure policy answers), the deny cache told.
    fn conclude(
        &self,
        key: &[u8],
        op: Op,
        local_ns: u64,
        decided: Option<Decision>,
    ) -> Result<Decision> {
        let Some(decision) = decided else {
            let (decision, _) = self
                .guard
                .degraded(0, &self.quota, &[key], op, Some(local_ns))?;
            return Ok(decision);
        };
        if let Some(cache) = &self.cache {
            match op {
                Op::Check(_) | Op::Lease(_) => cache.record(key, &self.quota, &decision, local_ns),
                Op::Refund(_) => cache.forget(key),
            }
        }
        Ok(decision)
    }

    /// Begins `op` for `key` on a connection the caller drives (`wire.rs`):
    /// the deny cache's or the failure policy's answer when no call is to
    /// be sent (a cached denial, the breaker open), else the script call
    /// to send and what [`finish`](Self::finish) needs of it.
    #[cfg(feature = "capi")]
    pub(crate) fn start(&self, key: &[u8], op: Op) -> Result<Started> {
        let local_ns = self.clock.now_ns();
        if let Some(denial) = self.cached(key, op, local_ns)? {
            return Ok(Started::Answered(denial));
        }
        let redis_key = self.redis_key(key);
        let Some(attempt) = self.guard.begin(Some(&redis_key)) else {
            return self
                .conclude(key, op, local_ns, None)
                .map(Started::Answered);
        };
        Ok(Started::Sent {
            call: script::call(&[(&redis_key, &self.quota)], op, None),
            deadline: self.guard.deadline,
            sent: Sent { local_ns, attempt },
        })
    }

    /// The answer to a call [`start`](Self::start) sent, from its `reply`.
    #[cfg(feature = "capi")]
    pub(crate) fn finish(
        &self,
        key: &[u8],
        op: Op,
        sent: Sent,
        reply: std::result::Result<redis::Value, Failure>,
    ) -> Result<Decision> {
        let figures = reply.and_then(|value| {
            <Vec<u64> as redis::FromRedisValue>::from_redis_value(value).map_err(|_| Failure::Redis)
        });
        let decided = self.guard.end(sent.attempt, figures).and_then(|figures| {
            script::decisions(&figures, &[(key, &self.quota)])
                .first()
                .copied()
        });
        self.conclude(key, op, sent.local_ns, decided)
    }
}

/// How [`RedisLimiter::start`] began a call.
#[cfg(feature = "capi")]
pub(crate) enum Started {
    /// Answered with no call sent.
    Answered(Decision),
    /// `call` is to be sent, and its reply awaited for at most `deadline`.
    Sent {
        call: Call,
        deadline: std::time::Duration,
        sent: Sent,
    },
}

/// What [`RedisLimiter::finish`] needs of a call sent.
#[cfg(feature = "capi")]
pub(crate) struct Sent {
    /// The deny cache's time, read before sending.
    local_ns: u64,
    attempt: Attempt,
}
